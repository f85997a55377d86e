"""dq from Python: audit an extract, or validate any Polars frame against rules, in a few lines.

    import dq, polars as pl

    result = dq.audit("examples/extract")            # an extract folder or one table file
    result.summary["passed"], result.to_frame()

    dq.validate(pl.DataFrame({"a": [1, None]}),
                [{"id": "A1", "check": "not_null", "params": {"column": "a"}}])[0].failed   # 1

Rules come as a suite file or folder, a YAML string, or a list of dicts in the suite language;
they are validated exactly as suite files are, and :class:`~dq.errors.SuiteError` lists every
problem. Every mistake a caller can make raises a subclass of :class:`~dq.errors.DQError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from dq.engine.results import AuditResult, RuleResult
from dq.engine.suite import Rule, Suite, load_suites, suite_from_data
from dq.errors import InputError, Problem, SuiteError, UsageError
from dq.io.catalogue import Catalogue, frame_table, load_catalogue
from dq.io.isolation import Limits
from dq.io.period import Period
from dq.io.yamlio import load_yaml
from dq.project import Project

__all__ = ["FRAME_TABLE", "audit", "validate"]

# The table name rules are checked against when validate() is given a frame and no table.
FRAME_TABLE = "frame"

SuitesArg = str | Path | Sequence[str | Path | Suite] | None


def _samples(samples: int) -> int:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise UsageError(f"samples must be a whole number >= 0, got {samples!r}")
    return samples


def _period(period: str | None) -> str | None:
    if period is not None:
        Period.parse(period)
    return period


def _suites(suites: SuitesArg, catalogue: Catalogue, project: Project | None = None) -> list[Suite]:
    if suites is None:
        return project.suites(catalogue=catalogue) if project is not None else load_suites(None, catalogue)
    if isinstance(suites, str | Path):
        suites = [suites]
    loaded = [s for s in suites if isinstance(s, Suite)]
    paths = [s for s in suites if not isinstance(s, Suite)]
    return loaded + (load_suites(paths, catalogue) if paths else [])


def _table_name(name: str, catalogue: Catalogue) -> str:
    if catalogue.table(name) is None:
        hint = difflib.get_close_matches(name, catalogue.tables, n=1)
        raise UsageError(
            f"unknown table {name!r}"
            + (f"; did you mean '{hint[0]}'?" if hint else "")
            + f" (see {catalogue.path or 'the catalogue'}; `dq suggest FILE --table {name}` drafts its entry)"
        )
    return name


def audit(
    path: str | Path,
    suites: SuitesArg = None,
    period: str | None = None,
    samples: int = 5,
    *,
    table: str | None = None,
    encoding: str | None = None,
    streaming: bool = False,
    catalogue: Catalogue | None = None,
    follow_symlinks: bool = False,
    project: Project | None = None,
    unit: str | None = None,
    layout: Any = None,
    limits: Limits | None = None,
) -> AuditResult:
    """Audit a site extract folder (``manifest.yaml`` + table files) or one table file; or one
    unit of a database (``path`` a ``postgresql://``, ``sqlite:///`` or ``duckdb:///`` URL, with
    ``unit`` and ``period``; ``layout`` a :class:`dq.io.database.DatabaseLayout`, docs/databases.md;
    default: the ``project``'s ``[database]`` section, else the platform's usual names).

    ``suites``: suite files or folders (default: the shipped suites), or loaded :class:`Suite`\\ s.
    ``period``: the audited month ``YYYY-MM`` (default: the manifest's). ``samples``: failing rows
    kept per rule, identifiers masked. ``table``: the catalogue table a lone file holds (default:
    the file's name without its suffix); a lone file is audited with that table's suites only.
    ``project``: a rule project (:func:`dq.load_project`) whose catalogue and suites are used
    (default: the bundled specification).
    ``limits``: read and audit in a child process under these limits (:mod:`dq.io.isolation`; the
    CLI's default); a reader that crashes, runs out of memory or time there raises an
    :class:`~dq.errors.InputError` "<path>: could not be read within the limits: …". Default:
    in this process.
    """
    from dq.engine.evaluate import audit_extract
    from dq.io.sources import Extract, open_extract, read_table

    cat = catalogue or (project.catalogue() if project is not None else load_catalogue())
    samples, period = _samples(samples), _period(period)
    from dq.io.database import is_database_url

    if is_database_url(path):
        chosen = _suites(suites, cat, project)
        if layout is None and project is not None:
            layout = project.database_layout(cat)
        return _audit_database(str(path), unit, period, layout, chosen, samples, cat, streaming)
    if unit is not None:
        raise UsageError(f"{path}: --unit names a unit of a database; an extract folder has one unit")
    p = Path(path)
    if table is not None:
        _table_name(table, cat)
    if limits is not None:
        return _audit_isolated(
            p, _suites(suites, cat, project), limits, period=period, samples=samples, table=table,
            encoding=encoding, streaming=streaming, catalogue=cat, follow_symlinks=follow_symlinks,
        )  # fmt: skip
    if p.is_file():
        src = read_table(p, table=table, catalogue=cat, encoding=encoding)
        if src.spec is None:
            hint = difflib.get_close_matches(src.table, cat.tables, n=1)
            some = hint[0] if hint else next(iter(cat.tables), "TABLE")
            raise UsageError(
                f"{p}: {src.table!r} is not a table of the catalogue; name the file's table with --table"
                f" (table=), e.g. --table {some}, or declare it in {cat.path}: `dq suggest {p}` drafts"
                " its catalogue entry and suite"
            )
        extract = Extract(
            p.parent, {"kind": src.spec.kind if src.spec else None, "name": p.name}, {src.table: src}
        )
        chosen = [s for s in _suites(suites, cat, project) if s.table == src.table]
        if not chosen:
            raise UsageError(
                f"{p}: no suite targets table {src.table}; pass --suite (or --table to name the table)"
            )
    else:
        if table is not None:
            raise UsageError(f"{p}: --table names the table of a single file, not of an extract folder")
        extract = open_extract(p, catalogue=cat, encoding=encoding, follow_symlinks=follow_symlinks)
        chosen = _suites(suites, cat, project)
    return audit_extract(extract, chosen, period=period, samples=samples, catalogue=cat, streaming=streaming)


def _audit_database(
    url: str, unit: str | None, period: str | None, layout: Any, suites: list[Suite], samples: int,
    cat: Catalogue, streaming: bool,
) -> AuditResult:  # fmt: skip
    from dq.engine.evaluate import audit_extract
    from dq.io.database import DatabaseLayout, DatabaseUnit, mask_url, open_database_unit

    if unit is None or period is None:
        raise UsageError(f"{mask_url(url)}: a database holds many units and months; name one with "
                         "--unit ID --period YYYY-MM (unit=, period=)")  # fmt: skip
    with open_database_unit(DatabaseUnit(url, unit, period, layout or DatabaseLayout()), cat) as ext:
        return audit_extract(ext, suites, period=period, samples=samples, catalogue=cat, streaming=streaming)


def _audit_isolated(path: Path, suites: list[Suite], limits: Limits, **options: Any) -> AuditResult:
    """:func:`audit` of ``path`` in one worker process under ``limits`` (suites loaded here)."""
    from dq.io.isolation import Failure, WorkerPool

    with WorkerPool(1, limits) as pool:
        out = pool.run(functools.partial(_audit_here, suites=suites, **options), path)
    if isinstance(out, Failure):
        raise InputError(f"{path}: could not be read within the limits: {out.message()}")
    return out


def _audit_here(path: Path, **options: Any) -> AuditResult:
    """In a worker: :func:`audit` in that process."""
    return audit(path, **options)


# -- validate ------------------------------------------------------------------------------------
def _rules_data(rules: Any) -> tuple[Any, str]:
    """The suite-language data of ``rules`` and a name for it in error messages."""
    if isinstance(rules, Path) or (
        isinstance(rules, str) and "\n" not in rules and rules.strip().endswith((".yaml", ".yml"))
    ):
        path = Path(rules)
        if not path.is_file():
            raise SuiteError([Problem(str(path), None, None, "no such file")])
        try:
            return load_yaml(path.read_text(encoding="utf-8")), str(path)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise SuiteError([Problem(str(path), None, None, f"cannot read YAML: {exc}")]) from exc
    if isinstance(rules, str):
        try:
            return load_yaml(rules), "<rules>"
        except yaml.YAMLError as exc:
            raise SuiteError([Problem("<rules>", None, None, f"cannot read YAML: {exc}")]) from exc
    return rules, "<rules>"


def _titled(rule: Any) -> Any:
    if isinstance(rule, Mapping) and "title" not in rule and isinstance(rule.get("id"), str):
        return {**rule, "title": rule["id"]}
    return rule


def _as_suite_mapping(data: Any, table: str | None, source: str) -> dict[str, Any]:
    if isinstance(data, Mapping) and "check" in data and "rules" not in data:
        data = [data]  # one rule
    if isinstance(data, list | tuple):
        data = {"rules": list(data)}
    if isinstance(data, Mapping):
        out = dict(data)
        out.setdefault("suite", "validate")
        if table is not None or "table" not in out:
            out["table"] = table or FRAME_TABLE
        if isinstance(out.get("rules"), list):
            # The one leniency over suite files: a rule's title defaults to its id.
            out["rules"] = [_titled(r) for r in out["rules"]]
        return out
    raise SuiteError(
        [Problem(source, None, None, "rules must be a suite file, a YAML string or a list of rule mappings")]
    )


def validate(
    frame: pl.DataFrame | pl.LazyFrame,
    rules: str | Path | Sequence[Mapping[str, Any]] | Mapping[str, Any] | Suite | Sequence[Rule],
    table: str | None = None,
    period: str | None = None,
    *,
    samples: int = 5,
    catalogue: Catalogue | None = None,
    project: Project | None = None,
) -> list[RuleResult]:
    """Check ``frame`` (a Polars DataFrame or LazyFrame, any columns) against ``rules``.

    ``rules``: a suite file path, a YAML string (a suite, or a list of rules), a list of rule
    mappings in the suite language, or loaded :class:`Suite`/:class:`Rule` objects. They are
    validated as suite files are: :class:`~dq.errors.SuiteError` lists every problem, e.g. a
    column the frame does not have. ``table``: a catalogue table whose types (and identifier
    masking) the frame follows; without it the rules are checked against the frame's own
    columns. ``project``: a rule project whose catalogue names ``table`` (default: the bundled
    one). Returns one :class:`RuleResult` per rule, in order.
    """
    from dq.engine.evaluate import evaluate_frame
    from dq.io.sources import coerce_frame

    if not isinstance(frame, pl.DataFrame | pl.LazyFrame):
        module = type(frame).__module__.split(".")[0]
        if module != "pandas":
            raise UsageError(f"frame must be a Polars DataFrame or LazyFrame, got {type(frame).__name__}")
        frame = pl.from_pandas(frame)
    lf = frame.lazy()
    samples, period = _samples(samples), _period(period)
    cat = catalogue or (project.catalogue() if project is not None else load_catalogue())

    if isinstance(rules, Suite):
        rule_list = list(rules.rules)
    elif isinstance(rules, Sequence) and rules and all(isinstance(r, Rule) for r in rules):
        rule_list = list(rules)  # type: ignore[arg-type]
    else:
        data, source = _rules_data(rules)
        mapping = _as_suite_mapping(data, table, source)
        name = mapping["table"]
        if isinstance(name, str) and cat.table(name) is None:
            # Not a catalogue table: check the rules against the frame's own columns.
            spec = frame_table(name, lf.collect_schema())
            cat = dataclasses.replace(cat, tables={**cat.tables, name: spec})
        rule_list = list(suite_from_data(mapping, source, cat).rules)
    if not rule_list:
        return []
    name = rule_list[0].table
    if cat.table(name) is None:
        cat = dataclasses.replace(cat, tables={**cat.tables, name: frame_table(name, lf.collect_schema())})
    lf = coerce_frame("frame", lf, cat.table(name))
    _, results = evaluate_frame(lf, rule_list, name, catalogue=cat, period=period, samples=samples)
    return results
