"""The engine: every rule of a table compiled into one lazy Polars query, collected once.

For each table the engine

1. compiles each rule to expressions (a rule that cannot compile becomes a result with status
   ``error`` and a reason; the others still run),
2. applies the lazy joins the rules need (lookups), each right side reduced to
   unique keys so no row is duplicated,
3. collects every rule's ``evaluated`` and ``failed`` counts (and details such as stated vs
   computed totals) in ONE pass: each row-level rule's masks are computed once, as columns, and
   the same pass gathers the first failing rows of row-level rules (see :func:`_one_pass`),
4. keeps samples only for rules that failed, masking the catalogue's pii columns; aggregate
   checks with a ``sample`` query (e.g. group counts) that failed get theirs from a second query.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import polars as pl

from dq.engine._plan import Plan, apply_joins, compile_rule, when_mask, with_shared
from dq.engine.checks import REGISTRY, Aggregate, Context, Join, RowLevel
from dq.engine.checks.base import UnitHistory, blank_columns
from dq.engine.metrics import unit_metrics
from dq.engine.results import FLAGGED, AuditResult, RuleResult, Status, TableInfo, result_of, status_for
from dq.engine.suite import Rule, Suite
from dq.errors import CheckError, DQError, InputError, NotApplicable, raise_if_interrupted
from dq.io.catalogue import Catalogue, load_catalogue
from dq.io.columns import LOCATOR, ROW_INDEX
from dq.io.masking import describe_error, mask_samples
from dq.io.period import Period
from dq.io.sources import Extract, TableSource, row_locators

__all__ = [
    "Plan",
    "TableEvaluation",
    "audit_extract",
    "evaluate_by_unit",
    "evaluate_frame",
    "evaluate_table",
    "judge_with_history",
    "rows_hint",
]

DEFAULT_SAMPLES = 5


def _error(rule: Rule, reason: str) -> RuleResult:
    return result_of(rule, Status.ERROR, 0, 0, reason)


def _compile(rule: Rule, ctx: Context, prefix: str, empty: pl.LazyFrame) -> Plan | RuleResult:
    """The rule's plan, or its result when it cannot run (not applicable, or an error)."""
    try:
        return compile_rule(rule, ctx, prefix, empty)
    except NotApplicable as exc:
        return result_of(rule, Status.NOT_APPLICABLE, 0, 0, str(exc))
    except CheckError as exc:
        return _error(rule, str(exc))
    except Exception as exc:  # a Polars type or expression error
        return _error(rule, f"cannot evaluate: {describe_error(exc)}")


_PLAIN = frozenset((str, int, float, bool, type(None)))


def _jsonable(v: Any) -> Any:
    if type(v) in _PLAIN:  # nearly every value: one set lookup
        return v
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


#: Tables of at most this many rows (an estimate, see :func:`_rows_hint`) are collected with
#: Polars' in-memory engine, larger ones with its streaming engine. In-memory costs ~20 % less
#: CPU on the one-pass query but holds every column it reads: above this size it would take
#: a city's largest units past 2 GB (measured: 0.88 GB in-memory against 0.61 GB streaming for
#: a scale-0.3 city whose largest table has 6 M rows).
IN_MEMORY_ROWS = 2_500_000


def _engine(streaming: bool) -> Literal["streaming", "in-memory"]:
    return "streaming" if streaming else "in-memory"


def _collect(frame: pl.LazyFrame, streaming: bool) -> pl.DataFrame:
    return frame.collect(engine=_engine(streaming))


def rows_hint(path: Path) -> int:
    """About how many rows a table file holds, without reading it: a Parquet file's metadata;
    for CSV its size over 50 bytes (a short row: over-estimating only errs towards less memory);
    for a workbook its size over 20 bytes (zipped XML). An unreadable file counts as large."""
    suffix = path.suffix.lower()
    try:
        st = path.stat()
        if suffix == ".parquet":
            key = (str(path), st.st_size, st.st_mtime_ns)
            rows = _FOOTER_ROWS.get(key)  # the batch sizes its units with it, then the audit asks
            if rows is None:
                # pyarrow reads the footer alone, at a third of the CPU of a Polars `len()` query
                import pyarrow.parquet as pq

                rows = int(pq.read_metadata(path).num_rows)
                if len(_FOOTER_ROWS) >= 4096:
                    _FOOTER_ROWS.clear()
                _FOOTER_ROWS[key] = rows
            return rows
        if suffix == ".csv":
            return st.st_size // 50
        if suffix == ".xlsx":
            return st.st_size // 20
    except Exception:  # unreadable: the audit names the file; meanwhile assume the worst
        return IN_MEMORY_ROWS + 1
    return 0


_FOOTER_ROWS: dict[tuple[str, int, int], int] = {}


def _rows_hint(src: TableSource) -> int:
    if src.rows is not None:
        return src.rows
    if src.path.suffix.lower() == ".xlsx":
        return 0  # a workbook is read into memory when opened: nothing to stream
    return rows_hint(src.path)


def evaluate_frame(
    frame: pl.LazyFrame,
    rules: Sequence[Rule],
    table: str,
    *,
    catalogue: Catalogue | None = None,
    tables: Mapping[str, pl.LazyFrame] | None = None,
    period: str | None = None,
    now: dt.datetime | None = None,
    samples: int = DEFAULT_SAMPLES,
    streaming: bool = False,
    fix_rows: int = 0,
) -> tuple[int, list[RuleResult]]:
    """Evaluate ``rules`` on one table in a single pass. Returns (row count, results).

    Failing rules keep ``samples`` masked rows; with ``fix_rows`` > 0 they also keep up to that
    many failing rows (key and rule columns, masked) in ``RuleResult.fix_rows`` (dq.batch.fixlist).
    ``streaming``: collect with Polars' streaming engine (less memory on large tables; the
    in-memory engine otherwise). :func:`audit_extract` streams tables of more than
    :data:`IN_MEMORY_ROWS` rows.
    """
    ev = evaluate_table(
        frame, rules, table, catalogue=catalogue, tables=tables, period=period, now=now,
        samples=samples, streaming=streaming, fix_rows=fix_rows,
    )  # fmt: skip
    return ev.rows, ev.results


@dataclass(frozen=True)
class TableEvaluation:
    """One table's evaluation: its row count, the rules' results and the ``extra`` aggregates."""

    rows: int
    results: list[RuleResult]
    extra: dict[str, Any]


def evaluate_table(
    frame: pl.LazyFrame,
    rules: Sequence[Rule],
    table: str,
    *,
    catalogue: Catalogue | None = None,
    tables: Mapping[str, pl.LazyFrame] | None = None,
    period: str | None = None,
    now: dt.datetime | None = None,
    samples: int = DEFAULT_SAMPLES,
    streaming: bool = False,
    extra: Mapping[str, pl.Expr] | None = None,
    fix_rows: int = 0,
) -> TableEvaluation:
    """:func:`evaluate_frame`, plus ``extra`` named aggregate expressions over the table computed
    in the same pass (e.g. the submission summary's volumes), so the table is read once."""
    want = max(samples, fix_rows)
    extra = dict(extra or {})
    cat = catalogue or load_catalogue()
    spec = cat.table(table)
    tables = dict(tables or {})
    tables.setdefault(table, frame)
    # Each text column's blank test once, as a column the rules read (Polars does not share it
    # between rules); a column no rule reads is pruned from the query.
    frame = frame.with_columns(**blank_columns(frame.collect_schema()))
    schema = frame.collect_schema()
    ctx = Context(
        table=table,
        schema=schema,
        catalogue=cat,
        spec=spec,
        period=Period.parse(period) if period else None,
        now=now or dt.datetime.now(),
        tables=tables,
    )
    plans: list[Plan] = []
    joins: list[Join] = []
    seen_lookups: dict[tuple, Join] = {}
    results: dict[str, RuleResult] = {}
    empty = pl.LazyFrame(schema=dict(schema))  # for type-checking rules without data
    known = _known_plans(table, schema, rules, period, now, cat)
    for i, rule in enumerate(rules):
        plan = known.get(i) or _compile(rule, ctx, f"r{i}", empty)
        if isinstance(plan, Plan) and _reusable(plan):
            known[i] = plan  # depends on this table's schema only: kept for the next unit
        if isinstance(plan, RuleResult):
            results[rule.id] = plan
            continue
        for j in plan.joins:
            if rule.lookup is not None and j is plan.joins[0]:
                key = (rule.lookup.table, rule.lookup.on, rule.lookup.columns)
                if key in seen_lookups:
                    continue
                seen_lookups[key] = j
            joins.append(j)
        plans.append(plan)

    joined = with_shared(apply_joins(frame, joins), [p.compiled for p in plans])
    sample_cols = {p.prefix: _sample_columns(p, schema, spec) for p in plans}
    hidden: dict[str, list[str]] = {}  # by plan: columns of the rows to fix, not of the samples
    if fix_rows > 0:  # rows to fix also carry where each row is, its patient and its time
        located = [c for c in _locator_columns(spec) if c in schema]
        hidden = {k: [c for c in located if c not in v] for k, v in sample_cols.items()}
        sample_cols = {k: list(dict.fromkeys([*located, *v])) for k, v in sample_cols.items()}
    try:
        query = _one_pass(joined, plans, sample_cols, want, extra)
        row = _collect(query, streaming).row(0, named=True)
    except Exception as exc:
        raise_if_interrupted(exc)
        # Isolate the failing rule(s): collect each plan on its own.
        base = [pl.len().alias("__rows"), *(e.alias(f"__x:{k}") for k, e in extra.items())]
        row = _collect(frame.select(base), streaming).row(0, named=True)
        for p in list(plans):
            try:
                own = with_shared(apply_joins(frame, joins), [p.compiled])  # its own columns only
                part = _collect(own.select([e.alias(k) for k, e in p.exprs.items()]), streaming)
                row |= part.row(0, named=True)
            except Exception as exc:
                raise_if_interrupted(exc)
                results[p.rule.id] = _error(p.rule, f"cannot evaluate: {describe_error(exc)}")
                plans.remove(p)
    n_rows = int(row["__rows"])

    failing: list[Plan] = []
    sampled: dict[str, list[dict[str, Any]]] = {}
    for p, prefix in ((p, p.prefix) for p in plans):
        names = [k[len(prefix) + 3 :] for k in p.exprs if k.startswith(f"{prefix}:d:")]
        results[p.rule.id] = _plan_result(p, row, prefix, n_rows, names)
        status, failed = results[p.rule.id].status, results[p.rule.id].failed
        if status in FLAGGED and want > 0 and failed > 0:
            failing.append(p)
            if f"{prefix}:s:0" in row:
                cols = sample_cols[prefix]
                columns = zip(*(row[f"{prefix}:s:{j}"] for j in range(len(cols))), strict=True)
                sampled[p.rule.id] = [dict(zip(cols, v, strict=True)) for v in columns]

    if failing:
        counts = (samples, fix_rows)
        _add_samples(joined, failing, results, sample_cols, sampled, table, cat, counts, streaming, hidden)
    values = {k: row[f"__x:{k}"] for k in extra}
    return TableEvaluation(n_rows, [results[r.id] for r in rules], values)


def _plan_result(
    p: Plan, row: Mapping[str, Any], prefix: str, n_rows: int, names: Iterable[str] | None = None
) -> RuleResult:
    """A rule's result from its counts and details (``<prefix>:n``, ``:f``, ``:d:<name>``;
    ``names``: the details' names, if known, else found in ``row``)."""
    evaluated, failed = int(row[f"{prefix}:n"] or 0), int(row[f"{prefix}:f"] or 0)
    if names is None:
        details = {k.split(":d:", 1)[1]: _jsonable(v) for k, v in row.items() if k.startswith(f"{prefix}:d:")}
    else:
        details = {d: _jsonable(row[f"{prefix}:d:{d}"]) for d in names}
    exceeded = p.rule.threshold.exceeded(failed, evaluated)
    status = status_for(failed, evaluated, p.rule.severity, exceeded)
    if p.compiled.describe is not None and evaluated:
        message = p.compiled.describe(details)
    elif evaluated == 0:
        message = "table is empty" if n_rows == 0 else "no rows to evaluate"
    else:
        message = f"{failed} of {evaluated} fail ({failed / evaluated:.2%})"
    return result_of(p.rule, status, evaluated, failed, message)


# Compiled plans of the suites evaluated per unit, by (table, schema, rules, period): a batch
# evaluates the same submission suite on frames of one schema again and again.
# Each entry also holds the row-level part of the query built from those plans (same for
# every call of a batch: each commit evaluates the submission suite once).
_PLAN_CACHE: dict[tuple, tuple[Sequence[Rule], list[Plan | RuleResult], tuple[list[pl.Expr], ...]]] = {}
UNITS_PER_QUERY = 64


def _unit_plans(
    frame: pl.LazyFrame, rules: Sequence[Rule], table: str, cat: Catalogue, period: str | None
) -> tuple[list[Plan | RuleResult], tuple[list[pl.Expr], ...]]:
    """The rules' plans for frames of this schema, and :func:`_rowwise_exprs` of them."""
    schema = frame.collect_schema()
    key = (table, tuple(schema.items()), tuple(id(r) for r in rules), period, id(cat))
    hit = _PLAN_CACHE.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], rules, strict=True)):
        return hit[1], hit[2]
    ctx = Context(
        table=table,
        schema=schema,
        catalogue=cat,
        spec=cat.table(table),
        period=Period.parse(period) if period else None,
        now=dt.datetime.now(),
        tables={table: frame},
    )
    empty = pl.LazyFrame(schema=dict(schema))
    plans = [_compile(rule, ctx, f"r{i}", empty) for i, rule in enumerate(rules)]
    rowwise = _rowwise_exprs(_row_level(plans))
    if len(_PLAN_CACHE) > 16:
        _PLAN_CACHE.clear()
    _PLAN_CACHE[key] = (list(rules), plans, rowwise)
    return plans, rowwise


def _row_level(plans: Sequence[Plan | RuleResult]) -> list[Plan]:
    return [p for p in plans if isinstance(p, Plan) and not isinstance(p.compiled, Aggregate)]


def evaluate_by_unit(
    frame: pl.LazyFrame,
    rules: Sequence[Rule],
    table: str,
    units: Sequence[str],
    *,
    key: str = "unit_id",
    catalogue: Catalogue | None = None,
    period: str | None = None,
) -> dict[str, list[RuleResult]] | None:
    """Each rule evaluated once per unit over the WHOLE frame, as if its ``when`` were narrowed to
    ``<key> = '<unit>'``: aggregate checks count that unit's rows, while window expressions (peer
    outliers, identical values) still see every row. The rules are compiled once (and kept for
    the next call on a frame of the same schema) and every unit's counts come from one query per
    :data:`UNITS_PER_QUERY` units. Returns None when a rule needs a join or the query fails, so
    the caller evaluates unit by unit (which isolates a failing rule)."""
    cat = catalogue or load_catalogue()
    plans, (static, flags, bads, sums) = _unit_plans(frame, rules, table, cat, period)
    if any(isinstance(p, Plan) and (p.joins or p.compiled.reads_extract) for p in plans):
        return None
    live = [p for p in plans if isinstance(p, Plan)]
    rowwise = _row_level(plans)
    if any(p.compiled.violates_among is not None for p in rowwise):  # type: ignore[union-attr]
        return None  # its failures depend on the evaluated rows: unit by unit
    frame = with_shared(frame, [p.compiled for p in live])
    queries = [frame.select(static)]
    if rowwise:
        queries.append(frame.with_columns(flags).with_columns(bads).group_by(key).agg(sums))
    # Aggregate rules: the narrowed aggregate itself, per unit, :data:`UNITS_PER_QUERY` at a time.
    names: dict[tuple[str, str], list[str]] = {}  # (unit, prefix) -> detail names
    aggs = [p for p in live if isinstance(p.compiled, Aggregate)]
    chunks = (
        [list(units[i : i + UNITS_PER_QUERY]) for i in range(0, len(units), UNITS_PER_QUERY)] if aggs else []
    )
    for chunk in chunks:
        exprs: list[pl.Expr] = []
        for k, uid in enumerate(chunk):
            unit = (pl.col(key) == pl.lit(uid, dtype=pl.String)).fill_null(False)
            for p in aggs:
                pre = f"u{k}:{p.prefix}"
                n, f = p.compiled.aggregate(when_mask(p.rule) & unit)  # type: ignore[union-attr]
                details = dict(p.compiled.details)  # aggregate() rebuilds them for this mask
                exprs += [n.alias(f"{pre}:n"), f.alias(f"{pre}:f")]
                exprs += [e.alias(f"{pre}:d:{d}") for d, e in details.items()]
                names[uid, p.prefix] = list(details)
        queries.append(frame.select(exprs))
    try:
        got = pl.collect_all(queries, engine="in-memory")  # a few rows: streaming would cost 2.4x
    except Exception:
        return None
    top = got[0].row(0, named=True)
    n_rows = int(top["__rows"])
    per_unit: dict[str, dict[str, Any]] = {}
    if rowwise:
        for r in got[1].iter_rows(named=True):
            per_unit[r[key]] = r
    agg_rows = got[2:] if rowwise else got[1:]
    by_unit: dict[str, tuple[dict[str, Any], str]] = {}
    for chunk, frame_row in zip(chunks, agg_rows, strict=True):
        row = frame_row.row(0, named=True)
        for k, uid in enumerate(chunk):
            by_unit[uid] = (row, f"u{k}:")
    zero = {f"{p.prefix}:{c}": 0 for p in rowwise for c in "nf"}
    out: dict[str, list[RuleResult]] = {}
    for uid in units:
        counts = {**top, **zero, **per_unit.get(uid, {})}
        res: list[RuleResult] = []
        for planned in plans:
            if not isinstance(planned, Plan):
                res.append(planned)
            elif isinstance(planned.compiled, Aggregate):
                row, pre = by_unit[uid]
                named = names[uid, planned.prefix]
                res.append(_plan_result(planned, row, pre + planned.prefix, n_rows, named))
            else:
                named = list(planned.compiled.details)
                res.append(_plan_result(planned, counts, planned.prefix, n_rows, named))
        out[uid] = res
    return out


def _rowwise_exprs(rowwise: list[Plan]) -> tuple[list[pl.Expr], ...]:
    """(static, flags, bads, sums) of :func:`evaluate_by_unit`'s row-level rules.

    Each row's evaluated and failed flags over the whole frame (windows see every row), then
    summed per unit -- the narrowed rule's counts, as `when & unit` only removes the other
    units' rows from both sums. Their details do not depend on the `when`."""
    flags: list[pl.Expr] = []
    sums: list[pl.Expr] = []
    static: list[pl.Expr] = [pl.len().alias("__rows")]
    for p in rowwise:
        a, b = f"__dq_{p.prefix}_n", f"__dq_{p.prefix}_f"
        flags.append((when_mask(p.rule) & p.compiled.applies.fill_null(False)).alias(a))  # type: ignore[union-attr]
        sums += [pl.col(a).sum().alias(f"{p.prefix}:n"), pl.col(b).sum().alias(f"{p.prefix}:f")]
        static += [e.alias(f"{p.prefix}:d:{d}") for d, e in p.compiled.details.items()]
    bads = [
        (
            pl.col(f"__dq_{p.prefix}_n")
            & p.compiled.violations(pl.col(f"__dq_{p.prefix}_n")).fill_null(False)  # type: ignore[union-attr]
        ).alias(f"__dq_{p.prefix}_f")
        for p in rowwise
    ]
    return static, flags, bads, sums


# Compiled plans of record-level rules by (table, schema, rules, period, clock, catalogue). A
# rule without joins compiles to the same plan for every table of one schema, so a batch, whose
# units share one clock (``now``), compiles each once instead of once per unit. Rules that join
# other tables of the extract (foreign keys, lookups) are compiled for each table.
_KNOWN: dict[tuple, tuple[Sequence[Rule], Catalogue, dict[int, Plan]]] = {}


def _known_plans(
    table: str,
    schema: Mapping[str, pl.DataType],
    rules: Sequence[Rule],
    period: str | None,
    now: dt.datetime | None,
    cat: Catalogue,
) -> dict[int, Plan]:
    if now is None:  # a clock of its own: nothing to share
        return {}
    key = (table, tuple(schema.items()), tuple(id(r) for r in rules), period, now, id(cat))
    hit = _KNOWN.get(key)
    if hit is not None and hit[1] is cat and all(a is b for a, b in zip(hit[0], rules, strict=True)):
        return hit[2]
    if len(_KNOWN) >= 256:
        _KNOWN.clear()
    plans: dict[int, Plan] = {}
    _KNOWN[key] = (list(rules), cat, plans)
    return plans


def _reusable(plan: Plan) -> bool:
    """Whether a plan depends on its table's schema only (not on other tables of the extract,
    e.g. a foreign key's referenced keys): then it serves every unit of a batch."""
    return not plan.joins and plan.rule.lookup is None and not plan.compiled.reads_extract


def _sample_columns(p: Plan, schema: Mapping[str, pl.DataType], spec) -> list[str]:
    """Columns shown in a rule's failing-row samples: the table key, then the rule's columns."""
    cols = [*(spec.key if spec else ()), *p.rule.columns, *p.compiled.sample_columns]
    if p.rule.lookup:
        cols += [p.rule.lookup.alias(c) for c in p.rule.lookup.columns]
    return [c for c in dict.fromkeys(cols) if c in schema or (p.rule.lookup and "__" in c)]


def _locator_columns(spec) -> tuple[str, ...]:
    """What finds a failing row again, besides its key: its row number (:data:`ROW_INDEX`), the
    patient it is about (the catalogue's ``patient``) and its time (the event time, else the
    upload time)."""
    if spec is None:
        return (ROW_INDEX,)
    time = spec.event_time or ("upload_time" if spec.column("upload_time") else None)
    return tuple(c for c in (ROW_INDEX, spec.patient, time) if c)


def _one_pass(
    joined: pl.LazyFrame,
    plans: Sequence[Plan],
    sample_cols: Mapping[str, list[str]],
    n: int,
    extra: Mapping[str, pl.Expr] | None = None,
) -> pl.LazyFrame:
    """Every rule's counts (and row-level rules' first ``n`` failing rows) in one query.

    Each row-level rule's masks are materialised once as columns -- ``evaluated`` rows, then
    ``failed`` rows from them -- and everything else is read off those columns: Polars' common
    subexpression elimination does not always see that ``mask.sum()`` and ``(mask & bad).sum()``
    share ``mask``, nor can a later query reuse them for samples. The samples of row-level rules
    are gathered here (the first ``n`` failing rows, in table order), so no second scan is needed.
    """
    masks: list[pl.Expr] = []
    bads: list[pl.Expr] = []
    out = [pl.len().alias("__rows"), *(e.alias(f"__x:{k}") for k, e in (extra or {}).items())]
    for p in plans:
        mask, bad, exprs = _pass_exprs(p, tuple(sample_cols[p.prefix]), n)
        if mask is not None and bad is not None:
            masks.append(mask)
            bads.append(bad)
        out += exprs
    return joined.with_columns(masks).with_columns(bads).select(out)


# A plan's expressions in the one-pass query, by plan: plans kept for the next unit (see
# :func:`_known_plans`) give the same expressions for every unit of a batch, built once.
_PASS: dict[tuple, tuple[Plan, tuple[pl.Expr | None, pl.Expr | None, list[pl.Expr]]]] = {}


def _pass_exprs(
    p: Plan, cols: tuple[str, ...], n: int
) -> tuple[pl.Expr | None, pl.Expr | None, list[pl.Expr]]:
    """A plan's (evaluated mask, failed mask, output expressions) for :func:`_one_pass`; the
    masks are None for a plan that is not row-level."""
    key = (id(p), cols, n)
    hit = _PASS.get(key)
    if hit is not None and hit[0] is p:
        return hit[1]
    reuse = _reusable(p)  # not a unit's own plan: it may hold that unit's data (referenced keys)
    if not p.row_level or p.applies is None:
        built: tuple = (None, None, [e.alias(k) for k, e in p.exprs.items()])
    else:
        m, b = f"__dq_{p.prefix}_evaluated", f"__dq_{p.prefix}_failed"
        out = [pl.col(m).sum().alias(f"{p.prefix}:n"), pl.col(b).sum().alias(f"{p.prefix}:f")]
        out += [e.alias(f"{p.prefix}:d:{k}") for k, e in p.compiled.details.items()]
        if n > 0 and cols:
            # Column by column: packing the columns into a struct first copies them whole.
            first = pl.col(b).arg_true()
            order = p.compiled.sample_order  # e.g. the key: duplicates together
            if order:
                first = first.sort_by([pl.col(k).filter(pl.col(b)) for k in order])
            first = first.head(n)
            out += [pl.col(c).gather(first).implode().alias(f"{p.prefix}:s:{j}") for j, c in enumerate(cols)]
        assert isinstance(p.compiled, RowLevel)  # a row-level plan
        bad = pl.col(m) & p.compiled.violations(pl.col(m)).fill_null(False)
        built = (p.applies.alias(m), bad.alias(b), out)
    if reuse:
        if len(_PASS) >= 4096:
            _PASS.clear()
        _PASS[key] = (p, built)
    return built


def _add_samples(
    joined: pl.LazyFrame,
    failing: list[Plan],
    results: dict[str, RuleResult],
    sample_cols: Mapping[str, list[str]],
    sampled: Mapping[str, list[dict[str, Any]]],
    table: str,
    cat: Catalogue,
    counts: tuple[int, int],
    streaming: bool,
    hidden: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Attach masked samples (and rows to fix): gathered in the main pass, or queried now
    (set-wise checks). ``counts`` is (samples, fix_rows); ``hidden``, by plan: the columns
    gathered for the rows to fix only (:func:`_locator_columns`), left out of the samples."""
    n_samples, n_fix = counts
    n = max(counts)
    queries: list[pl.LazyFrame] = []
    chosen: list[Plan] = []
    for p in failing:
        sample_fn: Callable | None = p.compiled.sample if isinstance(p.compiled, Aggregate) else None
        if not p.row_level and sample_fn is None:
            continue  # table-level check: the message says what is wrong
        chosen.append(p)
        if p.rule.id in sampled:
            continue
        when = when_mask(p.rule)
        rows = sample_fn(joined, when) if sample_fn else joined.filter(p.mask)
        order = p.compiled.sample_order
        if order:
            rows = rows.sort(list(order))
        queries.append(rows.select(sample_cols[p.prefix]).head(n))
    frames = iter(pl.collect_all(queries, engine=_engine(streaming)) if queries else [])
    for p in chosen:
        got = sampled[p.rule.id] if p.rule.id in sampled else next(frames).iter_rows(named=True)
        rows = mask_samples(({k: _jsonable(v) for k, v in r.items()} for r in got), table, cat)
        hide = (hidden or {}).get(p.prefix)
        # the samples are copies: the rows to fix are completed in place (_located)
        shown = [{k: v for k, v in r.items() if k not in (hide or ())} for r in rows[:n_samples]]
        old = results[p.rule.id]
        results[p.rule.id] = RuleResult(
            **{**old.__dict__, "samples": tuple(shown[:n_samples]), "fix_rows": tuple(rows[:n_fix])}
        )


def audit_extract(
    extract: Extract,
    suites: Sequence[Suite],
    *,
    period: str | None = None,
    samples: int = DEFAULT_SAMPLES,
    catalogue: Catalogue | None = None,
    now: dt.datetime | None = None,
    streaming: bool = False,
    progress: Callable[[str], None] | None = None,
    extra: Callable[[str, pl.LazyFrame], Mapping[str, pl.Expr]] | None = None,
    fix_rows: int = 0,
) -> AuditResult:
    """Audit every table of an extract with the suites that target it.

    ``extra(table, frame)`` (optional) names aggregate expressions to compute over each table in
    the audit's own pass (a table no rule targets gets a light pass of its own); their values
    are in :attr:`AuditResult.extra`, by table. :func:`dq.scoring.summary.audit_and_summarize` uses it
    so that the submission summary costs no second read.
    """
    cat = catalogue or load_catalogue()
    period = period or extract.period
    frames = {name: src.frame for name, src in extract.tables.items()}
    results: list[RuleResult] = []
    infos: list[TableInfo] = []
    values: dict[str, dict[str, Any]] = {}
    by_table: dict[str, list[Rule]] = {}
    kind_tables = set(cat.tables_of(extract.kind)) if extract.kind else set()
    for s in suites:
        # A suite runs on the tables of the extract's kind (a missing one is reported as not
        # uploaded) and on any other table the extract has; summary suites stay out.
        if s.applies_to(extract.kind) and (s.table in kind_tables or s.table in extract.tables):
            by_table.setdefault(s.table, []).extend(s.rules)
    for table, rules in by_table.items():
        src = extract.tables.get(table)
        if src is None and table in extract.unreadable:  # there, but refused: its rules' error
            results += [result_of(r, Status.ERROR, 0, 0, extract.unreadable[table]) for r in rules]
            continue
        if src is None:
            missing = f"table {table} was not uploaded"
            results += [result_of(r, Status.NOT_APPLICABLE, 0, 0, missing) for r in rules]
            continue
        if progress:
            progress(table)
        try:
            ev = evaluate_table(
                src.frame,
                rules,
                table,
                catalogue=cat,
                tables=frames,
                period=period,
                now=now,
                samples=samples,
                streaming=streaming or _rows_hint(src) > IN_MEMORY_ROWS,
                extra=extra(table, src.frame) if extra else None,
                fix_rows=fix_rows,
            )
        except DQError:
            raise
        except Exception as exc:  # the table cannot be read through: name it, quote no value
            raise_if_interrupted(exc)
            hint = "; a row has more fields than the header" if "more fields" in str(exc) else ""
            raise InputError(f"{src.location}: cannot read the table ({describe_error(exc)}{hint})") from exc
        infos.append(TableInfo(table, ev.rows, src.location))
        results += _located(ev.results, src, ev.rows) if fix_rows > 0 else ev.results
        if ev.extra:
            values[table] = ev.extra
    for name, src in extract.tables.items():
        if name not in by_table:
            infos.append(TableInfo(name, None, src.location))
            exprs = extra(name, src.frame) if extra else None
            if exprs:
                row = _collect(src.frame.select([e.alias(k) for k, e in exprs.items()]), streaming)
                values[name] = row.row(0, named=True)
    unit = {k: v for k, v in extract.manifest.items() if k not in ("generated_by",)}
    return AuditResult(unit, period, tuple(infos), tuple(results), tuple(extract.problems), values)


def _located(results: list[RuleResult], src: TableSource, n_rows: int | None = None) -> list[RuleResult]:
    """The rows to fix with their row number (:data:`ROW_INDEX`) turned into where the row is
    in what was uploaded (:data:`LOCATOR`); the file is read again only for those rows."""
    numbers = [row.get(ROW_INDEX) for r in results for row in r.fix_rows]
    if not any(n is not None for n in numbers):
        return results
    try:
        at = row_locators(src, numbers, n_rows)
    except (OSError, InputError, ValueError, UnicodeError):  # the row number is kept instead
        at = {}
    for r in results:  # the rows are this evaluation's own (the samples are copies): in place
        for row in r.fix_rows:
            n = row.pop(ROW_INDEX, None)
            row[LOCATOR] = at.get(n) or ({"row": n + 1} if isinstance(n, int) else None)
    return results


class History(Protocol):
    """Where the engine finds a unit's figures of earlier periods (:class:`dq.engine.metrics.StoredHistory`
    reads them from the score store)."""

    def earlier(self, unit_id: str) -> pl.DataFrame: ...


def judge_with_history(
    results: Sequence[RuleResult],
    rules: Iterable[Rule],
    history: History,
    *,
    period: str,
    unit_id: str,
    summary: Mapping[str, Any] | None,
    tables: Mapping[str, int | None] | None = None,
) -> list[RuleResult]:
    """``results`` of one unit with the rules whose check needs the unit's history judged.

    The one-pass query reports such rules as not applicable (the extract alone has no
    history); here each check's ``judge`` gets the unit's metrics of ``period`` (from
    ``results``, ``summary`` and ``tables``) and ``history``'s earlier ones, and its results
    replace those, or are added for rules that had none. Without such rules ``results`` is
    returned as it is and ``history`` is not read.
    """
    deferred: dict[str, list[Rule]] = {}
    for rule in rules:
        if REGISTRY[rule.check].needs_history:
            deferred.setdefault(rule.check, []).append(rule)
    if not deferred:
        return list(results)
    unit = UnitHistory(
        period=period,
        unit_id=unit_id,
        current=unit_metrics(results, summary, tables),
        earlier=history.earlier(unit_id),
        summary=summary,
        evaluated={f"rule.{r.rule}.fail_fraction": r.evaluated for r in results},
    )
    judged: dict[str, RuleResult] = {}
    for check, of_check in deferred.items():
        judge = REGISTRY[check].judge
        assert judge is not None  # CheckDef guarantees a judge for a check that needs history
        judged |= {r.rule: r for r in judge(of_check, unit)}
    out = [judged.pop(r.rule, r) for r in results]
    return out + list(judged.values())
