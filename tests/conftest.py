"""Shared helpers for the check, engine and CLI tests.

* :func:`make_rule` builds a real :class:`dq.engine.suite.Rule` through the suite loader, from a YAML
  suite written to a temporary file, so every test also exercises validation.
* :func:`run` evaluates rules on a tiny in-memory table and returns results by rule id.
* :func:`gb11643` computes a valid 18-digit resident ID number.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from dq.engine.evaluate import evaluate_frame
from dq.engine.results import RuleResult
from dq.engine.suite import Rule, load_suites
from dq.io.catalogue import load_catalogue
from dq.io.sources import coerce_frame

CATALOGUE = load_catalogue()

# A fixed audit moment: every test that depends on "now" passes it explicitly.
NOW = dt.datetime(2020, 10, 15, 12, 0, 0)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def gb11643(first17: str) -> str:
    """Append the GB 11643-1999 check character to 17 digits."""
    assert len(first17) == 17 and first17.isdigit()
    s = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[s % 11]


def id18(birth: str = "19900101", area: str = "320106", seq: str = "123") -> str:
    """A valid 18-digit ID: area, birth date YYYYMMDD, 3-digit sequence (last one odd = male)."""
    return gb11643(area + birth + seq)


def wrong_check_char(valid: str) -> str:
    """The same 17 digits with a different (wrong) check character."""
    chars = "10X98765432"
    return valid[:17] + chars[(chars.index(valid[17]) + 1) % 11]


def suite_yaml(
    rules: Sequence[Mapping[str, Any]],
    table: str = "patient_index",
    suite: str = "test.suite",
    **extra: Any,
) -> str:
    doc = {"suite": suite, "title": {"zh": "测试", "en": "Test"}, "table": table, **extra}
    doc["rules"] = list(rules)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def rule_dict(
    check: str,
    params: Mapping[str, Any] | None = None,
    *,
    id: str = "R-001",
    when: str | None = None,
    severity: str | None = None,
    threshold: Mapping[str, Any] | None = None,
    lookup: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    d: dict[str, Any] = {"id": id, "title": {"zh": id, "en": id}, "check": check}
    if params is not None:
        d["params"] = dict(params)
    for key, value in (("when", when), ("severity", severity), ("threshold", threshold), ("lookup", lookup)):
        if value is not None:
            d[key] = value
    d.update(extra)
    return d


def make_rule(
    check: str,
    params: Mapping[str, Any] | None = None,
    when: str | None = None,
    *,
    table: str = "patient_index",
    severity: str | None = None,
    threshold: Mapping[str, Any] | None = None,
    id: str = "R-001",
    lookup: Mapping[str, Any] | None = None,
    tmp_path: Path | None = None,
) -> Rule:
    """One rule, built by the real loader from a YAML suite file."""
    raw = rule_dict(check, params, id=id, when=when, severity=severity, threshold=threshold, lookup=lookup)
    with tempfile.TemporaryDirectory(dir=tmp_path) as d:
        f = Path(d) / "suite.yaml"
        f.write_text(suite_yaml([raw], table=table, suite=f"test.{id}"), encoding="utf-8")
        (suite,) = load_suites([f], catalogue=CATALOGUE)
    (rule,) = suite.rules
    return rule


def frame(
    data: Mapping[str, Iterable[Any]] | pl.DataFrame | pl.LazyFrame,
    table: str | None = None,
    *,
    schema: Mapping[str, pl.DataType] | None = None,
    raw: bool = False,
) -> pl.LazyFrame:
    """A LazyFrame from a dict of columns.

    Columns take the catalogue's type for ``table`` unless ``schema`` overrides it. With
    ``raw=True`` every column is text and the reader's coercion (``dq.io.sources.coerce_frame``) types it,
    as when a CSV is read.
    """
    if isinstance(data, pl.LazyFrame):
        return data
    if isinstance(data, pl.DataFrame):
        return data.lazy()
    spec = CATALOGUE.table(table) if table else None
    schema = dict(schema or {})
    cols = []
    for name, values in data.items():
        values = list(values)
        if raw:
            dtype: pl.DataType | None = pl.String()
        elif name in schema:
            dtype = schema[name]
        elif spec is not None and spec.column(name) is not None:
            dtype = spec.column(name).dtype  # type: ignore[union-attr]
        else:
            dtype = None
        cols.append(pl.Series(name, values, dtype=dtype))
    lf = pl.DataFrame(cols).lazy()
    return coerce_frame("test frame", lf, spec) if raw else lf


def run(
    data: Mapping[str, Iterable[Any]] | pl.DataFrame | pl.LazyFrame,
    rules: Rule | Sequence[Rule],
    table: str | None = None,
    *,
    schema: Mapping[str, pl.DataType] | None = None,
    raw: bool = False,
    tables: Mapping[str, Any] | None = None,
    now: dt.datetime | None = NOW,
    period: str | None = None,
    samples: int = 5,
) -> dict[str, RuleResult]:
    """Evaluate ``rules`` on one in-memory table; results by rule id."""
    rules = [rules] if isinstance(rules, Rule) else list(rules)
    table = table or rules[0].table
    others = {name: frame(d, name) for name, d in (tables or {}).items()}
    _, results = evaluate_frame(
        frame(data, table, schema=schema, raw=raw),
        rules,
        table,
        catalogue=CATALOGUE,
        tables=others,
        period=period,
        now=now,
        samples=samples,
    )
    return {r.rule: r for r in results}


def run_one(data, rule: Rule, **kw: Any) -> RuleResult:
    return run(data, rule, **kw)[rule.id]


def outcome(r: RuleResult) -> tuple[str, int, int]:
    """(status, evaluated, failed): what the data-driven tables assert."""
    return (r.status, r.evaluated, r.failed)


@dataclass(frozen=True)
class Case:
    """One data-driven check case: input columns, the rule, the expected outcome."""

    check: str
    params: Mapping[str, Any]
    data: Mapping[str, Any]
    expected: tuple[str, int, int]  # (status, evaluated, failed)
    table: str = "patient_index"
    when: str | None = None
    severity: str | None = None
    threshold: Mapping[str, Any] | None = None
    message: str | None = None  # a substring the result message must contain
    kw: Mapping[str, Any] = field(default_factory=dict)  # passed on to run()


def case(id: str, check: str, params: Mapping[str, Any], data: Mapping[str, Any], expected, **kw: Any):
    """A ``pytest.param`` wrapping a :class:`Case`; unknown keywords go to :func:`run`."""
    own = {k: kw.pop(k) for k in ("table", "when", "severity", "threshold", "message") if k in kw}
    return pytest.param(Case(check, params, data, tuple(expected), kw=kw, **own), id=id)


def check_case(c: Case) -> RuleResult:
    rule = make_rule(c.check, c.params, c.when, table=c.table, severity=c.severity, threshold=c.threshold)
    r = run_one(c.data, rule, **c.kw)
    assert outcome(r) == c.expected, r.message
    if c.message is not None:
        assert c.message in r.message
    return r


def checks_covered(cases: Iterable[Any]) -> set[str]:
    return {p.values[0].check for p in cases}
