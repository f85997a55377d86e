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

import json
from pathlib import Path
from typing import Any

from dq.catalogue import Catalogue, load_catalogue
from dq.checks import REGISTRY
from dq.checks.base import GXContext, NotExported
from dq.suite import Rule, Suite

__all__ = ["NotExported", "export_suites", "rule_expectation", "to_gx_suite"]

# dq severity -> GX FailureSeverity (critical | warning | info).
GX_SEVERITY = {"critical": "critical", "error": "critical", "warning": "warning"}
# Table-level expectations: no ``mostly`` (every other exported expectation accepts it).
NO_MOSTLY = {"expect_table_row_count_to_be_between"}


NOTES = [
    "dq treats empty and whitespace-only strings as missing: convert them to null before"
    " validating with GX, or GX's not-null checks find fewer failures and its value checks more.",
    "GX has no max_count threshold: dq_threshold in each expectation's meta keeps it.",
    "Regexes are searched in both tools; Python's $ also matches before a final newline.",
]


def rule_expectation(rule: Rule, catalogue: Catalogue | None = None) -> tuple[str, dict[str, Any]]:
    """(GX expectation type, kwargs) for one rule, or :class:`NotExported` saying why not.

    The mapping of each check is its :attr:`CheckDef.gx <dq.checks.CheckDef>`; what no check
    can carry over (a ``when`` condition, a ``lookup``) is refused here.
    """
    cat = catalogue or load_catalogue()
    if rule.when:
        raise NotExported("rule with a 'when' condition")
    if rule.lookup is not None:
        raise NotExported("rule with a lookup")
    mapping = REGISTRY[rule.check].gx
    if mapping is None:
        raise NotExported(f"check '{rule.check}' has no GX equivalent")
    return mapping.export(rule.params, GXContext(cat, cat.table(rule.table)))


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
