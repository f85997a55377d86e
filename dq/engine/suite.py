"""Rule suites: YAML files under ``rules/`` turned into typed, validated :class:`Rule` plans.

A suite file::

    suite: hospital.outpatient_visit          # unique suite id
    title: {zh: 门急诊就诊记录, en: Outpatient visits}
    table: outpatient_visit                   # a table of the catalogue
    kind: hospital                            # hospital | district | any
    defaults: {severity: error, threshold: {max_fraction: 0}, weight: 1}
    rules:
      - id: OV-001                            # unique across all suites
        title: {zh: 就诊流水号不能为空, en: Visit id present}
        dimension: completeness
        check: not_null
        params: {column: visit_id}
        when: "visit_type = '1'"              # optional SQL condition: rows the rule applies to
        severity: critical                    # warning | error | critical
        threshold: {max_fraction: 0.01, max_count: 10}
        weight: 2
        fix: {zh: ..., en: ...}
        lookup: {table: resident_record, on: {record_id: record_id}, columns: [birth_date]}

Loading checks everything and raises one :class:`~dq.errors.SuiteError` listing every problem,
each naming the file, the rule id and the field.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from dq.engine._plan import MissingColumns, compile_rule
from dq.engine.checks import DIMENSIONS, REGISTRY, Context
from dq.engine.checks.base import PARAM_KINDS, CheckParams, sql
from dq.engine.results import SEVERITIES, Dimension, Severity
from dq.errors import CheckError, InputError, NotApplicable, Problem, SuiteError
from dq.io.catalogue import Catalogue, default_rules_dir, load_catalogue
from dq.io.period import Period
from dq.io.yamlio import LineIndex, line_index, line_of, read_yaml

__all__ = [
    "SEVERITIES",
    "Lookup",
    "Rule",
    "Suite",
    "Threshold",
    "catalogue_entry",
    "default_suite_paths",
    "load_suites",
    "suite_from_data",
]

KINDS = ("hospital", "district", "published", "any")
SUITE_KEYS = {"suite", "title", "table", "kind", "description", "defaults", "rules"}
RULE_KEYS = {
    "id", "title", "dimension", "check", "params", "when", "severity", "threshold", "weight",
    "fix", "lookup", "description",
}  # fmt: skip
DEFAULT_KEYS = {"severity", "threshold", "weight", "dimension"}
NOT_SUITES = {"catalogue.yaml", "scoring.yaml"}


@dataclass(frozen=True)
class Threshold:
    """A rule passes while failed/evaluated <= max_fraction and failed <= max_count."""

    max_fraction: float | None = 0.0
    max_count: int | None = None

    def exceeded(self, failed: int, evaluated: int) -> bool:
        if self.max_count is not None and failed > self.max_count:
            return True
        if self.max_fraction is not None and evaluated and failed / evaluated > self.max_fraction:
            return True
        return False

    def to_dict(self) -> dict[str, Any]:
        return {"max_fraction": self.max_fraction, "max_count": self.max_count}


@dataclass(frozen=True)
class Lookup:
    """Columns of another table joined in by key; they appear as ``<table>__<column>``."""

    table: str
    on: tuple[tuple[str, str], ...]
    columns: tuple[str, ...]

    def alias(self, column: str) -> str:
        return f"{self.table}__{column}"


@dataclass(frozen=True)
class Rule:
    """The plan of one check: what to evaluate, on which rows, and how to judge it.

    ``params`` are the rule's parameters typed, an instance of the check's
    :class:`~dq.engine.checks.base.CheckParams` class (``rule.params.column``), defaults filled
    in; ``params.as_mapping()`` gives them as YAML writes them."""

    id: str
    suite: str
    table: str
    check: str
    params: CheckParams
    dimension: Dimension
    severity: Severity
    threshold: Threshold
    weight: float
    title_zh: str
    title_en: str
    fix_zh: str = ""
    fix_en: str = ""
    when: str | None = None
    lookup: Lookup | None = None
    source: str = ""

    @property
    def columns(self) -> list[str]:
        return REGISTRY[self.check].columns(self.params)

    def title(self, lang: str = "zh") -> str:
        return self.title_zh if lang == "zh" else self.title_en

    def fix(self, lang: str = "zh") -> str:
        return self.fix_zh if lang == "zh" else self.fix_en


@dataclass(frozen=True)
class Suite:
    id: str
    table: str
    kind: str
    title_zh: str
    title_en: str
    rules: tuple[Rule, ...]
    source: str = ""
    description: str = ""

    def applies_to(self, kind: str | None) -> bool:
        return kind is None or self.kind in ("any", kind)


@dataclass
class SuiteLoader:
    catalogue: Catalogue
    problems: list[Problem] = field(default_factory=list)
    _empty: dict[str, pl.LazyFrame] | None = None
    _suite: str | None = None  # the id of the suite whose rules are being read

    def problem(self, file: str, rule: str | None, fld: str | None, msg: str) -> None:
        self.problems.append(Problem(file, rule, fld, msg, self._suite if rule else None))

    # -- helpers -------------------------------------------------------------------------
    def bilingual(self, raw: Any, file: str, rule: str | None, fld: str) -> tuple[str, str]:
        if raw is None:
            return "", ""
        if isinstance(raw, str):
            return raw, raw
        if not isinstance(raw, Mapping) or set(raw) - {"zh", "en"}:
            self.problem(file, rule, fld, "must be text or a mapping with keys zh and en")
            return "", ""
        zh, en = str(raw.get("zh", "")), str(raw.get("en", ""))
        return zh or en, en or zh

    def threshold(self, raw: Any, file: str, rule: str | None) -> Threshold | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping) or set(raw) - {"max_fraction", "max_count"}:
            self.problem(file, rule, "threshold", "must be a mapping of max_fraction and/or max_count")
            return None
        frac, count = raw.get("max_fraction"), raw.get("max_count")
        ok = True
        if frac is not None and (
            isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 <= frac <= 1
        ):
            self.problem(file, rule, "threshold.max_fraction", f"{frac!r} is not a number in [0, 1]")
            ok = False
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            self.problem(file, rule, "threshold.max_count", f"{count!r} is not a whole number >= 0")
            ok = False
        if not ok:
            return None
        if count is not None and "max_fraction" not in raw:
            frac = None
        return Threshold(frac, count)

    def param_value(self, kind: str, value: Any) -> str | None:
        """Return a problem message if ``value`` does not fit the parameter kind."""
        is_num = isinstance(value, int | float) and not isinstance(value, bool)
        checks = {
            "column": isinstance(value, str) and value.strip() != "",
            "columns": isinstance(value, list) and value and all(isinstance(v, str) for v in value),
            "str": isinstance(value, str),
            "strs": isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
            "number": is_num,
            "int": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "values": isinstance(value, list) and len(value) > 0,
            "scalar": is_num or isinstance(value, str | date | datetime),
            "sql": isinstance(value, str) or is_num,
        }
        assert kind in PARAM_KINDS
        if checks[kind]:
            return None
        expected = {
            "column": "a column name",
            "columns": "a non-empty list of column names",
            "str": "text",
            "strs": "text or a list of text",
            "number": "a number",
            "int": "a whole number",
            "bool": "true or false",
            "values": "a non-empty list of values",
            "scalar": "a number, text or date",
            "sql": "an SQL expression",
        }[kind]
        return f"expected {expected}, got {value!r}"

    def empty_tables(self) -> dict[str, pl.LazyFrame]:
        """Empty frames with the catalogue's schema, built once per loader."""
        if self._empty is None:
            self._empty = {
                name: pl.LazyFrame(schema={c.name: c.dtype for c in t.columns})
                for name, t in self.catalogue.tables.items()
            }
        return self._empty

    # -- rules ---------------------------------------------------------------------------
    def rule(
        self, raw: Any, file: str, suite_id: str, table: str, defaults: Mapping[str, Any], n: int
    ) -> Rule | None:
        if not isinstance(raw, Mapping):
            self.problem(file, f"#{n}", None, "a rule must be a mapping")
            return None
        rid = raw.get("id")
        if not isinstance(rid, str) or not rid.strip():
            self.problem(file, f"#{n}", "id", "missing rule id")
            rid = f"#{n}"
        start = len(self.problems)
        for key in sorted(set(raw) - RULE_KEYS):
            hint = difflib.get_close_matches(key, RULE_KEYS, n=1)
            self.problem(file, rid, key, "unknown key" + (f"; did you mean '{hint[0]}'?" if hint else ""))
        check_name = raw.get("check")
        check = REGISTRY.get(check_name) if isinstance(check_name, str) else None
        if check is None:
            hint = difflib.get_close_matches(str(check_name), REGISTRY, n=1)
            self.problem(
                file, rid, "check",
                f"unknown check {check_name!r}" + (f"; did you mean '{hint[0]}'?" if hint else "")
                + " (see `dq checks`)",
            )  # fmt: skip
        params = raw.get("params") or {}
        if not isinstance(params, Mapping):
            self.problem(file, rid, "params", "must be a mapping")
            params = {}
        given: dict[str, Any] = {}
        if check is not None:
            for name in params:
                if check.param(name) is None:
                    hint = difflib.get_close_matches(name, [p.name for p in check.params], n=1)
                    self.problem(
                        file, rid, f"params.{name}",
                        f"check '{check.name}' has no parameter '{name}'"
                        + (f"; did you mean '{hint[0]}'?" if hint else ""),
                    )  # fmt: skip
            for p in check.params:
                if p.name in params and params[p.name] is not None:
                    msg = self.param_value(p.kind, params[p.name])
                    if not msg and p.kind == "sql" and isinstance(params[p.name], str):
                        try:
                            sql(params[p.name])
                        except CheckError as exc:
                            msg = str(exc)
                    if msg:
                        self.problem(file, rid, f"params.{p.name}", msg)
                    elif p.choices and params[p.name] not in p.choices:
                        self.problem(
                            file, rid, f"params.{p.name}",
                            f"{params[p.name]!r} is not one of {list(p.choices)}",
                        )  # fmt: skip
                    given[p.name] = params[p.name]
                elif p.required:
                    self.problem(file, rid, f"params.{p.name}", f"missing required parameter ({p.kind})")
        dimension = raw.get("dimension", defaults.get("dimension") or (check and check.dimension))
        if dimension not in DIMENSIONS:
            self.problem(file, rid, "dimension", f"{dimension!r} is not one of {list(DIMENSIONS)}")
        severity = raw.get("severity", defaults.get("severity", "error"))
        if severity not in SEVERITIES:
            self.problem(file, rid, "severity", f"{severity!r} is not one of {list(SEVERITIES)}")
        threshold = self.threshold(raw.get("threshold"), file, rid)
        if threshold is None and "threshold" not in raw:
            threshold = self.threshold(defaults.get("threshold"), file, rid) or Threshold()
        weight = raw.get("weight", defaults.get("weight", 1))
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            self.problem(file, rid, "weight", f"{weight!r} is not a number >= 0")
        when = raw.get("when")
        if when is not None:
            if not isinstance(when, str):
                self.problem(file, rid, "when", "must be an SQL condition as text")
            else:
                try:
                    sql(when)
                except CheckError as exc:
                    self.problem(file, rid, "when", str(exc))
        lookup = self.lookup(raw.get("lookup"), file, rid)
        title_zh, title_en = self.bilingual(raw.get("title"), file, rid, "title")
        if not title_zh:
            self.problem(file, rid, "title", "missing title (zh and en)")
        fix_zh, fix_en = self.bilingual(raw.get("fix"), file, rid, "fix")
        if len(self.problems) > start or check is None:
            return None
        try:  # the values are validated: the check's parameters, typed, defaults filled in
            typed = check.params_type.of(given)
        except (TypeError, ValueError) as exc:  # pragma: no cover - a check whose type and kind disagree
            self.problem(file, rid, "params", f"check '{check.name}': {exc}")
            return None
        rule = Rule(
            id=rid, suite=suite_id, table=table, check=check.name, params=typed,
            dimension=dimension, severity=severity, threshold=threshold or Threshold(),
            weight=float(weight), title_zh=title_zh, title_en=title_en, fix_zh=fix_zh,
            fix_en=fix_en, when=when, lookup=lookup, source=file,
        )  # fmt: skip
        self.dry_compile(rule)
        return rule

    def lookup(self, raw: Any, file: str, rid: str) -> Lookup | None:
        if raw is None:
            return None
        if isinstance(raw, Mapping) and True in raw and "on" not in raw:
            # YAML 1.1 reads a bare `on:` key as the boolean true.
            raw = {("on" if k is True else k): v for k, v in raw.items()}
        ok = (
            isinstance(raw, Mapping)
            and not set(raw) - {"table", "on", "columns"}
            and isinstance(raw.get("table"), str)
            and isinstance(raw.get("on"), Mapping)
            and isinstance(raw.get("columns"), list)
        )
        if not ok:
            self.problem(file, rid, "lookup", "must be {table: T, on: {local: remote}, columns: [..]}")
            return None
        spec = self.catalogue.table(raw["table"])
        if spec is None:
            self.problem(file, rid, "lookup.table", f"unknown table {raw['table']!r}")
            return None
        for c in [*raw["on"].values(), *raw["columns"]]:
            if spec.column(c) is None:
                self.problem(file, rid, "lookup", f"table {spec.name} has no column {c!r}")
        return Lookup(raw["table"], tuple(raw["on"].items()), tuple(raw["columns"]))

    def dry_compile(self, rule: Rule) -> None:
        """Compile the rule as the engine does, against empty frames with the catalogue's schema."""
        spec = self.catalogue.table(rule.table)
        if spec is None:
            return
        empty = self.empty_tables()
        ctx = Context(
            table=rule.table, schema=empty[rule.table].collect_schema(), catalogue=self.catalogue,
            spec=spec, period=Period(2000, 1), tables=empty,
        )  # fmt: skip
        try:
            compile_rule(rule, ctx, empty=empty[rule.table])
        except NotApplicable:  # judged outside the one-pass query (a check that needs history)
            pass
        except MissingColumns as exc:
            c = exc.columns[0]
            known = list(ctx.schema)
            if rule.lookup:
                known += [rule.lookup.alias(x) for x in rule.lookup.columns]
            hint = difflib.get_close_matches(c, known, n=1)
            self.problem(
                rule.source, rule.id, "params" if c in rule.columns else "when",
                f"table {rule.table} has no column {c!r}" + (f"; did you mean '{hint[0]}'?" if hint else ""),
            )  # fmt: skip
        except CheckError as exc:
            self.problem(rule.source, rule.id, "params", str(exc))
        except Exception as exc:  # a Polars type error: the first line says what clashes
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.problem(rule.source, rule.id, "params", f"does not compile with its when: {reason}"
                         if rule.when else f"does not compile: {reason}")  # fmt: skip

    # -- suites --------------------------------------------------------------------------
    def suite(self, path: Path) -> Suite | None:
        file = str(path)
        try:
            raw = read_yaml(path, what="suite file")
        except InputError as exc:
            self.problem(file, None, None, f"cannot read YAML: {str(exc).removeprefix(file + ': ')}")
            return None
        start = len(self.problems)
        suite = self.suite_data(raw, file)
        if len(self.problems) > start:
            try:
                index = line_index(path.read_text(encoding="utf-8-sig"))
            except (OSError, UnicodeDecodeError):
                index = {}
            self.locate(start, raw, index)
        return suite

    def locate(self, start: int, raw: Any, index: LineIndex) -> None:
        """Give the problems found since ``start`` the line of the rule and field they name."""
        rules = raw.get("rules") if isinstance(raw, Mapping) else None
        where: dict[str, int] = {}
        for i, r in enumerate(rules if isinstance(rules, list) else []):
            rid = r.get("id") if isinstance(r, Mapping) else None
            where.setdefault(rid if isinstance(rid, str) and rid.strip() else f"#{i + 1}", i)
        for k in range(start, len(self.problems)):
            p = self.problems[k]
            if p.line is not None:
                continue
            path: tuple[str | int, ...] = ()
            if p.rule is not None and p.rule in where:
                path = ("rules", where[p.rule])
            fields = tuple(p.field.split(".")) if p.field else ()
            line = line_of(index, (*path, *fields)) or line_of(index, path) or index.get(())
            self.problems[k] = dataclasses.replace(p, line=line)

    def suite_data(self, raw: Any, file: str) -> Suite | None:
        """Validate one suite given as data (what a suite file holds); ``file`` names it."""
        if not isinstance(raw, Mapping):
            self.problem(file, None, None, "a suite file must be a mapping")
            return None
        for key in sorted(set(raw) - SUITE_KEYS):
            self.problem(file, None, key, "unknown key")
        sid, table, kind = raw.get("suite"), raw.get("table"), raw.get("kind", "any")
        if not isinstance(sid, str) or not sid:
            self.problem(file, None, "suite", "missing suite id")
        if not isinstance(table, str) or self.catalogue.table(table) is None:
            hint = difflib.get_close_matches(str(table), self.catalogue.tables, n=1)
            declare = ""
            if isinstance(table, str) and table.strip() and not hint:
                declare = (
                    "; declare it in the catalogue"
                    + (f" ({self.catalogue.path})" if self.catalogue.path else "")
                    + ", e.g.\n"
                    + catalogue_entry(table, _rule_columns(raw.get("rules")))
                )
                declare += f"\n    (`dq suggest FILE --table {table}` writes the entry from the data)"
            self.problem(
                file, None, "table",
                f"unknown table {table!r}" + (f"; did you mean '{hint[0]}'?" if hint else "") + declare,
            )  # fmt: skip
            return None
        if kind not in KINDS and kind not in self.catalogue.kinds:
            self.problem(file, None, "kind", f"{kind!r} is not one of {list(KINDS)}")
        defaults = raw.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            self.problem(file, None, "defaults", "must be a mapping")
            defaults = {}
        for key in sorted(set(defaults) - DEFAULT_KEYS):
            self.problem(file, None, f"defaults.{key}", "unknown key")
        rules_raw = raw.get("rules")
        if not isinstance(rules_raw, list) or not rules_raw:
            self.problem(file, None, "rules", "a suite needs a non-empty list of rules")
            rules_raw = []
        title_zh, title_en = self.bilingual(raw.get("title"), file, None, "title")
        self._suite = str(sid)[:100] if isinstance(sid, str) and sid else None
        try:
            rules = [self.rule(r, file, str(sid), table, defaults, i + 1) for i, r in enumerate(rules_raw)]
        finally:
            self._suite = None
        return Suite(
            id=str(sid), table=table, kind=str(kind), title_zh=title_zh, title_en=title_en,
            rules=tuple(r for r in rules if r is not None), source=file,
            description=str(raw.get("description", "")),
        )  # fmt: skip


def _rule_columns(rules: Any) -> list[str]:
    """The columns a suite's rules name in their ``column``/``columns`` parameters, in order."""
    out: list[str] = []
    for r in rules if isinstance(rules, list) else []:
        params = r.get("params") if isinstance(r, Mapping) else None
        if not isinstance(params, Mapping):
            continue
        for key in ("column", "columns", "start", "end"):
            value = params.get(key)
            for c in value if isinstance(value, list) else [value]:
                if isinstance(c, str) and c.isidentifier() and c not in out:
                    out.append(c)
    return out


def catalogue_entry(table: str, columns: Iterable[str]) -> str:
    """The YAML lines that declare ``table`` (with ``columns`` as text) under ``tables:`` of a
    catalogue; the types are to be checked (str, int, decimal, date, datetime)."""
    lines = [
        "    tables:",
        f"      {table}:",
        "        kind: any",
        f"        title: {{zh: {table}, en: {table}}}",
    ]
    cols = list(columns)
    lines.append("        columns:" + ("" if cols else " []"))
    lines += [f"          - {{name: {c}, type: str}}   # type: str|int|decimal|date|datetime" for c in cols]
    return "\n".join(lines)


def _suite_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(
                f for f in p.rglob("*.y*ml") if f.name not in NOT_SUITES and f.suffix in (".yaml", ".yml")
            )
        else:
            files.append(p)
    return files


def default_suite_paths() -> list[Path]:
    return [default_rules_dir() / "suites"]


def load_suites(paths: Iterable[str | Path] | None = None, catalogue: Catalogue | None = None) -> list[Suite]:
    """Load and validate suites from files or folders (default: ``rules/suites``)."""
    loader = SuiteLoader(catalogue or load_catalogue())
    files = _suite_files(paths if paths is not None else default_suite_paths())
    suites: list[Suite] = []
    for f in files:
        if not f.exists():
            loader.problem(str(f), None, None, "no such file or folder")
            continue
        s = loader.suite(f)
        if s is not None:
            suites.append(s)
    _check_unique(loader, suites)
    if loader.problems:
        raise SuiteError(loader.problems)
    return suites


def suite_from_data(raw: Any, source: str = "<rules>", catalogue: Catalogue | None = None) -> Suite:
    """One suite given as data in the suite language (a mapping, as a suite file holds), validated
    exactly as :func:`load_suites` validates files; :class:`SuiteError` lists every problem."""
    loader = SuiteLoader(catalogue or load_catalogue())
    suite = loader.suite_data(raw, source)
    if suite is not None:
        _check_unique(loader, [suite])
    if loader.problems or suite is None:
        raise SuiteError(loader.problems or [Problem(source, None, None, "not a suite")])
    return suite


def _check_unique(loader: SuiteLoader, suites: list[Suite]) -> None:
    seen_rules: dict[str, str] = {}
    seen_suites: dict[str, str] = {}
    for s in suites:
        if s.id in seen_suites:
            loader.problem(
                s.source,
                None,
                "suite",
                f"duplicate suite id {s.id!r} (also in {seen_suites[s.id]})",
            )
        seen_suites[s.id] = s.source
        for r in s.rules:
            if r.id in seen_rules:
                loader.problem(s.source, r.id, "id", f"duplicate rule id (also in {seen_rules[r.id]})")
            seen_rules[r.id] = s.source
