"""Draft a catalogue entry and a suite from data: profile a table file or a whole extract.

    drafts = suggest("orders.csv", project=project)          # one Draft per table
    drafts[0].catalogue_yaml     # the table's catalogue entry (None when the catalogue has it)
    drafts[0].suite_yaml         # a draft suite, each rule with its evidence as a YAML comment

What is proposed, and from what (every figure is written beside the rule):

- ``columns_present`` and ``row_count`` ≥ 1 for every table;
- ``not_null`` for a column filled in at least :data:`COMPLETE` of the rows;
- ``date_parse`` for every number, date and datetime column (text that does not parse);
- ``in_set`` for a text column of at most :data:`MAX_CODES` distinct values (codes); a value
  seen at most twice that does not look like the others is left out, and named in the comment;
- ``regex`` from a text column's dominant shape (``A`` letters, ``9`` digits) when at least
  :data:`SHAPE_SHARE` of the values have it;
- ``unique`` for a key-like column (complete, distinct in at least :data:`KEY_SHARE` of the rows);
- ``between`` from robust ranges of number columns (quartiles ± :data:`FENCE` × IQR over the
  values, widened to the values inside the fence, padded by :data:`PAD`);
- ``not_future`` for date and datetime columns, ``compare`` (order) between two date columns
  when one is not before the other in at least :data:`ORDER_SHARE` of the rows;
- ``foreign_key`` between tables of an extract when a column's values are (almost all) among
  another table's key values;
- ``id_card`` where the values are resident ID numbers (GB 11643).

A column's type (for a table the catalogue does not declare) is the first of datetime, date,
int, decimal that at least :data:`TYPE_SHARE` of its non-blank values parse as; else text.
Thresholds below 100 % let the draft learn from data that already has a few defects: a planted
null, bad code or duplicate is found by the rule drafted from the same file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from dq.errors import UsageError
from dq.io.catalogue import Catalogue, Column, TableSpec
from dq.io.columns import is_internal, parse_temporal
from dq.io.sources import TABLE_SUFFIXES, read_table

if TYPE_CHECKING:
    from dq.project import Project

__all__ = [
    "COMPLETE",
    "Draft",
    "suggest",
    "taken_prefixes",
    "write_drafts",
]

TYPE_SHARE = 0.95
COMPLETE = 0.99
MAX_CODES = 20
SHAPE_SHARE = 0.95
KEY_SHARE = 0.99
ORDER_SHARE = 0.99
FK_SHARE = 0.99
FENCE = 3.0
PAD = 0.50
_ID_NAME = re.compile(r"(^|_)(id|no|code|cd|num|number|key)$", re.IGNORECASE)
_ID_18 = re.compile(r"^[0-9]{17}[0-9Xx]$")
_PHONE = re.compile(r"(^|_)(phone|mobile|tel|telephone)($|_)", re.IGNORECASE)
_IDNO = re.compile(r"(^|_)(id_no|id_card|idcard|id_number|ssn)($|_)", re.IGNORECASE)
_PERSON = re.compile(r"^(name|patient_name|person_name|full_name|customer_name)$", re.IGNORECASE)
_CODE_NAME = re.compile(r"(code|type|flag|method|status|kind|class|level|sex|gender|cd)$", re.IGNORECASE)
_SHAPE_CHARS = re.compile(r"^[9Aa\-_./: @+#]+$")


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    type: str
    rows: int
    filled: int
    distinct: int
    counts: Mapping[str, int] = field(default_factory=dict)  # value -> rows (text codes only)
    shape: tuple[str, float] | None = None  # (regex, share of the filled values)
    lo: Any = None
    hi: Any = None
    fence: tuple[Any, Any] | None = None  # (min, max) of the values inside the robust fence
    outside: int = 0  # values outside the fence
    negative: int = 0  # values below zero
    log: bool = False  # the fence was drawn on a log scale (skewed amounts)
    unparsed: int = 0  # text that did not parse as the column's type
    ids: float = 0.0  # share of the values that are 18-character resident ID numbers

    @property
    def fill(self) -> float:
        return self.filled / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class Draft:
    """What :func:`suggest` proposes for one table."""

    table: str
    path: Path
    rows: int
    declared: bool  # the project's catalogue already has the table
    spec: TableSpec
    profiles: tuple[ColumnProfile, ...]
    rules: tuple[dict[str, Any], ...]  # in the suite language, each with "evidence"
    catalogue_yaml: str | None
    suite_yaml: str


# -- reading and typing -----------------------------------------------------------------------
def _table_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UsageError(f"{path}: no such file or folder")
    files = sorted(
        f
        for f in path.iterdir()
        if f.is_file()
        and f.suffix.lower() in TABLE_SUFFIXES
        and not f.name.startswith(".")
        and f.stem != "reference"
    )
    if not files:
        raise UsageError(f"{path}: no table files ({', '.join(TABLE_SUFFIXES)}) in this folder")
    return files


def _text_type(name: str, values: pl.Series) -> str:
    """The catalogue type most (TYPE_SHARE) of the non-blank text ``values`` parse as."""
    n = len(values)
    if n == 0:
        return "str"
    frame = values.to_frame("v").lazy()
    idish = bool(_ID_NAME.search(name))
    got = (
        frame.select(
            dt=parse_temporal(pl.col("v"), "datetime").is_not_null().sum(),
            d=parse_temporal(pl.col("v"), "date").is_not_null().sum(),
            timeish=pl.col("v").str.contains(r"[0-9]{2}:[0-9]{2}|^[0-9]{14}$").sum(),
            int_=pl.col("v").str.contains(r"^[+-]?(0|[1-9][0-9]{0,17})$").sum(),
            dec=pl.col("v").str.contains(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$").sum(),
            lead0=pl.col("v").str.contains(r"^0[0-9]").sum(),
        )
        .collect()
        .row(0, named=True)
    )
    share = {k: v / n for k, v in got.items()}
    if share["lead0"] > 0 or idish or _PHONE.search(name) or _IDNO.search(name):
        return "str"  # codes and identifiers keep their leading zeros
    if share["timeish"] >= TYPE_SHARE and share["dt"] >= TYPE_SHARE:
        return "datetime"
    if share["d"] >= TYPE_SHARE:
        return "date"
    if share["int_"] >= TYPE_SHARE:
        # a handful of small whole numbers over many rows are codes (1 男 2 女), kept as text
        small = values.filter(values.str.contains(r"^[0-9]{1,2}$"))
        if n >= 50 and len(small) == n and small.n_unique() <= 10 and bool(_CODE_NAME.search(name)):
            return "str"
        return "int"
    if share["dec"] >= TYPE_SHARE:
        return "decimal"
    return "str"


_DTYPES = (
    (lambda t: t == pl.String or t == pl.Categorical, "str"),
    (lambda t: t.is_integer(), "int"),
    (lambda t: t.is_float() or t.is_decimal(), "decimal"),
    (lambda t: t == pl.Date, "date"),
    (lambda t: t == pl.Datetime, "datetime"),
)


def _infer_spec(name: str, frame: pl.LazyFrame, kind: str) -> TableSpec:
    schema = {c: t for c, t in frame.collect_schema().items() if not is_internal(c)}
    text = [c for c, t in schema.items() if t == pl.String]
    df = frame.select(text).collect() if text else pl.DataFrame()
    cols = []
    for c, t in schema.items():
        if t == pl.String:
            v = df[c].str.strip_chars()
            typ = _text_type(c, v.filter(v.is_not_null() & (v != "")))
        else:
            typ = next((k for test, k in _DTYPES if test(t)), "str")
        cols.append(Column(c, typ))
    return TableSpec(name=name, kind=kind, title_zh=name, title_en=name, columns=tuple(cols))


# -- profiling ----------------------------------------------------------------------------------
def _frac(values: pl.Series) -> float:
    """The mean of a boolean or number series as a float (0 for an empty one)."""
    v = values.mean()
    return float(v) if isinstance(v, int | float) else 0.0


def _escape(text: str) -> str:
    """``text`` as a literal in a pattern, escaping only what a pattern would read otherwise."""
    return "".join("\\" + c if c in ".^$*+?{}[]\\|()" else c for c in text)


def _shape_regex(shape: str) -> str:
    out = []
    for m in re.finditer(r"9+|A+|a+|[^9Aa]", shape):
        run = m.group(0)
        cls = {"9": "[0-9]", "A": "[A-Z]", "a": "[a-z]"}.get(run[0])
        if cls is None:
            out.append(_escape(run))
        else:
            out.append(cls + (f"{{{len(run)}}}" if len(run) > 1 else ""))
    return "^" + "".join(out) + "$"


def _shape_of(values: pl.Series) -> tuple[str, float, str] | None:
    """The dominant shape of text values: (regex, share, shape as 9/A/a). Runs of digits or
    letters may vary in length: the regex allows the lengths seen (``[A-Z]{2,3}``)."""
    if values.is_empty():
        return None
    shapes = (
        values.str.replace_all(r"[0-9]", "9").str.replace_all(r"[A-Z]", "A").str.replace_all(r"[a-z]", "a")
    )
    top = shapes.value_counts(sort=True).row(0)
    shape, n = str(top[0]), int(top[1])
    if not _SHAPE_CHARS.match(shape) or len(shape) > 40:
        return None
    if n == len(values):
        return _shape_regex(shape), 1.0, shape
    # Some values differ: try the same runs with their lengths free.
    runs = shapes.str.replace_all(r"9+", "9").str.replace_all(r"A+", "A").str.replace_all(r"a+", "a")
    top_runs = runs.value_counts(sort=True).row(0)
    general, m = str(top_runs[0]), int(top_runs[1])
    if m <= n or not _SHAPE_CHARS.match(general):
        return _shape_regex(shape), n / len(values), shape
    chosen = shapes.filter(runs == general).unique().to_list()
    lengths = [[len(r) for r in re.findall(r"9+|A+|a+|[^9Aa]", str(c))] for c in chosen]
    parts = []
    for i, tok in enumerate(re.findall(r"9|A|a|[^9Aa]", general)):
        cls = {"9": "[0-9]", "A": "[A-Z]", "a": "[a-z]"}.get(tok)
        if cls is None:
            parts.append(_escape(tok))
            continue
        lo, hi = min(x[i] for x in lengths), max(x[i] for x in lengths)
        parts.append(cls + ("" if lo == hi == 1 else f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}"))
    return "^" + "".join(parts) + "$", m / len(values), general


def _profile(spec: TableSpec, frame: pl.LazyFrame) -> tuple[int, list[ColumnProfile]]:
    schema = frame.collect_schema()
    df = frame.collect()
    rows = df.height
    out = []
    for col in spec.columns:
        if col.name not in schema:
            continue
        s = df[col.name]
        raw = df[f"{col.name}__raw"] if f"{col.name}__raw" in schema else None
        if s.dtype == pl.String:
            t = s.str.strip_chars()
            filled_mask = t.is_not_null() & (t != "")
        else:
            filled_mask = s.is_not_null()
            if raw is not None:  # text that did not parse is filled in, wrongly
                filled_mask = filled_mask | (raw.str.strip_chars().fill_null("") != "")
        filled = int(filled_mask.sum())
        vals = s.filter(s.is_not_null())
        if s.dtype == pl.String:
            vals = vals.str.strip_chars()
            vals = vals.filter(vals != "")
        unparsed = 0
        if raw is not None:
            unparsed = int(((raw.str.strip_chars().fill_null("") != "") & s.is_null()).sum())
        p: dict[str, Any] = dict(
            name=col.name,
            type=col.type,
            rows=rows,
            filled=filled,
            distinct=int(vals.n_unique()),
            unparsed=unparsed,
        )
        if col.type == "str" and not vals.is_empty():
            if p["distinct"] <= MAX_CODES * 3:
                vc = vals.value_counts(sort=True)
                p["counts"] = {str(r[0]): int(r[1]) for r in vc.iter_rows()}
            shape = _shape_of(vals)
            if shape:
                p["shape"] = shape[:2]
            p["ids"] = _frac(vals.str.contains(_ID_18.pattern))
        if col.type in ("int", "decimal") and not vals.is_empty():
            v = vals.cast(pl.Float64)
            pos = v.filter(v > 0)
            q1, q3 = pos.quantile(0.25) or 0, pos.quantile(0.75) or 0
            nonneg = _frac(v >= 0) >= 0.99
            if nonneg and len(pos) >= 10 and q1 > 0 and q3 / q1 > 1.5:
                # skewed amounts (fees, quantities): the fence on a log scale
                lq1, lq3 = math.log(q1), math.log(q3)
                lo_f, hi_f = 0.0, math.exp(lq3 + FENCE * (lq3 - lq1))
                p["log"] = True
            else:
                q1, q3 = v.quantile(0.25) or 0, v.quantile(0.75) or 0
                iqr = q3 - q1
                lo_f, hi_f = q1 - FENCE * iqr, q3 + FENCE * iqr
            inside = v.filter((v >= lo_f) & (v <= hi_f))
            if len(v) - len(inside) > 0.01 * len(v):  # that many are not defects: part of the range
                inside = v
            p["lo"], p["hi"] = v.min(), v.max()
            if not inside.is_empty():
                p["fence"] = (inside.min(), inside.max())
            p["outside"] = len(v) - len(inside)
            p["negative"] = int((v < 0).sum())
        if col.type in ("date", "datetime") and not vals.is_empty():
            p["lo"], p["hi"] = vals.min(), vals.max()
        out.append(ColumnProfile(**p))
    return rows, out


# -- rules --------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{100 * x:.1f} %" if x < 1 else "100 %"


def _nice(x: float, up: bool) -> float | int:
    """A round bound just outside ``x``: 2 significant digits, away from the values."""
    if x == 0:
        return 0
    mag = 10 ** (math.floor(math.log10(abs(x))) - 1)
    v = (math.ceil(x / mag) if up else math.floor(x / mag)) * mag
    v = round(v, 10)
    return int(v) if float(v).is_integer() else v


def _prefix(table: str, taken: set[str]) -> str:
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", table) if p]
    base = "".join(p[0] for p in parts).upper() if len(parts) > 1 else table[:3].upper()
    base = re.sub(r"[^A-Z0-9]", "", base) or "T"
    prefix, n = base, 2
    while prefix in taken:
        prefix, n = f"{base}{n}", n + 1
    return prefix


def _code_values(p: ColumnProfile) -> tuple[list[str], list[tuple[str, int]]]:
    """The codes to accept and the rare odd-looking values left out (value, rows)."""
    counts = dict(p.counts)
    if not counts:
        return [], []
    shapes: dict[str, int] = {}

    def shape(v: str) -> str:
        return re.sub(r"[a-z]", "a", re.sub(r"[A-Z]", "A", re.sub(r"[0-9]", "9", v)))

    for v, n in counts.items():
        shapes[shape(v)] = shapes.get(shape(v), 0) + n
    common = {s for s, n in shapes.items() if n > 2}
    keep, left = [], []
    for v, n in counts.items():
        if n <= 2 and n / max(p.filled, 1) <= 0.01 and shape(v) not in common:
            left.append((v, n))
        else:
            keep.append(v)
    return sorted(keep), left


def _is_code(p: ColumnProfile) -> bool:
    """A closed set of codes: few values, none of them rare (a value seen once or twice among
    hundreds says the list goes on beyond this data), and not an identifier."""
    if p.type != "str" or not p.counts or p.filled < 10:
        return False
    if _ID_NAME.search(p.name) and not _CODE_NAME.search(p.name):
        return False
    keep, _ = _code_values(p)
    return 1 <= len(keep) <= MAX_CODES and min(p.counts[v] for v in keep) >= 3


def _is_key(p: ColumnProfile, first: bool) -> bool:
    return (
        p.type in ("str", "int")
        and p.fill >= 0.99
        and p.filled > 1
        and p.distinct >= KEY_SHARE * p.filled
        and (bool(_ID_NAME.search(p.name)) or first)
    )


def _pii(p: ColumnProfile) -> str | None:
    if p.type != "str":
        return None
    if _IDNO.search(p.name) or p.ids >= 0.9:
        return "id"
    if _PHONE.search(p.name):
        return "phone"
    if _PERSON.match(p.name):
        return "name"
    return None


def _rules(
    table: str,
    spec: TableSpec,
    profiles: Sequence[ColumnProfile],
    keys: Mapping[str, tuple[str, set[str]]],
    values: Mapping[str, set[str]],
    prefix: str,
    now: datetime,
) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    counters = {"0": 1, "1": 10, "100": 100, "200": 200, "300": 300, "400": 400}

    def add(
        block: str,
        check: str,
        params: dict[str, Any],
        title: str,
        dimension: str,
        evidence: str,
        severity: str = "error",
    ) -> None:
        n = counters[block]
        counters[block] = n + 1
        rules.append(
            {
                "id": f"{prefix}-{n:03d}",
                "title": {"zh": title, "en": title},
                "dimension": dimension,
                "severity": severity,
                "check": check,
                "params": params,
                "evidence": evidence,
            }
        )

    by_name = {p.name: p for p in profiles}
    add(
        "0",
        "columns_present",
        {},
        f"{table}: the declared columns are present",
        "completeness",
        f"{len(profiles)} columns in the file",
        "critical",
    )
    add(
        "0",
        "row_count",
        {"min": 1},
        f"{table}: the table has rows",
        "completeness",
        f"{profiles[0].rows if profiles else 0:,} rows",
    )
    first = profiles[0].name if profiles else None
    key = next((p.name for p in profiles if _is_key(p, p.name == first)), None)
    for p in profiles:
        if p.fill >= COMPLETE:
            add(
                "1",
                "not_null",
                {"column": p.name},
                f"{p.name} present",
                "completeness",
                f"filled in {_pct(p.fill)} of {p.rows:,} rows",
                "critical" if p.name == key else "error",
            )
    for p in profiles:
        if p.type != "str":
            params = (
                {"column": p.name, "type": p.type} if p.type in ("date", "datetime") else {"column": p.name}
            )
            add(
                "100",
                "date_parse",
                params,
                f"{p.name} is a valid {p.type}",
                "conformance",
                f"type {p.type}: {p.unparsed:,} of {p.filled:,} values do not parse",
            )
    for p in profiles:
        if p.name == key:
            continue
        pii = _pii(p)
        if pii == "id" and p.ids >= KEY_SHARE:
            add(
                "100",
                "id_card",
                {"column": p.name},
                f"{p.name} is a valid resident ID number",
                "conformance",
                f"{_pct(p.ids)} of the values are 18-character ID numbers",
            )
            continue
        if _is_code(p):
            keep, left = _code_values(p)
            shown = ", ".join(f"{v} ({p.counts[v]:,})" for v in keep[:8]) + (" …" if len(keep) > 8 else "")
            ev = f"{len(keep)} codes in {p.filled:,} values: {shown}"
            if left:
                ev += "; left out as rare and unlike the others: " + ", ".join(
                    f"{v!r} ({n})" for v, n in left
                )
            add(
                "100",
                "in_set",
                {"column": p.name, "values": keep},
                f"{p.name} is one of its codes",
                "conformance",
                ev,
            )
        elif p.shape is not None and p.shape[1] >= SHAPE_SHARE and pii != "name":
            add(
                "100",
                "regex",
                {"column": p.name, "pattern": p.shape[0]},
                f"{p.name} has its usual form",
                "conformance",
                f"{_pct(p.shape[1])} of {p.filled:,} values have this shape",
            )
    if key is not None:
        kp = by_name[key]
        add(
            "200",
            "unique",
            {"columns": [key]},
            f"{key} is unique",
            "uniqueness",
            f"{kp.distinct:,} distinct values in {kp.filled:,} filled rows",
            "critical",
        )
    for p in profiles:
        if p.name == key or p.type not in ("str", "int"):
            continue
        mine = values.get(p.name)
        if not mine or len(mine) < 2:
            continue
        for other, (ocol, okeys) in keys.items():
            if other == table:
                continue
            inside = len(mine & okeys) / len(mine)
            if inside >= FK_SHARE and (p.name == ocol or len(mine) >= 10):
                add(
                    "300",
                    "foreign_key",
                    {"column": p.name, "references": f"{other}.{ocol}"},
                    f"{p.name} refers to an existing {other}.{ocol}",
                    "consistency",
                    f"{_pct(inside)} of {len(mine):,} distinct values are keys of {other}",
                    "critical",
                )
                break
    for p in profiles:
        if p.type in ("int", "decimal") and p.fence is not None and p.name != key:
            lo, hi = p.fence
            pad = PAD * ((hi - lo) or abs(hi) or 1)
            low = 0 if lo >= 0 and lo - pad < 0 else _nice(lo - pad, up=False)
            if p.negative and p.negative <= 0.01 * p.filled:  # a few below zero: defects, not the range
                low = 0
            high = _nice(max(hi * 5, hi + pad) if p.log else hi + pad, up=True)
            if p.type == "int":
                low, high = int(low), int(high) if float(high).is_integer() else int(high) + 1
            ev = f"values {p.lo:g}..{p.hi:g}; {p.fence[0]:g}..{p.fence[1]:g} inside the robust fence"
            ev += f" ({p.outside:,} outside)" if p.outside else ""
            ev += f"; {p.negative:,} below zero, taken for defects" if low == 0 and p.negative else ""
            add(
                "400",
                "between",
                {"column": p.name, "min": low, "max": high},
                f"{p.name} in its usual range",
                "plausibility",
                ev,
            )
    temporal = [p for p in profiles if p.type in ("date", "datetime") and p.hi is not None]
    for p in temporal:
        hi = p.hi if isinstance(p.hi, datetime) else datetime.combine(p.hi, datetime.min.time())
        if hi <= now:
            add(
                "400",
                "not_future",
                {"column": p.name},
                f"{p.name} is not in the future",
                "plausibility",
                f"latest value {p.hi}",
            )
    return rules


def _manifest_period(folder: Path) -> tuple[datetime, datetime] | None:
    """The month of an extract's ``manifest.yaml``, if it names one."""
    from dq.errors import DQError
    from dq.io.period import Period
    from dq.io.sources import read_manifest

    if not (folder / "manifest.yaml").is_file():
        return None
    try:
        period = read_manifest(folder / "manifest.yaml", None).get("period")
        if not period:
            return None
        month = Period.parse(str(period))
        return month.start, month.end
    except DQError:
        return None


def _next_id(rules: Sequence[Mapping[str, Any]], block: str, prefix: str) -> str:
    used = [int(r["id"].rsplit("-", 1)[1]) for r in rules if r["id"].rsplit("-", 1)[1][0] == block[0]]
    return f"{prefix}-{max(used, default=int(block) - 1) + 1:03d}"


def _rule(
    rid: str, check: str, params: dict[str, Any], title: str, dim: str, evidence: str
) -> dict[str, Any]:
    return {
        "id": rid,
        "title": {"zh": title, "en": title},
        "dimension": dim,
        "severity": "error",
        "check": check,
        "params": params,
        "evidence": evidence,
    }


def _domain_rules(
    table: str,
    spec: TableSpec,
    profiles: Sequence[ColumnProfile],
    frame: pl.DataFrame,
    prefix: str,
    rules: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The checks that know health data (ICD-10, ICD-9-CM-3, resident ID numbers and their birth
    date and sex), proposed where they hold for nearly every value (KEY_SHARE)."""
    from dq.engine.evaluate import evaluate_frame
    from dq.engine.results import Status
    from dq.engine.suite import suite_from_data

    have = {(r["check"], r["params"].get("column")) for r in rules}
    text = [q for q in profiles if q.type == "str" and q.filled >= 10 and not _is_code(q)]
    dates = [q.name for q in profiles if q.type == "date"]
    codes = [q.name for q in profiles if q.type == "str" and q.counts and 2 <= len(q.counts) <= 4]
    candidates: list[dict[str, Any]] = []
    for q in text:
        for check in ("icd10", "icd9cm3", "id_card"):
            if (check, q.name) not in have:
                candidates.append({"check": check, "params": {"column": q.name}})
        if q.ids >= 0.5:
            for d in dates:
                for c in codes:
                    candidates.append(
                        {"check": "id_card_matches", "params": {"column": q.name, "birth_date": d, "sex": c}}
                    )
    if not candidates:
        return []
    raw = {
        "suite": "suggest",
        "table": table,
        "rules": [
            {**c, "id": f"C{i}", "title": f"C{i}", "dimension": "conformance"}
            for i, c in enumerate(candidates)
        ],
    }
    cat = Catalogue({table: spec}, {})
    try:
        suite = suite_from_data(raw, "<suggest>", cat)
        _, results = evaluate_frame(frame.lazy(), list(suite.rules), table, catalogue=cat, samples=0)
    except Exception:  # a candidate that cannot run is simply not proposed
        return []
    out: list[dict[str, Any]] = []
    done: set[str] = set()
    for cand, r in zip(candidates, results, strict=True):
        col = cand["params"]["column"]
        n = next(q for q in profiles if q.name == col).filled
        judged = r.status in (Status.PASS, Status.FAIL, Status.WARN)
        if not judged or not r.evaluated or r.evaluated < 0.5 * n:
            continue
        share = 1 - r.failed / r.evaluated
        key = cand["check"] + ":" + col
        if share < KEY_SHARE or key in done or (cand["check"] in ("icd10", "icd9cm3") and col in done):
            continue
        done |= {key, col} if cand["check"] in ("icd10", "icd9cm3") else {key}
        params = dict(cand["params"])
        ev = f"{_pct(share)} of {r.evaluated:,} values pass"
        if cand["check"] == "id_card":
            legacy = int(frame[col].cast(pl.String).str.strip_chars().str.len_chars().eq(15).sum())
            params["allow_legacy"] = legacy > 0
            ev += f"; {legacy:,} legacy 15-digit numbers"
        titles = {
            "icd10": f"{col} is an ICD-10 code",
            "icd9cm3": f"{col} is an ICD-9-CM-3 code",
            "id_card": f"{col} is a valid resident ID number",
            "id_card_matches": f"{col} agrees with {params.get('birth_date')} and {params.get('sex')}",
        }
        block = "300" if cand["check"] == "id_card_matches" else "100"
        rid = _next_id([*rules, *out], block, prefix)
        out.append(
            _rule(
                rid,
                cand["check"],
                params,
                titles[cand["check"]],
                "consistency" if block == "300" else "conformance",
                ev,
            )
        )
    return out


def _time_rules(
    profiles: Sequence[ColumnProfile],
    frame: pl.DataFrame,
    prefix: str,
    rules: Sequence[Mapping[str, Any]],
    month: tuple[datetime, datetime] | None,
) -> list[dict[str, Any]]:
    """``in_period`` for a date column whose values (nearly) all fall in the extract's month, and
    ``upload_timeliness`` between an event time and an upload time that follows it closely."""
    out: list[dict[str, Any]] = []
    temporal = [q for q in profiles if q.type in ("date", "datetime") and q.filled]
    for q in temporal:
        v = frame[q.name].drop_nulls().cast(pl.Datetime("us"))
        if v.is_empty() or "upload" in q.name:
            continue
        if month is not None:
            inside = _frac((v >= month[0]) & (v < month[1]))
            if inside >= ORDER_SHARE:
                out.append(
                    _rule(
                        _next_id([*rules, *out], "400", prefix),
                        "in_period",
                        {"column": q.name},
                        f"{q.name} in the audited month",
                        "plausibility",
                        f"{_pct(inside)} of {len(v):,} values in {month[0]:%Y-%m}",
                    )
                )
    uploads = [q for q in temporal if "upload" in q.name]
    for up in uploads:
        for q in temporal:
            if q is up or "upload" in q.name:
                continue
            both = frame.select(q.name, up.name).drop_nulls()
            if both.height < 10:
                continue
            lag = (
                both[up.name].cast(pl.Datetime("us")) - both[q.name].cast(pl.Datetime("us"))
            ).dt.total_seconds()
            if _frac(lag >= -3600) < ORDER_SHARE:
                continue
            days = math.ceil(max(float(lag.quantile(0.999) or 0), 0) / 86400) or 1
            if days > 2:  # not an upload lag: the row is uploaded when a later event happens
                continue
            out.append(
                _rule(
                    _next_id([*rules, *out], "500", prefix),
                    "upload_timeliness",
                    {"column": q.name, "upload_column": up.name, "max_days": days},
                    f"{q.name} uploaded within {days} day(s)",
                    "timeliness",
                    f"99.9 % of {both.height:,} rows uploaded within {days} day(s) of {q.name}",
                )
            )
    return out


def _identities(
    profiles: Sequence[ColumnProfile], frame: pl.DataFrame, prefix: str, rules: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Arithmetic identities between number columns that hold (within 0.01) on KEY_SHARE of the
    rows: ``a == b * c`` (amount = quantity × price) and ``a == b - c`` (self-pay = total −
    insurance)."""
    nums = [q.name for q in profiles if q.type in ("int", "decimal") and q.fill >= 0.5][:8]
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for a in nums:
        for b in nums:
            for c in nums:
                if len({a, b, c}) < 3 or a in seen:
                    continue
                for op, expr in (("*", pl.col(b) * pl.col(c)), ("-", pl.col(b) - pl.col(c))):
                    if op == "*" and b > c:
                        continue
                    got = frame.select(((pl.col(a) - expr).abs() <= 0.01 + 1e-9).alias("ok")).drop_nulls()[
                        "ok"
                    ]
                    if len(got) < 10 or _frac(got) < KEY_SHARE:
                        continue
                    seen.add(a)
                    share = _frac(got)
                    out.append(
                        _rule(
                            _next_id([*rules, *out], "300", prefix),
                            "compare",
                            {"left": a, "op": "==", "right": f"{b} {op} {c}", "tolerance": 0.01},
                            f"{a} = {b} {op} {c}",
                            "consistency",
                            f"{a} = {b} {op} {c} (± 0.01) in {_pct(share)} of {len(got):,} rows",
                        )
                    )
                    break
    return out


def _before_upload(frame: pl.DataFrame, column: str) -> bool:
    """Whether a date column is (almost always) on or before its row's upload day, as
    ``not_future`` judges a date when the table has an ``upload_time`` (e.g. not an end date)."""
    if frame.schema.get(column) != pl.Date or "upload_time" not in frame.columns:
        return True
    if not frame.schema["upload_time"].is_temporal():
        return True
    both = frame.select(column, pl.col("upload_time").cast(pl.Date)).drop_nulls()
    return both.height == 0 or _frac(both[column] <= both["upload_time"]) >= ORDER_SHARE


def _orders(frame: pl.DataFrame, temporal: Sequence[str]) -> list[tuple[str, str, float, int]]:
    """Pairs (later, earlier, share, rows) where ``later >= earlier`` in ORDER_SHARE of the rows
    that have both (and not always equal)."""
    out = []
    for i, a in enumerate(temporal):
        for b in temporal[i + 1 :]:
            both = frame.select(a, b).drop_nulls()
            n = both.height
            if n < 2:
                continue
            ge = int((both[a] >= both[b]).sum())
            le = int((both[a] <= both[b]).sum())
            eq = int((both[a] == both[b]).sum())
            if eq == n:
                continue
            if ge / n >= ORDER_SHARE and ge >= le:
                out.append((a, b, ge / n, n))
            elif le / n >= ORDER_SHARE:
                out.append((b, a, le / n, n))
    return out


# -- output -------------------------------------------------------------------------------------
def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, date | datetime):
        return json.dumps(str(v))
    return json.dumps(str(v), ensure_ascii=False)


def _flow(v: Any) -> str:
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}: {_flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    return _scalar(v)


def catalogue_yaml(spec: TableSpec, code_sets: Mapping[str, list[str]] | None = None) -> str:
    """The lines that declare ``spec`` under ``tables:`` of a catalogue (indented by 2)."""
    lines = [
        f"  {spec.name}:",
        f"    kind: {spec.kind or 'any'}",
        f"    title: {{zh: {_scalar(spec.title_zh)}, en: {_scalar(spec.title_en)}}}",
    ]
    if spec.key:
        lines.append(f"    key: {_flow(list(spec.key))}")
    if spec.event_time:
        lines.append(f"    event_time: {spec.event_time}")
    if spec.links:
        lines.append("    links: " + _flow(dict(spec.links)))
    lines.append("    columns:")
    for c in spec.columns:
        entry: dict[str, Any] = {"name": c.name, "type": c.type}
        if c.required:
            entry["required"] = True
        if c.pii:
            entry["pii"] = c.pii
        if c.format:
            entry["format"] = c.format
        lines.append(f"      - {_flow(entry)}")
    return "\n".join(lines) + "\n"


def suite_yaml(table: str, rules: Sequence[Mapping[str, Any]], source: str) -> str:
    out = [
        f"# Draft suite for table {table}, learnt by `dq suggest` from {source}.",
        "# Every rule says on what evidence it was proposed: check each against the specification,",
        "# drop what is a coincidence of this data, then run `dq suites validate`.",
        f"suite: project.{table}",
        f"title: {{zh: {_scalar(table)}, en: {_scalar(table)}}}",
        f"table: {table}",
        "kind: any",
        "defaults: {severity: error, threshold: {max_fraction: 0}, weight: 1}",
        "rules:",
    ]
    for r in rules:
        out.append(f"  # {r['evidence']}")
        out.append(f"  - id: {r['id']}")
        out.append(f"    title: {_flow(r['title'])}")
        out.append(f"    dimension: {r['dimension']}")
        out.append(f"    severity: {r['severity']}")
        out.append(f"    check: {r['check']}")
        out.append(f"    params: {_flow(r['params'])}")
    return "\n".join(out) + "\n"


# -- the function -------------------------------------------------------------------------------
def suggest(
    path: str | Path,
    table: str | None = None,
    *,
    project: Project | None = None,
    catalogue: Catalogue | None = None,
    taken_prefixes: Iterable[str] = (),
    now: datetime | None = None,
) -> list[Draft]:
    """Profile a table file (its table: ``table``, else the file's name) or every table file of an
    extract folder, and draft each table's catalogue entry (when the catalogue does not declare it)
    and suite. Nothing is written; :mod:`dq.cli._suggest` writes the drafts."""
    from dq.io.catalogue import load_catalogue

    cat = catalogue or (project.catalogue() if project is not None else load_catalogue())
    p = Path(path)
    files = _table_files(p)
    if table is not None and len(files) > 1:
        raise UsageError(f"{p}: --table names the table of a single file, not of a folder")
    now = now or datetime.now()
    taken = set(taken_prefixes)
    month = _manifest_period(p) if p.is_dir() else None
    read: list[tuple[str, Path, TableSpec, pl.LazyFrame, bool]] = []
    for f in files:
        name = table or f.stem
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
            raise UsageError(f"{f}: {name!r} cannot name a table (letters, digits, _); give --table NAME")
        spec = cat.table(name)
        declared = spec is not None
        if spec is None:
            raw = read_table(f, table=name, catalogue=Catalogue({}, {}), encoding=None).frame
            spec = _infer_spec(name, raw, "any")
            lf = read_table(f, table=name, catalogue=Catalogue({name: spec}, {})).frame
        else:
            lf = read_table(f, table=name, catalogue=cat).frame
        read.append((name, f, spec, lf, declared))

    profiled = []
    keys: dict[str, tuple[str, set[str]]] = {}
    distinct: dict[str, dict[str, set[str]]] = {}
    for name, f, spec, lf, declared in read:
        rows, profiles = _profile(spec, lf)
        df = lf.collect()
        first = profiles[0].name if profiles else None
        key = next((q.name for q in profiles if _is_key(q, q.name == first)), None)
        distinct[name] = {
            q.name: set(df[q.name].drop_nulls().cast(pl.String).unique().to_list())
            for q in profiles
            if q.type in ("str", "int") and q.distinct <= 200_000
        }
        if key is not None and key in distinct[name]:
            keys[name] = (key, distinct[name][key])
        profiled.append((name, f, spec, declared, rows, profiles, df, key))

    drafts = []
    for name, f, spec, declared, rows, profiles, df, key in profiled:
        prefix = _prefix(name, taken)
        taken.add(prefix)
        rules = _rules(name, spec, profiles, keys, distinct[name], prefix, now)
        rules = [r for r in rules if r["check"] != "not_future" or _before_upload(df, r["params"]["column"])]
        rules += _domain_rules(name, spec, profiles, df, prefix, rules)
        orders = _orders(df, [q.name for q in profiles if q.type in ("date", "datetime")])
        earlier = {e for later, e, _, _ in orders if "upload" not in later}
        timed = [q for q in profiles if q.name not in earlier or "upload" in q.name]
        rules += _time_rules(timed, df, prefix, rules, month)
        rules += _identities(profiles, df, prefix, rules)
        n = 1 + max(
            [int(r["id"].rsplit("-", 1)[1]) for r in rules if r["id"].rsplit("-", 1)[1][0] == "4"] or [399]
        )
        for later, first, share, both in orders:
            rules.append(
                {
                    "id": f"{prefix}-{n:03d}",
                    "title": {"zh": f"{later} 不早于 {first}", "en": f"{later} not before {first}"},
                    "dimension": "plausibility",
                    "severity": "error",
                    "check": "compare",
                    "params": {"left": later, "op": ">=", "right": first},
                    "evidence": f"{later} >= {first} in {_pct(share)} of {both:,} rows with both",
                }
            )
            n += 1
        links = tuple(
            (r["params"]["column"], r["params"]["references"]) for r in rules if r["check"] == "foreign_key"
        )
        by = {q.name: q for q in profiles}
        if not declared:
            cols = tuple(
                dataclasses.replace(
                    c,
                    required=by[c.name].fill >= COMPLETE if c.name in by else False,
                    pii=_pii(by[c.name]) if c.name in by else None,
                )
                for c in spec.columns
            )
            event = next((q.name for q in profiles if q.type == "datetime"), None)
            spec = dataclasses.replace(
                spec, columns=cols, key=(key,) if key else (), event_time=event, links=links
            )
        drafts.append(
            Draft(
                table=name,
                path=f,
                rows=rows,
                declared=declared,
                spec=spec,
                profiles=tuple(profiles),
                rules=tuple(rules),
                catalogue_yaml=None if declared else catalogue_yaml(spec),
                suite_yaml=suite_yaml(name, rules, f.name),
            )
        )
    return drafts


def taken_prefixes(suites: Iterable[Any]) -> set[str]:
    """The rule-id prefixes (``OV`` of ``OV-013``) the given suites already use."""
    return {r.id.rsplit("-", 1)[0] for s in suites for r in s.rules}


def write_drafts(
    drafts: Sequence[Draft], project: Project, *, out: str | Path | None = None, force: bool = False
) -> list[Path]:
    """Write the drafts into ``project``: each suite to ``out`` (a file for one table, else a
    folder; default: the project's first suite folder) and each new table's entry appended under
    ``tables:`` of the project's catalogue, which is read back (and restored if it no longer
    reads). The bundled project is never written to: give ``out``. Returns the files written."""
    from dq.errors import OutputError
    from dq.io.catalogue import parse_catalogue
    from dq.io.outputs import atomic_write_text

    if project.bundled and out is None:
        raise UsageError("the bundled specification is not edited: give --out, or make a project (dq init)")
    written: list[Path] = []
    targets: list[tuple[Draft, Path]] = []
    for d in drafts:
        if out is not None and len(drafts) == 1 and Path(out).suffix in (".yaml", ".yml"):
            target = Path(out)
        else:
            folder = (
                Path(out)
                if out is not None
                else (project.suite_paths[0] if project.suite_paths else project.root / "suites")
            )
            target = folder / f"{d.table}.yaml"
        if target.exists() and not force:
            raise OutputError(f"{target}: exists; give --force to replace it, or --out FILE")
        targets.append((d, target))
    new = [d for d in drafts if d.catalogue_yaml]
    if new and not project.bundled:
        path = project.catalogue_path
        before = path.read_text(encoding="utf-8") if path.exists() else "version: 1\ntables:\n"
        lines = before.rstrip("\n").splitlines()
        last_top = next((ln for ln in reversed(lines) if ln and not ln.startswith((" ", "#"))), "")
        if not re.match(r"^tables:\s*(\{\s*\})?\s*(#.*)?$", last_top) and not re.match(r"^tables:", last_top):
            raise OutputError(
                f"{path}: `tables:` is not its last section; add the entries yourself:\n"
                + "".join(d.catalogue_yaml or "" for d in new)
            )
        text = before.rstrip("\n") + "\n"
        text = re.sub(r"^tables:\s*\{\s*\}\s*$", "tables:", text, flags=re.MULTILINE)
        text += "".join(d.catalogue_yaml or "" for d in new)
        atomic_write_text(path, text)
        _, problems = parse_catalogue(path)
        if problems:
            atomic_write_text(path, before)
            raise OutputError(
                f"{path}: the new entries do not read ({problems[0]}); the catalogue is unchanged"
            )
        written.append(path)
    for d, target in targets:
        atomic_write_text(target, d.suite_yaml)
        written.append(target)
    return written
