"""Great Expectations 1.x suites turned into dq suites: ``dq gx import``.

:func:`import_suite` reads the JSON of a GX 1.x ``ExpectationSuite`` (as ``suite.to_json_dict()``
or ``dq gx export`` writes it) and writes each expectation dq can express as a rule of a dq suite
for one catalogue table. Every other expectation is listed with the reason -- in
:attr:`ImportedSuite.not_imported`, in a comment at the top of the YAML, and by the CLI -- never
dropped silently. Each produced rule is validated by the suite loader, so the YAML loads with
``dq suites validate``.

What is imported (GX ``mostly`` becomes ``threshold.max_fraction = 1 - mostly``):

=============================================  ===================================================
GX expectation                                 dq rule
=============================================  ===================================================
expect_column_values_to_not_be_null            not_null (``<column>__raw`` reads as ``<column>``)
expect_column_values_to_be_in_set              in_set (values)
expect_column_values_to_not_be_in_set          compare != (one value) / expression NOT IN (...)
expect_column_values_to_match_regex            regex
expect_column_value_lengths_to_be_between      length
expect_column_values_to_be_between             between (strict_min/max: not inclusive)
expect_column_values_to_be_unique              unique
expect_compound_columns_to_be_unique           unique (ignore_row_if=any_value_is_missing only)
expect_column_pair_values_a_to_be_greater_     compare A > B (or_equal: >=) (ignore_row_if=
than_b                                         either_value_is_missing only)
expect_column_pair_values_to_be_equal          compare A == B (same condition)
expect_table_row_count_to_be_between / _equal  row_count
expect_column_to_exist                         columns_present
=============================================  ===================================================

Not imported: any expectation with a ``row_condition`` (GX's condition languages are not dq's
SQL), an argument dq cannot honour (e.g. ``ignore_row_if`` values other than the ones above,
``column_index``), aggregate expectations (means, medians, distributions, ...) and every other
type. dq metadata written by ``dq gx export`` (``meta.dq_rule``, titles, severity, dimension,
``max_count``) is read back, so export then import gives the same rules.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dq.engine.results import SEVERITIES
from dq.errors import InputError, UsageError
from dq.io.catalogue import Catalogue, load_catalogue
from dq.io.outputs import atomic_write_text

__all__ = ["ImportedSuite", "import_suite"]

# GX severity -> dq severity when the expectation carries no dq_severity.
DQ_SEVERITY = {"critical": "error", "warning": "warning", "info": "warning"}
# Arguments that change how GX reports, not what it counts.
REPORTING = {"result_format", "catch_exceptions", "include_config", "meta", "notes", "description"}
KINDS = ("hospital", "district", "published", "any")


class NotImported(Exception):
    """This expectation has no faithful dq rule; the message says why."""


Converted = tuple[str, dict[str, Any]]


def _column(kw: Mapping[str, Any]) -> str:
    return str(kw["column"])


def _not_null(kw: Mapping[str, Any]) -> Converted:
    col = _column(kw)
    # dq gx export checks typed columns on their uploaded text, <column>__raw.
    return "not_null", {"column": col.removesuffix("__raw")}


def _in_set(kw: Mapping[str, Any]) -> Converted:
    values = list(kw.get("value_set") or [])
    if not values:
        raise NotImported("empty value_set")
    return "in_set", {"column": _column(kw), "values": values}


def _sql_literal(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        raise NotImported(f"value {v!r} in value_set")
    if isinstance(v, int | float):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def _not_in_set(kw: Mapping[str, Any]) -> Converted:
    values = list(kw.get("value_set") or [])
    if not values:
        raise NotImported("empty value_set")
    col = _column(kw)
    if len(values) == 1 and not isinstance(values[0], bool):
        return "compare", {"left": col, "op": "!=", "right": values[0]}
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", col):
        raise NotImported(f"column {col!r} cannot be named in an SQL expression")
    return "expression", {"expr": f"{col} NOT IN ({', '.join(_sql_literal(v) for v in values)})"}


def _regex(kw: Mapping[str, Any]) -> Converted:
    return "regex", {"column": _column(kw), "pattern": str(kw["regex"])}


def _bounds(kw: Mapping[str, Any]) -> dict[str, Any]:
    lo, hi = kw.get("min_value"), kw.get("max_value")
    if lo is None and hi is None:
        raise NotImported("no min_value or max_value")
    if isinstance(lo, Mapping) or isinstance(hi, Mapping):
        raise NotImported("a bound given as an evaluation parameter")
    out = {"min": lo, "max": hi}
    return {k: v for k, v in out.items() if v is not None}


def _lengths(kw: Mapping[str, Any]) -> Converted:
    if kw.get("strict_min") or kw.get("strict_max"):
        raise NotImported("strict length bounds")
    return "length", {"column": _column(kw), **_bounds(kw)}


def _between(kw: Mapping[str, Any]) -> Converted:
    params = {"column": _column(kw), **_bounds(kw)}
    if kw.get("strict_min"):
        params["min_inclusive"] = False
    if kw.get("strict_max"):
        params["max_inclusive"] = False
    return "between", params


def _unique(kw: Mapping[str, Any]) -> Converted:
    return "unique", {"columns": [_column(kw)]}


def _compound_unique(kw: Mapping[str, Any]) -> Converted:
    if kw.get("ignore_row_if", "all_values_are_missing") != "any_value_is_missing":
        raise NotImported(
            "dq leaves out rows where any key column is missing (ignore_row_if=any_value_is_missing)"
        )
    return "unique", {"columns": [str(c) for c in kw["column_list"]]}


def _pair_rows(kw: Mapping[str, Any]) -> None:
    if kw.get("ignore_row_if", "both_values_are_missing") != "either_value_is_missing":
        raise NotImported(
            "dq leaves out rows where either value is missing (ignore_row_if=either_value_is_missing)"
        )


def _greater(kw: Mapping[str, Any]) -> Converted:
    _pair_rows(kw)
    op = ">=" if kw.get("or_equal") else ">"
    return "compare", {"left": str(kw["column_A"]), "op": op, "right": str(kw["column_B"])}


def _pair_equal(kw: Mapping[str, Any]) -> Converted:
    _pair_rows(kw)
    return "compare", {"left": str(kw["column_A"]), "op": "==", "right": str(kw["column_B"])}


def _row_count(kw: Mapping[str, Any]) -> Converted:
    return "row_count", _bounds(kw)


def _row_count_equal(kw: Mapping[str, Any]) -> Converted:
    return "row_count", {"min": kw["value"], "max": kw["value"]}


def _column_exists(kw: Mapping[str, Any]) -> Converted:
    return "columns_present", {"columns": [_column(kw)]}


# GX type -> (the arguments dq honours besides the reporting ones, converter).
IMPORTERS: dict[str, tuple[frozenset[str], Callable[[Mapping[str, Any]], Converted]]] = {
    "expect_column_values_to_not_be_null": (frozenset({"column", "mostly"}), _not_null),
    "expect_column_values_to_be_in_set": (frozenset({"column", "value_set", "mostly"}), _in_set),
    "expect_column_values_to_not_be_in_set": (frozenset({"column", "value_set", "mostly"}), _not_in_set),
    "expect_column_values_to_match_regex": (frozenset({"column", "regex", "mostly"}), _regex),
    "expect_column_value_lengths_to_be_between": (
        frozenset({"column", "min_value", "max_value", "strict_min", "strict_max", "mostly"}),
        _lengths,
    ),
    "expect_column_values_to_be_between": (
        frozenset({"column", "min_value", "max_value", "strict_min", "strict_max", "mostly"}),
        _between,
    ),
    "expect_column_values_to_be_unique": (frozenset({"column", "mostly"}), _unique),
    "expect_compound_columns_to_be_unique": (
        frozenset({"column_list", "ignore_row_if", "mostly"}),
        _compound_unique,
    ),
    "expect_column_pair_values_a_to_be_greater_than_b": (
        frozenset({"column_A", "column_B", "or_equal", "ignore_row_if", "mostly"}),
        _greater,
    ),
    "expect_column_pair_values_to_be_equal": (
        frozenset({"column_A", "column_B", "ignore_row_if", "mostly"}),
        _pair_equal,
    ),
    "expect_table_row_count_to_be_between": (frozenset({"min_value", "max_value"}), _row_count),
    "expect_table_row_count_to_equal": (frozenset({"value"}), _row_count_equal),
    "expect_column_to_exist": (frozenset({"column"}), _column_exists),
}


def _convert(e: Mapping[str, Any]) -> Converted:
    etype = e.get("type") or e.get("expectation_type")
    if not isinstance(etype, str):
        raise NotImported("no expectation type")
    if etype not in IMPORTERS:
        raise NotImported("no dq check expresses this expectation")
    allowed, convert = IMPORTERS[etype]
    kw = dict(e.get("kwargs") or {})
    cond = kw.pop("row_condition", None)
    kw.pop("condition_parser", None)
    if cond:
        raise NotImported("row_condition (GX's condition language is not dq's SQL: add a 'when' by hand)")
    extra = sorted(set(kw) - allowed - REPORTING)
    if extra:
        raise NotImported(f"argument(s) dq cannot honour: {', '.join(extra)}")
    mostly = kw.get("mostly")
    if mostly is not None and (isinstance(mostly, bool) or not isinstance(mostly, int | float)):
        raise NotImported(f"mostly {mostly!r} is not a number")
    try:
        return convert(kw)
    except KeyError as exc:
        raise NotImported(f"missing argument {exc}") from exc


def _bilingual(raw: Any, fallback: str) -> dict[str, str]:
    if isinstance(raw, Mapping):
        zh, en = str(raw.get("zh") or ""), str(raw.get("en") or "")
        if zh or en:
            return {"zh": zh or en, "en": en or zh}
    if isinstance(raw, str) and raw.strip():
        return {"zh": raw, "en": raw}
    return {"zh": fallback, "en": fallback}


def _describe(e: Mapping[str, Any]) -> str:
    kw = e.get("kwargs") or {}
    what = kw.get("column") or kw.get("column_list") or [kw.get("column_A"), kw.get("column_B")]
    if isinstance(what, list):
        what = ", ".join(str(x) for x in what if x)
    return f"{e.get('type') or e.get('expectation_type')}({what or ''})"


@dataclass(frozen=True)
class ImportedSuite:
    """A dq suite made from a GX suite, and the expectations left out (with the reason)."""

    suite: dict[str, Any]
    not_imported: tuple[dict[str, Any], ...]
    source: str = ""

    @property
    def rules(self) -> list[dict[str, Any]]:
        return list(self.suite["rules"])

    def to_yaml(self) -> str:
        head = [f"# Imported from the Great Expectations suite {self.source or self.suite['suite']}"]
        head.append(f"# by `dq gx import`: {len(self.rules)} expectation(s) imported,")
        head.append(f"# {len(self.not_imported)} not imported" + (":" if self.not_imported else "."))
        for n in self.not_imported:
            head.append(f"#   - #{n['index']} {n['expectation']}: {n['reason']}")
        body = yaml.safe_dump(self.suite, allow_unicode=True, sort_keys=False, width=100)
        return "\n".join(head) + "\n" + body

    def write(self, path: str | Path) -> Path:
        """Write the suite as YAML (atomically); the file loads with ``dq suites validate``."""
        if not self.rules:
            raise UsageError(
                f"{self.source or 'the GX suite'}: none of its {len(self.not_imported)} expectation(s)"
                " can be expressed in dq; nothing written"
            )
        return atomic_write_text(path, self.to_yaml())


def _read(source: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(source, Mapping):
        return dict(source), str(source.get("name") or "")
    path = Path(source)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc}); give the JSON of a GX 1.x suite") from exc
    if isinstance(doc, list):
        raise InputError(f"{path}: holds {len(doc)} suites; import one suite per file")
    if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
        raise InputError(f"{path}: not a GX suite (expected an object with a list of 'expectations')")
    return doc, str(path)


def import_suite(
    source: str | Path | Mapping[str, Any],
    *,
    table: str | None = None,
    suite_id: str | None = None,
    kind: str | None = None,
    id_prefix: str = "GX",
    catalogue: Catalogue | None = None,
) -> ImportedSuite:
    """Turn a GX 1.x suite (a JSON file or its dict) into a dq suite for one catalogue table.

    ``table`` defaults to the suite's ``meta.dq_table`` (set by ``dq gx export``); a suite from
    elsewhere needs it. Rule ids come from ``meta.dq_rule`` or are ``<id_prefix>-001``, ... .
    Raises :class:`~dq.errors.InputError` for a file that is not a GX suite and
    :class:`~dq.errors.UsageError` for an unknown table or kind.
    """
    from dq.engine.suite import _Loader  # the loader's own per-rule validation

    cat = catalogue or load_catalogue()
    doc, where = _read(source)
    meta = doc.get("meta") if isinstance(doc.get("meta"), Mapping) else {}
    table = table or meta.get("dq_table")
    if not table:
        raise UsageError(f"{where or 'suite'}: name the catalogue table the suite is for (--table)")
    if cat.table(table) is None:
        hint = difflib.get_close_matches(str(table), cat.tables, n=1)
        raise UsageError(f"unknown table {table!r}" + (f"; did you mean '{hint[0]}'?" if hint else ""))
    kind = kind or meta.get("dq_kind") or "any"
    if kind not in KINDS:
        raise UsageError(f"kind {kind!r} is not one of {list(KINDS)}")
    sid = suite_id or meta.get("dq_suite") or doc.get("name") or f"gx.{table}"
    loader = _Loader(cat)
    rules: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    used: set[str] = set()
    for i, e in enumerate(doc["expectations"], start=1):
        if not isinstance(e, Mapping):
            skipped.append({"index": i, "expectation": repr(e)[:60], "reason": "not an expectation"})
            continue
        label = _describe(e)
        emeta = e.get("meta") if isinstance(e.get("meta"), Mapping) else {}
        try:
            check, params = _convert(e)
        except NotImported as exc:
            skipped.append({"index": i, "expectation": label, "reason": str(exc)})
            continue
        rid = emeta.get("dq_rule")
        if not isinstance(rid, str) or not rid or rid in used:
            n = len(rules) + 1
            rid = f"{id_prefix}-{n:03d}"
            while rid in used:
                n += 1
                rid = f"{id_prefix}-{n:03d}"
        rule: dict[str, Any] = {
            "id": rid,
            "title": _bilingual(emeta.get("dq_title") or e.get("description"), label),
        }
        if emeta.get("dq_dimension"):
            rule["dimension"] = emeta["dq_dimension"]
        rule |= {"check": check, "params": params}
        severity = emeta.get("dq_severity")
        if severity not in SEVERITIES:
            severity = DQ_SEVERITY.get(str(e.get("severity") or "critical"), "error")
        rule["severity"] = severity
        threshold: dict[str, Any] = {}
        kept = emeta.get("dq_threshold")
        if isinstance(kept, Mapping) and kept.get("max_count") is not None:
            threshold["max_count"] = kept["max_count"]
        mostly = (e.get("kwargs") or {}).get("mostly")
        if mostly is not None and mostly < 1:
            threshold["max_fraction"] = round(1 - float(mostly), 12)
        elif threshold and isinstance(kept, Mapping) and kept.get("max_fraction") is not None:
            threshold["max_fraction"] = kept["max_fraction"]
        if threshold:
            rule["threshold"] = threshold
        # The loader's own checks (parameters, columns of the table, types) decide.
        before = len(loader.problems)
        loader.rule(rule, where or "<gx suite>", str(sid), table, {}, i)
        problems = loader.problems[before:]
        if problems:
            reason = "; ".join(f"{p.field or 'rule'}: {p.message}" for p in problems)
            skipped.append({"index": i, "expectation": label, "reason": reason})
            continue
        used.add(rid)
        rules.append(rule)
    title = _bilingual(meta.get("dq_title"), f"Imported from GX suite {doc.get('name') or sid}")
    suite = {
        "suite": str(sid),
        "title": title,
        "table": table,
        "kind": kind,
        "description": f"Imported by dq gx import from {Path(where).name if where else 'a GX suite'}"
        + (
            f"; {len(skipped)} expectation(s) not imported: {', '.join(n['expectation'] for n in skipped)}"
            if skipped
            else ""
        ),
        "rules": rules,
    }
    return ImportedSuite(suite, tuple(skipped), where)
