"""Rows to fix: the failing rows of each rule of a unit, each with where it is in the upload.

A hospital fixes data in its own system, so it needs to find each failing row there. When a
batch is scored (:func:`dq.batch.local.score_batch`, ``fix_rows``), the engine keeps, for every failing
row-level rule, up to ``fix_rows`` failing rows (default 1000): where the row is (``__dq_at``:
the CSV line, the xlsx sheet and row, the Parquet row, the database row id --
:func:`dq.io.sources.row_locators`), the catalogue's patient column, the row's time, the table's
primary key and the rule's columns, masked like the report's samples. They are stored beside the
results::

    <store>/fixrows/period=2020-09/<run_id>__<unit>.parquet   run_id, unit_id, rule, table, n, row (JSON)

and written next to the unit report by :func:`write_fix_files`::

    reports/2020-09/H022_fix.csv    UTF-8 with a byte-order mark, so Excel opens it as UTF-8
    reports/2020-09/H022_fix.xlsx   a summary sheet by points lost, one sheet per rule

CSV columns: rule, title, table, failed (the rule's failing rows), shown, file, line (or row),
patient (masked), time, key and values (``就诊流水号 (visit_id)=…; …``). The workbook's rule
sheets have the file and line, then one column per field headed ``就诊时间 (visit_time)``, numbers
as numbers with their column's scale; every sheet an autofilter and a frozen header. Patient
identifiers and the patient's number are masked (dq/io/masking.py).
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
from dq.io.columns import LOCATOR, RAW_SUFFIX, ROW_INDEX
from dq.io.masking import clean_value, mask_value, pii_maps
from dq.io.outputs import atomic_write_text, ensure_dir, safe_filename
from dq.store.history import FIXROW_SCHEMA, Run, Store

__all__ = [
    "DEFAULT_MAX_ROWS",
    "FixRule",
    "fix_file_names",
    "fix_rules",
    "locate",
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
    columns: tuple[str, ...]  # every column of the rows, key first (no locator, no __raw copy)
    rows: tuple[dict[str, Any], ...]  # masked, at most max_rows; LOCATOR: where the row is
    severity: str = ""
    points: float = 0.0  # overall-score points the rule costs the unit (dq explain)
    fix: str = ""  # the rule's fix advice
    table_title: str = ""  # the table's title from the catalogue
    patient: str | None = None  # the column naming the patient (masked), if the table has one
    time: str | None = None  # the column giving the row's time (event time, else upload time)
    headers: tuple[str, ...] = ()  # each column as a reader sees it: "就诊时间 (visit_time)"
    types: tuple[str, ...] = ()  # each column's catalogue type ("" when unknown)
    scales: tuple[int | None, ...] = ()  # each column's scale (decimals)


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
        patient = spec.patient if spec else None
        time = (spec.event_time or ("upload_time" if spec.column("upload_time") else None)) if spec else None
        mask = _masker(table, cat, maps, patient)
        rows = tuple(_folded(mask(x)) for x in got[: max(0, max_rows)])
        seen = [k for x in rows for k in x if k not in (LOCATOR, ROW_INDEX)]
        front = [c for c in (patient, time, *key) if c and c in seen]
        columns = tuple(dict.fromkeys([*front, *seen]))
        title = (
            (r.get(f"title_{lang}") or r.get("title_zh") or r["rule"]) if lang in ("zh", "en") else r["rule"]
        )
        fix = (r.get(f"fix_{lang}") or r.get("fix_zh") or "") if lang in ("zh", "en") else ""
        column_specs = [spec.column(c) if spec else None for c in columns]
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
                patient=patient if patient in columns else None,
                time=time if time in columns else None,
                headers=tuple(cat.heading(table, c, lang) for c in columns),
                types=tuple(c.type if c else "" for c in column_specs),
                scales=tuple(cat.scale(table, c) for c in columns),
            )
        )
    # most overall-score points first: what to fix first
    return sorted(out, key=lambda f: (-f.points, f.rule))


def _folded(row: dict[str, Any]) -> dict[str, Any]:
    """A row with each ``<column>__raw`` (the text as uploaded) folded into its column: the
    typed value where it parsed, else the uploaded text, so that one column shows what the
    hospital sent. The row number the engine kept is dropped (the locator says where it is)."""
    out = {k: v for k, v in row.items() if not k.endswith(RAW_SUFFIX) and k != ROW_INDEX}
    for k, v in row.items():
        if k.endswith(RAW_SUFFIX):
            base = k.removesuffix(RAW_SUFFIX)
            if out.get(base) is None:
                out[base] = v
    return out


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


def _masker(table: str, cat: Catalogue, maps, patient: str | None = None):
    """mask_sample (dq.io.masking) for many rows of one table, the pii maps computed once: the
    stored rows were masked by the engine already; this masks them again, as the report does,
    and the patient's number (the catalogue's ``patient`` column) too."""
    per_table, anywhere = maps
    own = per_table.get(table, {})
    cache: dict[str, str | None] = {}

    def how_of(key: str) -> str | None:
        if key not in cache:
            base = key.removesuffix("__raw")
            how = own.get(base)
            if how is None and "__" in base and not base.startswith("__"):
                other, col = base.split("__", 1)
                how = per_table.get(other, {}).get(col) or anywhere.get(col)
            if how is None and patient is not None and base == patient:
                how = "patient"
            cache[key] = how or anywhere.get(base)
        return cache[key]

    scales: dict[str, int | None] = {}

    def scaled(key: str, v: Any) -> Any:  # a decimal to its column's scale: -105.96000000000001 → -105.96
        if key not in scales:
            scales[key] = cat.scale(table, key)
        s = scales[key]
        return round(v, s) if s is not None and isinstance(v, float) and math.isfinite(v) else v

    def mask(row: dict[str, Any]) -> dict[str, Any]:
        out = {k: (mask_value(v, h) if (h := how_of(k)) else scaled(k, v)) for k, v in row.items()}
        return {k: v if k == LOCATOR else clean_value(v) for k, v in out.items()}

    return mask


def fix_file_names(unit_id: str) -> tuple[str, str]:
    """(csv, xlsx) file names of a unit's rows to fix, beside its report."""
    safe = safe_filename(unit_id)
    return f"{safe}_fix.csv", f"{safe}_fix.xlsx"


def _text(v: Any) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)


_WHERE = {
    "zh": {"db": "数据库表 {table}，{column} = {value}", "sheet": "{file}，工作表 {sheet}"},
    "en": {"db": "database table {table}, {column} = {value}", "sheet": "{file}, sheet {sheet}"},
}


def locate(row: Mapping[str, Any], lang: str = "zh") -> tuple[str, int | None]:
    """Where a row to fix is, for a reader: (the file, sheet or database table, the line or row
    number in it). CSV: the physical line, the header being line 1; xlsx: the row Excel shows;
    Parquet: the row number from 1; a database: its row id (then no number). ("", None) when
    the row was read without one (a database table without a row id: its key finds it)."""
    at = row.get(LOCATOR)
    if not isinstance(at, Mapping):
        return "", None
    words = _WHERE.get(lang, _WHERE["en"])
    if "table" in at:
        return words["db"].format(**{k: at.get(k, "") for k in ("table", "column", "value")}), None
    number = at.get("line", at.get("row"))
    number = number if isinstance(number, int) and not isinstance(number, bool) else None
    if "sheet" in at:
        return words["sheet"].format(file=at.get("file", ""), sheet=at.get("sheet", "")), number
    return str(at.get("file", "")), number


def _pairs(row: Mapping[str, Any], cols: Sequence[str], names: Mapping[str, str]) -> str:
    return "; ".join(f"{names.get(c, c)}={_text(row.get(c))}" for c in cols if c in row)


_HEAD = {
    "zh": (
        "规则",
        "规则名称",
        "数据表",
        "不合格行数",
        "列出行数",
        "所在文件",
        "行号",
        "患者编号（已脱敏）",
        "时间",
        "主键",
        "相关字段",
    ),
    "en": (
        "rule",
        "title",
        "table",
        "failed",
        "shown",
        "file",
        "line or row",
        "patient (masked)",
        "time",
        "key",
        "values",
    ),
}
_LOCATOR_HEAD = {"zh": ("所在文件", "行号"), "en": ("file", "line or row")}
_SUMMARY = {
    "zh": (
        "规则",
        "规则名称",
        "数据表",
        "表名",
        "严重程度",
        "失分（综合得分）",
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
_SEVERITY = {  # as the report names them (dq.report.i18n severity_*)
    "zh": {"critical": "严重", "error": "错误", "warning": "提示"},
    "en": {"critical": "critical", "error": "error", "warning": "warning"},
}


def _csv(rules: Sequence[FixRule], lang: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(_HEAD.get(lang, _HEAD["en"]))
    for fr in rules:
        names = dict(zip(fr.columns, fr.headers, strict=True)) if fr.headers else {}
        key = [c for c in fr.key if c in fr.columns]
        rest = [c for c in fr.columns if c not in key and c not in (fr.patient, fr.time)]
        table = (
            f"{fr.table_title} ({fr.table})" if fr.table_title and fr.table_title != fr.table else fr.table
        )
        for row in fr.rows:
            where, number = locate(row, lang)
            patient = _text(row.get(fr.patient)) if fr.patient else ""
            time = f"{names.get(fr.time, fr.time)} {_text(row.get(fr.time))}" if fr.time else ""
            w.writerow([
                fr.rule, fr.title, table, fr.failed, len(fr.rows), where, "" if number is None else number,
                patient, time, _pairs(row, key, names), _pairs(row, rest, names),
            ])  # fmt: skip
    return "\ufeff" + buf.getvalue()


def _number(v: Any, typ: str) -> float | int | None:
    """A value of a number column as a number (an uploaded text that reads as one, too)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return v if math.isfinite(v) else None
    if typ in ("int", "decimal") and isinstance(v, str):
        try:
            x = float(v.strip())
        except ValueError:
            return None
        if not math.isfinite(x):
            return None
        return int(x) if typ == "int" and x.is_integer() else x
    return None


def _cell(ws, row: int, col: int, v: Any, fmt=None, typ: str = "") -> None:
    """A number as a number (so it sums and sorts), text as text, nothing for null."""
    if v is None:
        return
    n = _number(v, typ)
    if n is not None:
        ws.write_number(row, col, n, fmt)
    else:
        ws.write_string(row, col, _text(v))


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
        whole = wb.add_format({"num_format": "0"})
        by_scale: dict[int | None, Any] = {None: wb.add_format({"num_format": "General"})}
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
            summary.write_number(i, 6, fr.failed, whole)
            summary.write_number(i, 7, len(fr.rows), whole)
            summary.write_string(i, 8, fr.fix, wrap)
            ws = wb.add_worksheet(name)
            ws.write(0, 0, f"{fr.rule} {fr.title} ({fr.table_title or fr.table} {fr.table})", bold)
            headers = fr.headers or fr.columns
            types = fr.types or ("",) * len(fr.columns)
            scales = fr.scales or (None,) * len(fr.columns)
            ws.write_row(1, 0, [*_LOCATOR_HEAD.get(lang, _LOCATOR_HEAD["en"]), *headers], bold)
            formats = []
            for typ, scale in zip(types, scales, strict=True):
                if typ == "int":
                    formats.append(whole)
                elif typ == "decimal":
                    if scale not in by_scale:
                        by_scale[scale] = wb.add_format({"num_format": "0." + "0" * scale if scale else "0"})
                    formats.append(by_scale[scale])
                else:
                    formats.append(None)
            for j, row in enumerate(fr.rows, start=2):
                where, number = locate(row, lang)
                ws.write_string(j, 0, where)
                if number is not None:
                    ws.write_number(j, 1, number, whole)
                for c, col in enumerate(fr.columns, start=2):
                    _cell(ws, j, c, row.get(col), formats[c - 2], types[c - 2])
            last = len(fr.columns) + 1
            ws.freeze_panes(2, 0)
            ws.autofilter(1, 0, max(1, len(fr.rows) + 1), last)
            ws.set_column(0, 0, 24)
            ws.set_column(1, 1, 8)
            ws.set_column(2, last, 20)
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
