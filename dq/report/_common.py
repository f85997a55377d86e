"""Shared pieces of the report views: small records, formatting and pure helpers, labels.

The pure helpers (:func:`classify_changes`, :func:`growth`, :func:`sample_table`,
:func:`threshold_text`, :func:`rank_of`) are what the unit tests check. Every label comes from
:mod:`dq.report.i18n`, so a view is complete in one language.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from dq.engine.results import Status
from dq.io.catalogue import Catalogue
from dq.io.columns import RAW_SUFFIX, is_internal
from dq.io.masking import mask_sample
from dq.report.i18n import tr
from dq.scoring.scores import rank_units

FAILING = (Status.FAIL, Status.WARN)
KINDS_ORDER = ("district", "hospital")
RATE_STATUSES = ("reported", "no_reference", "not_published", "not_applicable")
GENERIC_MESSAGE = re.compile(r"^\d+ of \d+ fail \([\d.]+%\)$")
MAX_SAMPLE_ROWS = 5
MAX_CELL = 80


# ----------------------------------------------------------------------------- small pieces
@dataclass(frozen=True)
class Bar:
    """One labelled score (a dimension or a part); ``score`` None = nothing evaluated."""

    key: str
    label: str
    score: float | None
    note: str = ""


@dataclass(frozen=True)
class TrendPoint:
    period: str
    label: str
    score: float | None
    current: bool = False
    flagged: bool = False  # a history rule warned or failed that month


@dataclass(frozen=True)
class Day:
    day: int
    weekday: int  # 0 = Monday
    uploaded: bool


@dataclass(frozen=True)
class SampleTable:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    headers: tuple[str, ...] = ()  # what the reader sees above each column (column_header)


def column_header(table: str, column: str, cat: Catalogue, lang: str) -> str:
    """A sample column as a reader sees it: the catalogue's label with the field name beside,
    ``就诊时间 (visit_time)``; a column looked up from another table, ``patient_index__name``
    → ``患者基本信息·姓名 (name)``; a ``__raw`` copy (the text as uploaded) as its column."""
    return cat.heading(table, column, lang)


def table_label(table: str, cat: Catalogue, lang: str) -> str:
    """A table as a reader names it: the catalogue's title (门急诊就诊记录), the submission
    summary as 上报情况 / Submission; an unknown table as given."""
    if table == "submission_summary":
        return tr(lang, "table_submission")
    spec = cat.table(table)
    if spec is None:
        return table
    return spec.title_zh if lang == "zh" else spec.title_en


def fold_raw(row: Mapping[str, Any]) -> dict[str, Any]:
    """A sample row as a reader sees it: each ``<column>__raw`` (the text as uploaded, kept by
    the reader beside a parsed column) folded into its column -- the parsed value where there
    is one, else the text that could not be parsed -- and dq's own columns (the row number,
    ``__dq…``) left out."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if is_internal(k):
            continue
        base = k.removesuffix(RAW_SUFFIX)
        if base == k:
            if v is not None or k not in out:
                out[k] = v
        elif out.get(base) is None:
            out[base] = v if row.get(base) is None else row[base]
    return out


# ----------------------------------------------------------------------------- pure helpers
def fmt_pct(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}%"


def fmt_num(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def threshold_text(
    max_fraction: float | None, max_count: int | None, lang: str, unit: str | None = None
) -> str:
    """The rule's threshold in words: no failure allowed, a share, or a count (of ``unit``:
    rows by default, or days, tables, items of the submission)."""
    parts = []
    if max_fraction:
        parts.append(tr(lang, "threshold_fraction", pct=fmt_pct(100 * max_fraction).replace(".00%", "%")))
    if max_count:
        parts.append(tr(lang, "threshold_count", n=max_count, unit=unit or tr(lang, "unit_rows")))
    if not parts:
        return tr(lang, "threshold_none")
    return ("；" if lang == "zh" else "; ").join(parts)


def report_filename(unit_id: str) -> str:
    """The unit report's file name (the unit id, reduced to safe characters)."""
    from dq.io.outputs import safe_filename

    return f"{safe_filename(str(unit_id))}.html"


def column_scale(table: str, column: str, cat: Catalogue) -> int | None:
    """The catalogue's scale of a decimal column of ``table`` (a looked-up column
    ``other__col`` is ``other``'s); None for other columns."""
    return cat.scale(table, column)


def _cell(value: Any, lang: str, scale: int | None = None) -> str:
    if value is None:
        return "（空）" if lang == "zh" else "(empty)"
    if isinstance(value, str) and not value.strip():  # blank values shown, not left invisible
        if not value:
            return "（空字符串）" if lang == "zh" else "(empty string)"
        return f"（{len(value)} 个空白字符）" if lang == "zh" else f"({len(value)} blank characters)"
    if isinstance(value, float) and scale is not None and math.isfinite(value):
        return f"{value:.{scale}f}"  # the column's scale: -105.96000000000001 → -105.96
    if isinstance(value, float):  # binary noise off elsewhere too
        return f"{value:.10g}"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def sample_table(samples: str | Sequence[Mapping[str, Any]] | None, table: str, cat: Catalogue, lang: str):
    """The stored samples (JSON text or rows) as a small masked table."""
    if isinstance(samples, str):
        try:
            rows = json.loads(samples) if samples.strip() else []
        except json.JSONDecodeError:
            rows = []
    else:
        rows = list(samples or [])
    rows = [r for r in rows if isinstance(r, Mapping)][:MAX_SAMPLE_ROWS]
    masked = [fold_raw(mask_sample(dict(r), table, cat)) for r in rows]
    columns = tuple(dict.fromkeys(k for r in masked for k in r))
    scales = [column_scale(table, c, cat) for c in columns]
    body = tuple(
        tuple(_cell(r.get(c), lang, s) for c, s in zip(columns, scales, strict=True)) for r in masked
    )
    return SampleTable(columns, body, tuple(column_header(table, c, cat, lang) for c in columns))


def classify_changes(
    current: Iterable[Mapping[str, Any]], previous: Iterable[Mapping[str, Any]] | None
) -> dict[str, list[str]]:
    """Compare two runs' rule results (dicts with ``rule`` and ``status``).

    Returns rule ids by class: ``new`` (failing now, not failing before), ``persisting`` (failing
    in both), ``fixed`` (failing before, passing now) and ``gone`` (failing before, neither failing
    nor passing now: could not run, not applicable or absent). Failing = status fail or warn.
    With no previous run (``previous`` None) every list is empty: there is nothing to compare.
    """
    out: dict[str, list[str]] = {"fixed": [], "new": [], "persisting": [], "gone": []}
    if previous is None:
        return out
    now = {r["rule"]: r["status"] for r in current}
    before = {r["rule"]: r["status"] for r in previous}
    for rule, status in now.items():
        if status in FAILING:
            out["persisting" if before.get(rule) in FAILING else "new"].append(rule)
    for rule, status in before.items():
        if status not in FAILING or now.get(rule) in FAILING:
            continue
        out["fixed" if now.get(rule) == Status.PASS else "gone"].append(rule)
    return {k: sorted(v) for k, v in out.items()}


def rank_of(scores: pl.DataFrame, unit_id: str) -> tuple[int | None, int | None]:
    """(rank, number of ranked units) of ``unit_id`` among the units of its kind (1 = best)."""
    if scores.is_empty() or unit_id not in scores["unit_id"].to_list():
        return None, None
    ranked = rank_units(scores.select("unit_id", "kind", "score").with_columns(pl.col("kind").fill_null("")))
    row = ranked.filter(pl.col("unit_id") == unit_id).row(0, named=True)
    return row["rank"], (row["of"] if row["rank"] is not None else None)


def growth(pairs: Sequence[tuple[float, float]]) -> tuple[float | None, float | None, int]:
    """(mean over units of (after − before) / before × 100, relative change of the mean × 100, n).

    Units with a before score of 0 have no relative change and are left out of the first measure
    (n counts the units it averages); the second uses every pair.
    """
    rel = [(a - b) / b * 100 for b, a in pairs if b]
    per_unit = sum(rel) / len(rel) if rel else None
    mean_b = sum(b for b, _ in pairs) / len(pairs) if pairs else None
    mean_a = sum(a for _, a in pairs) / len(pairs) if pairs else None
    of_mean = (mean_a - mean_b) / mean_b * 100 if mean_b else None  # type: ignore[operator]
    return per_unit, of_mean, len(rel)


# ----------------------------------------------------------------------------- labels
def kind_label(kind: str | None, lang: str, plural: bool = False) -> str:
    k = kind if kind in KINDS_ORDER else "other"
    return tr(lang, f"kinds_{k}" if plural else f"kind_{k}")


def kind_of(kind: str | None) -> str:
    return kind if kind in KINDS_ORDER else "other"


def grade_name(grade: str | None, lang: str) -> str:
    return tr(lang, f"grade_{grade}") if grade in ("A", "B", "C", "D") else ""


def rule_title(row: Mapping[str, Any], lang: str) -> str:
    own = row.get(f"title_{lang}") or ""
    other = row.get("title_en" if lang == "zh" else "title_zh") or ""
    return own or other or str(row.get("rule") or "")


def short_error(error: str, period: str) -> str:
    """The batch's error without the server's folders: ``/srv/batch/2020-09/H1/x`` → ``H1/x``;
    names in it masked (:func:`dq.io.masking.mask_text`), also in errors stored before dq masked
    them when storing."""
    from dq.io.masking import mask_text

    return mask_text(re.sub(r"[^\s'\"]*/" + re.escape(period) + "/", "", error), 2000)


def generated_now() -> str:
    return datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M")
