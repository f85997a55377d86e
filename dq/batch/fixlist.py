"""Rows to fix: the failing rows of each rule of a unit, by the table's primary key.

A hospital fixes data in its own system, so it needs to find each failing row there. When a
batch is scored (:func:`dq.batch.local.score_batch`, ``fix_rows``), the engine keeps, for every failing
row-level rule, up to ``fix_rows`` failing rows (default 1000): the table's primary key from the
catalogue and the rule's columns, masked like the report's samples. They are stored beside the
results::

    <store>/fixrows/period=2020-09/<run_id>__<unit>.parquet   run_id, unit_id, rule, table, n, row (JSON)

and written next to the unit report by :func:`write_fix_files`::

    reports/2020-09/H022_fix.csv    UTF-8 with a byte-order mark, so Excel opens it as UTF-8
    reports/2020-09/H022_fix.xlsx   a summary sheet and one sheet per rule, one column per field

CSV columns: rule, title, table, failed (the rule's failing rows), shown, key (``col=value; …``),
values (the rule's other columns, same form). Patient identifiers are masked (dq/io/masking.py).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dq.engine.results import RuleResult
from dq.errors import InputError, OutputError
from dq.io.catalogue import Catalogue, load_catalogue
from dq.io.masking import mask_value, pii_maps
from dq.io.outputs import atomic_write_text, ensure_dir, safe_filename
from dq.store.history import FIXROW_SCHEMA, Run, Store

__all__ = [
    "DEFAULT_MAX_ROWS",
    "FixRule",
    "fix_file_names",
    "fix_rules",
    "read_fix_rows",
    "write_fix_files",
    "write_fix_rows",
]

DEFAULT_MAX_ROWS = 1000
FIXROWS = "fixrows"
_SCHEMA = FIXROW_SCHEMA  # the store's schema of the folder (dq.store.history.SCHEMAS)


# json.dumps(row, ensure_ascii=False, default=str) with one encoder for every row (json.dumps
# builds one per call when given options: a third of its time over 50 k rows)
_JSON = json.JSONEncoder(ensure_ascii=False, default=str)


def write_fix_rows(store: Store, run: Run, unit_id: str, results: Sequence[RuleResult]) -> Path | str | None:
    """Store the results' ``fix_rows`` (atomically); None when no rule has any."""
    rows = [
        {
            "run_id": run.run_id,
            "unit_id": unit_id,
            "rule": r.rule,
            "table": r.table,
            "n": i,
            "row": _JSON.encode(row),
        }
        for r in results
        for i, row in enumerate(r.fix_rows)
    ]
    if not rows:
        return None
    name = f"{run.run_id}__{safe_filename(unit_id)}.parquet"
    return store.write_frame(pl.DataFrame(rows, schema=_SCHEMA), FIXROWS, f"period={run.period}", name)


def read_fix_rows(store: Store, period: str, unit_id: str, run_id: str) -> pl.DataFrame:
    """The stored rows to fix of one unit's run (empty when there are none)."""
    parts = (FIXROWS, f"period={period}", f"{run_id}__{safe_filename(unit_id)}.parquet")
    try:
        frame = store.read_frame(*parts)
    except InputError as exc:  # a damaged file: name it
        where = store.display(store.location(*parts))
        why = exc.__cause__ or exc
        raise InputError(f"{where}: cannot read the rows to fix ({why}); score the period again") from exc
    return pl.DataFrame(schema=_SCHEMA) if frame is None else frame


@dataclass(frozen=True)
class FixRule:
    rule: str
    title: str
    table: str
    failed: int
    key: tuple[str, ...]  # the table's primary key columns
    columns: tuple[str, ...]  # every column of the rows, key first
    rows: tuple[dict[str, Any], ...]  # masked, at most max_rows
    severity: str = ""
    points: float = 0.0  # overall-score points the rule costs the unit (dq explain)
    fix: str = ""  # the rule's fix advice
    table_title: str = ""  # the table's title from the catalogue


def _latest_run(store: Store, period: str, unit_id: str) -> str:
    scores = store.scores(period)
    mine = scores.filter(pl.col("unit_id") == unit_id) if not scores.is_empty() else scores
    if mine.is_empty():
        raise InputError(f"{store.root}: no score of unit {unit_id} for {period} (run `dq score` first)")
    return str(mine["run_id"][0])


def fix_rules(
    store: Store,
    period: str,
    unit_id: str,
    lang: str = "zh",
    max_rows: int = DEFAULT_MAX_ROWS,
    catalogue: Catalogue | None = None,
    run_id: str | None = None,
    results: pl.DataFrame | None = None,
) -> list[FixRule]:
    """Each failing rule of the unit's latest run with its rows to fix (capped at ``max_rows``),
    in the order of the results (``run_id`` and that run's ``results`` of the unit, when the
    caller has them, save reading the store)."""
    cat = catalogue or load_catalogue()
    run_id = run_id or _latest_run(store, period, unit_id)
    stored = read_fix_rows(store, period, unit_id, run_id)
    if stored.is_empty():
        return []
    if results is None:
        results = store.results(period, unit_id, run_id=run_id)
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for rule, row in stored.sort(["rule", "n"]).select("rule", "row").iter_rows():
        by_rule.setdefault(rule, []).append(json.loads(row))
    out = []
    maps = pii_maps(cat)
    points = _points(store, period, unit_id, run_id, results)
    for r in results.iter_rows(named=True):
        got = by_rule.get(r["rule"])
        if not got:
            continue
        table = str(r["table"] or "")
        spec = cat.tables.get(table)
        key = tuple(spec.key) if spec else ()
        mask = _masker(table, cat, maps)
        rows = tuple(mask(x) for x in got[: max(0, max_rows)])
        columns = tuple(
            dict.fromkeys([*(k for k in key if any(k in x for x in rows)), *(k for x in rows for k in x)])
        )
        title = (
            (r.get(f"title_{lang}") or r.get("title_zh") or r["rule"]) if lang in ("zh", "en") else r["rule"]
        )
        fix = (r.get(f"fix_{lang}") or r.get("fix_zh") or "") if lang in ("zh", "en") else ""
        out.append(
            FixRule(
                r["rule"],
                str(title),
                table,
                int(r["failed"] or 0),
                key,
                columns,
                rows,
                severity=str(r.get("severity") or ""),
                points=points.get(r["rule"], 0.0),
                fix=str(fix).strip(),
                table_title=(spec.title_zh if lang == "zh" else spec.title_en) if spec else "",
            )
        )
    # most overall-score points first: what to fix first
    return sorted(out, key=lambda f: (-f.points, f.rule))


def _points(store: Store, period: str, unit_id: str, run_id: str, results: pl.DataFrame) -> dict[str, float]:
    """Each rule's loss of the unit's score of that run, in overall-score points."""
    from dq.scoring.explain import rule_losses

    scores = store.scores(period)
    mine = (
        scores.filter((pl.col("unit_id") == unit_id) & (pl.col("run_id") == run_id))
        if not scores.is_empty()
        else scores
    )
    score = mine["score"][0] if not mine.is_empty() else None
    if score is None or results.is_empty():
        return {}
    return {x.rule: x.points for x in rule_losses(results.to_dicts(), float(score))}


def _masker(table: str, cat: Catalogue, maps):
    """mask_sample (dq.io.masking) for many rows of one table, the pii maps computed once: the
    stored rows were masked by the engine already; this masks them again, as the report does."""
    per_table, anywhere = maps
    own = per_table.get(table, {})
    cache: dict[str, str | None] = {}

    def how_of(key: str) -> str | None:
        if key not in cache:
            base = key.removesuffix("__raw")
            how = own.get(base)
            if how is None and "__" in base:
                other, col = base.split("__", 1)
                how = per_table.get(other, {}).get(col) or anywhere.get(col)
            cache[key] = how or anywhere.get(base)
        return cache[key]

    scales: dict[str, int | None] = {}

    def scaled(key: str, v: Any) -> Any:  # a decimal to its column's scale: -105.96000000000001 → -105.96
        if key not in scales:
            scales[key] = cat.scale(table, key)
        s = scales[key]
        return round(v, s) if s is not None and isinstance(v, float) and math.isfinite(v) else v

    def mask(row: dict[str, Any]) -> dict[str, Any]:
        return {k: (mask_value(v, h) if (h := how_of(k)) else scaled(k, v)) for k, v in row.items()}

    return mask


def fix_file_names(unit_id: str) -> tuple[str, str]:
    """(csv, xlsx) file names of a unit's rows to fix, beside its report."""
    safe = safe_filename(unit_id)
    return f"{safe}_fix.csv", f"{safe}_fix.xlsx"


def _text(v: Any) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)


def _pairs(row: Mapping[str, Any], cols: Sequence[str]) -> str:
    return "; ".join(f"{c}={_text(row.get(c))}" for c in cols if c in row)


_HEAD = {
    "zh": ("规则", "规则名称", "表", "不合格行数", "列出行数", "主键", "相关字段"),
    "en": ("rule", "title", "table", "failed", "shown", "key", "values"),
}
_SUMMARY = {
    "zh": (
        "规则",
        "规则名称",
        "数据表",
        "表名",
        "严重程度",
        "失分（总分）",
        "不合格行数",
        "列出行数",
        "整改建议",
    ),
    "en": (
        "rule",
        "title",
        "table",
        "table name",
        "severity",
        "points lost",
        "failed",
        "shown",
        "how to fix",
    ),
}
_SEVERITY = {
    "zh": {"critical": "严重", "error": "错误", "warning": "警告"},
    "en": {"critical": "critical", "error": "error", "warning": "warning"},
}


def _csv(rules: Sequence[FixRule], lang: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(_HEAD.get(lang, _HEAD["en"]))
    for fr in rules:
        key = [c for c in fr.key if c in fr.columns]
        rest = [c for c in fr.columns if c not in key]
        for row in fr.rows:
            w.writerow(
                [fr.rule, fr.title, fr.table, fr.failed, len(fr.rows), _pairs(row, key), _pairs(row, rest)]
            )
    return "\ufeff" + buf.getvalue()


def _cell(ws, row: int, col: int, v: Any, fmt=None) -> None:
    """A number as a number (so it sums and sorts), text as text, nothing for null."""
    if v is None:
        return
    if isinstance(v, bool):
        ws.write_string(row, col, str(v), fmt)
    elif isinstance(v, int | float) and math.isfinite(v):
        ws.write_number(row, col, v, fmt)
    else:
        ws.write_string(row, col, _text(v), fmt)


def _xlsx(rules: Sequence[FixRule], path: Path, lang: str) -> None:
    import xlsxwriter

    tmp = path.with_name(f".{path.name}.tmp")
    wb = xlsxwriter.Workbook(
        str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False, "in_memory": True}
    )
    try:
        bold = wb.add_format({"bold": True})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        pts = wb.add_format({"num_format": "0.00"})
        summary = wb.add_worksheet("summary" if lang == "en" else "汇总")
        head = _SUMMARY.get(lang, _SUMMARY["en"])
        summary.write_row(0, 0, head, bold)
        sev = _SEVERITY.get(lang, _SEVERITY["en"])
        used: set[str] = set()
        for i, fr in enumerate(rules, start=1):
            name = "".join(ch for ch in fr.rule if ch not in "[]:*?/\\")[:31] or f"rule{i}"
            while name in used:
                name = f"{name[:28]}_{i}"
            used.add(name)
            summary.write_url(i, 0, f"internal:'{name}'!A1", string=fr.rule)
            summary.write_string(i, 1, fr.title)
            summary.write_string(i, 2, fr.table_title or fr.table)
            summary.write_string(i, 3, fr.table)
            summary.write_string(i, 4, sev.get(fr.severity, fr.severity))
            summary.write_number(i, 5, fr.points, pts)
            summary.write_number(i, 6, fr.failed)
            summary.write_number(i, 7, len(fr.rows))
            summary.write_string(i, 8, fr.fix, wrap)
            ws = wb.add_worksheet(name)
            ws.write(0, 0, f"{fr.rule} {fr.title} ({fr.table_title or fr.table} {fr.table})", bold)
            ws.write_row(1, 0, fr.columns, bold)
            for j, row in enumerate(fr.rows, start=2):
                for c, col in enumerate(fr.columns):
                    _cell(ws, j, c, row.get(col))
            ws.freeze_panes(2, 0)
            ws.autofilter(1, 0, max(1, len(fr.rows) + 1), max(0, len(fr.columns) - 1))
            ws.set_column(0, max(0, len(fr.columns) - 1), 18)
        summary.freeze_panes(1, 0)
        summary.autofilter(0, 0, max(1, len(rules)), len(head) - 1)
        summary.set_column(1, 1, 36)
        summary.set_column(2, 3, 16)
        summary.set_column(5, 7, 11)
        summary.set_column(8, 8, 60)
        wb.close()
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_fix_files(
    store: Store,
    period: str,
    unit_id: str,
    folder: str | Path,
    lang: str = "zh",
    max_rows: int = DEFAULT_MAX_ROWS,
    rules: Sequence[FixRule] | None = None,
    **known: Any,
) -> list[Path]:
    """Write ``<unit>_fix.csv`` and ``<unit>_fix.xlsx`` into ``folder`` (the period's report
    folder); nothing when the unit has no rows to fix. Returns the paths written."""
    rules = list(rules) if rules is not None else fix_rules(store, period, unit_id, lang, max_rows, **known)
    if not rules:
        return []
    folder = ensure_dir(Path(folder))
    csv_name, xlsx_name = fix_file_names(unit_id)
    written = [atomic_write_text(folder / csv_name, _csv(rules, lang))]
    try:
        _xlsx(rules, folder / xlsx_name, lang)
    except OSError as exc:
        raise OutputError(f"{folder / xlsx_name}: cannot write ({exc.strerror or exc})") from exc
    written.append(folder / xlsx_name)
    return written
