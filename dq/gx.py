"""Export dq suites as Great Expectations (GX 1.x) expectation suites: ``dq gx``.

:func:`to_gx_suite` turns a :class:`~dq.suite.Suite` into the JSON-able dict of a GX 1.x
``ExpectationSuite`` (``gx.ExpectationSuite(**d)`` loads it). Each exported expectation carries
the dq rule in ``meta`` (``dq_rule``, ``dq_check``, ``dq_severity``, thresholds); a rule's
``threshold.max_fraction`` becomes ``mostly = 1 - max_fraction`` where GX supports ``mostly``.
Rules without a faithful equivalent are listed, with the reason, in ``meta.dq_not_exported``.

=========================  ===================================================================
dq check                   GX expectation
=========================  ===================================================================
not_null                   expect_column_values_to_not_be_null
in_set (values/code_set)   expect_column_values_to_be_in_set (code sets resolved)
regex, icd10, icd9cm3      expect_column_values_to_match_regex (the check's pattern)
length                     expect_column_value_lengths_to_be_between
between                    expect_column_values_to_be_between (strict_min/max)
unique                     expect_column_values_to_be_unique /
                           expect_compound_columns_to_be_unique (ignore_row_if=any_value_is_missing)
compare column OP column   expect_column_pair_values_a_to_be_greater_than_b (>, >=; < and <= swap
                           the columns) / expect_column_pair_values_to_be_equal (==), with
                           ignore_row_if=either_value_is_missing
compare column OP value    expect_column_values_to_be_between (<, <=, >, >=) /
                           expect_column_values_to_be_in_set (==) / ..._not_be_in_set (!=)
row_count                  expect_table_row_count_to_be_between
=========================  ===================================================================

Not exported: rules with a ``when`` condition or a ``lookup`` (GX's row conditions use another
language), a ``compare`` with a tolerance or an SQL expression, and checks without a GX
counterpart (ID numbers, foreign keys, totals, group counts, timeliness, ...).

Semantic differences the reader of an exported suite should know (see tests/test_gx_parity.py):
dq counts blank strings as missing (GX does not: convert them to null before validating); date
and datetime bounds are written as ISO datetimes (a date as its midnight), which GX parses into
``datetime`` bounds that compare with pandas datetime columns (a bare ISO *date* would become a
``date`` that pandas refuses to compare); GX regexes are Python's (``$`` also matches before a
final newline). GX has no ``max_count``; it is kept in ``meta`` only.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from dq.catalogue import Catalogue, load_catalogue
from dq.checks.conformance import ICD9CM3_PATTERN, ICD10_PATTERN
from dq.suite import Rule, Suite

__all__ = ["export_suites", "rule_expectation", "to_gx_suite"]

# dq severity -> GX FailureSeverity (critical | warning | info).
GX_SEVERITY = {"critical": "critical", "error": "critical", "warning": "warning"}
PATTERNS = {"icd10": ICD10_PATTERN, "icd9cm3": ICD9CM3_PATTERN}
# Table-level expectations: no ``mostly`` (every other exported expectation accepts it).
NO_MOSTLY = {"expect_table_row_count_to_be_between"}


NOTES = [
    "dq treats empty and whitespace-only strings as missing: convert them to null before"
    " validating with GX, or GX's not-null checks find fewer failures and its value checks more.",
    "GX has no max_count threshold: dq_threshold in each expectation's meta keeps it.",
    "Regexes are searched in both tools; Python's $ also matches before a final newline.",
]


class NotExported(Exception):
    """The rule has no faithful GX equivalent; the message says why."""


def _jsonable(v: Any) -> Any:
    """JSON value; dates become midnight datetimes, which GX parses into ``datetime`` bounds."""
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day).isoformat(sep=" ")
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def _bound(v: Any, ctype: str | None) -> Any:
    """A bound for a column of catalogue type ``ctype``; ISO text on a date column is a date."""
    if isinstance(v, str) and ctype in ("date", "datetime"):
        try:
            v = dt.datetime.fromisoformat(v)
        except ValueError:
            return v
    return _jsonable(v)


def _column_type(rule: Rule, column: str, cat: Catalogue) -> str | None:
    spec = cat.table(rule.table)
    col = spec.column(column) if spec else None
    return col.type if col else None


def _is_column(side: Any, rule: Rule, cat: Catalogue) -> bool:
    return isinstance(side, str) and _column_type(rule, side, cat) is not None


def _compare(rule: Rule, cat: Catalogue) -> tuple[str, dict[str, Any]]:
    p = rule.params
    left, op, right = p["left"], p["op"], p["right"]
    if p.get("tolerance"):
        raise NotExported("compare with a tolerance")
    if not _is_column(left, rule, cat):
        raise NotExported("compare whose left side is an expression")
    if _is_column(right, rule, cat):
        pair = {"ignore_row_if": "either_value_is_missing"}
        if op in (">", ">="):
            return "expect_column_pair_values_a_to_be_greater_than_b", {
                "column_A": left, "column_B": right, "or_equal": op == ">=", **pair,
            }  # fmt: skip
        if op in ("<", "<="):
            return "expect_column_pair_values_a_to_be_greater_than_b", {
                "column_A": right, "column_B": left, "or_equal": op == "<=", **pair,
            }  # fmt: skip
        if op == "==":
            return "expect_column_pair_values_to_be_equal", {"column_A": left, "column_B": right, **pair}
        raise NotExported(f"compare of two columns with {op}")
    if isinstance(right, str):
        # Not a column of the table: dq parses it as an SQL expression.
        raise NotExported("compare whose right side is an expression")
    if isinstance(right, bool):
        raise NotExported("compare with a boolean")
    value = _jsonable(right)
    temporal = isinstance(right, dt.date) or _column_type(rule, left, cat) in ("date", "datetime")
    if op in (">", ">="):
        return "expect_column_values_to_be_between", {
            "column": left, "min_value": value, "strict_min": op == ">",
        }  # fmt: skip
    if op in ("<", "<="):
        return "expect_column_values_to_be_between", {
            "column": left, "max_value": value, "strict_max": op == "<",
        }  # fmt: skip
    if op == "==" and temporal:
        return "expect_column_values_to_be_between", {"column": left, "min_value": value, "max_value": value}
    if op == "==":
        return "expect_column_values_to_be_in_set", {"column": left, "value_set": [value]}
    if temporal:
        raise NotExported("compare != with a date (GX sets do not match dates)")
    return "expect_column_values_to_not_be_in_set", {"column": left, "value_set": [value]}


def rule_expectation(rule: Rule, catalogue: Catalogue | None = None) -> tuple[str, dict[str, Any]]:
    """(GX expectation type, kwargs) for one rule, or :class:`NotExported`."""
    cat = catalogue or load_catalogue()
    if rule.when:
        raise NotExported("rule with a 'when' condition")
    if rule.lookup is not None:
        raise NotExported("rule with a lookup")
    p, check = rule.params, rule.check
    if check == "not_null":
        return "expect_column_values_to_not_be_null", {"column": p["column"]}
    if check == "in_set":
        values = p.get("values")
        if values is None:
            values = list(cat.code_sets.get(p.get("code_set") or "", {}))
            if not values:
                raise NotExported(f"unknown code set {p.get('code_set')!r}")
        ctype = _column_type(rule, p["column"], cat)
        if ctype in ("date", "datetime"):
            raise NotExported("in_set on a date column (GX sets do not match dates)")
        if ctype in (None, "str"):
            values = [str(v) for v in values]
        return "expect_column_values_to_be_in_set", {"column": p["column"], "value_set": _jsonable(values)}
    if check == "regex" or check in PATTERNS:
        pattern = p["pattern"] if check == "regex" else PATTERNS[check]
        return "expect_column_values_to_match_regex", {"column": p["column"], "regex": pattern}
    if check == "length":
        if p.get("min") is None and p.get("max") is None:
            raise NotExported("length without bounds")
        kw = {"column": p["column"], "min_value": p.get("min"), "max_value": p.get("max")}
        return "expect_column_value_lengths_to_be_between", kw
    if check == "between":
        if p.get("min") is None and p.get("max") is None:
            raise NotExported("between without bounds")
        ctype = _column_type(rule, p["column"], cat)
        return "expect_column_values_to_be_between", {
            "column": p["column"],
            "min_value": _bound(p.get("min"), ctype),
            "max_value": _bound(p.get("max"), ctype),
            "strict_min": not p.get("min_inclusive", True),
            "strict_max": not p.get("max_inclusive", True),
        }
    if check == "unique":
        cols = list(p["columns"])
        if len(cols) == 1:
            return "expect_column_values_to_be_unique", {"column": cols[0]}
        return "expect_compound_columns_to_be_unique", {
            "column_list": cols,
            "ignore_row_if": "any_value_is_missing",
        }
    if check == "compare":
        return _compare(rule, cat)
    if check == "row_count":
        if p.get("min") is None and p.get("max") is None:
            raise NotExported("row_count without bounds")
        return "expect_table_row_count_to_be_between", {"min_value": p.get("min"), "max_value": p.get("max")}
    raise NotExported(f"check '{check}' has no GX equivalent")


def to_gx_suite(suite: Suite, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """The rules of ``suite`` that have a GX equivalent, as a GX 1.x ExpectationSuite dict."""
    cat = catalogue or load_catalogue()
    expectations: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for rule in suite.rules:
        try:
            kind, kwargs = rule_expectation(rule, cat)
        except NotExported as exc:
            skipped.append({"rule": rule.id, "check": rule.check, "reason": str(exc)})
            continue
        frac = rule.threshold.max_fraction
        if frac and kind not in NO_MOSTLY:
            kwargs["mostly"] = round(1 - frac, 12)
        meta: dict[str, Any] = {
            "dq_rule": rule.id,
            "dq_check": rule.check,
            "dq_severity": rule.severity,
            "dq_dimension": rule.dimension,
            "dq_threshold": rule.threshold.to_dict(),
        }
        if rule.title_en or rule.title_zh:
            meta["dq_title"] = {"zh": rule.title_zh, "en": rule.title_en}
        expectations.append(
            {
                "type": kind,
                "kwargs": {k: v for k, v in kwargs.items() if v is not None},
                "meta": meta,
                "severity": GX_SEVERITY[rule.severity],
            }
        )
    return {
        "name": suite.id,
        "expectations": expectations,
        "meta": {
            "dq_suite": suite.id,
            "dq_table": suite.table,
            "dq_kind": suite.kind,
            "dq_title": {"zh": suite.title_zh, "en": suite.title_en},
            "dq_source": suite.source,
            "dq_not_exported": skipped,
            "dq_notes": NOTES,
        },
    }


def export_suites(paths=None, out: str | Path | None = None) -> list[dict[str, Any]]:
    """GX documents for the suites at ``paths`` (default: the shipped suites).

    With ``out``, also write one ``<suite id>.json`` per suite into that folder (created if
    needed) and return the documents; each document's ``meta.dq_path`` then names its file.
    """
    from dq.suite import load_suites

    cat = load_catalogue()
    docs = [to_gx_suite(s, cat) for s in load_suites(paths or None, catalogue=cat)]
    if out is not None:
        from dq.outputs import ensure_dir

        folder = ensure_dir(out)
        for d in docs:
            path = folder / f"{d['name']}.json"
            path.write_text(json.dumps(d, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            d["meta"]["dq_path"] = str(path)
    return docs
