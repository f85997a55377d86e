"""Check the newsletter CSVs in this folder against the newsletters' extracted text.

Run ``python datasets/nanjing/verify.py`` (exit 0 when all is well, 1 with one line per problem
otherwise) or call :func:`verify_all` from a test.

For every CSV row the printed row is rebuilt from the cells (``64`` and ``133`` become ``64/133``,
a 合计 row gets its printed prefix such as ``合计：``) and searched for in the source text, inside
the region of the table's own heading. Matching is tolerant only of what PDF extraction does:

* all whitespace (newlines, tabs, runs of spaces) is collapsed to one space;
* whitespace next to a non-ASCII character is optional, so a cell wrapped over lines
  (``未获取\\n\\n卫统数据``) or spaced around digits (``南京卫生 12320 微信平台``) still matches;
* between two ASCII characters nothing changes: ``64/133`` must be printed as ``64/133`` and two
  adjacent numbers must be separated by whitespace.

Rows of one-record-per-line tables must be found in CSV order. Two-records-per-line tables
(``序号 单位 合计 序号 单位 合计``) must have ``seq`` 1..n. Grouped tables (排班开放 类型,
2020 终端 医疗单位/各区) must have each row under its printed group label. The expected row
counts (合计 rows included) and headers are declared in :data:`TABLES` below; the source texts
are byte-checked against :data:`SOURCES`.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOTAL = "合计"

#: period -> (file under sources/, sha256 of the file)
SOURCES: dict[str, tuple[str, str]] = {
    "2018-03": (
        "000_572dad04b507adb4.txt",
        "3e02d5c4b63741c868a7050efd12aee4720a288973a383a3c8cef0903baa4366",
    ),
    "2020-09": (
        "001_5e0c7b3c44a8db1b.txt",
        "fc22e237ae92d7616add38fa8e7815dddd05641351acf5ebb61a1dd7ad37c2ad",
    ),
}

# A layout item is a column name, a literal ("=text"), or a tuple of columns printed joined by
# "/" (empty cells and their "/" are left out: 开库采集 has no "/required" part).
Item = str | tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """What one CSV must look like and where its rows are printed."""

    columns: tuple[str, ...]
    rows: int  # data rows including 合计 rows
    start: str  # text at the start of the table's region (heading)
    end: str  # text just after the table's region
    layout: tuple[Item, ...]  # how a row is printed
    total_layout: tuple[Item, ...] | None = None  # how the 合计 row is printed (None: layout)
    key: str = "unit"  # the column holding the unit (or 合计)
    ordered: bool = True  # rows printed one per line in CSV order
    group: tuple[str, dict[str, str]] | None = None  # (column, value -> printed label)
    totals: int = 1  # number of 合计 rows expected (always last)


COLLECTION_D18 = (
    "unit",
    "declared_tables",
    "required_tables",
    "uploaded_tables",
    "data_volume",
    "upload_days",
    "outpatient_uploaded",
    "outpatient_rate",
    "discharge_uploaded",
    "discharge_rate",
    "records_basic",
    "records_hypertension",
    "records_diabetes",
    "browser_deployments",
    "browser_calls",
    "smart_alert_deployments",
    "smart_alert_calls",
)
COLLECTION_H18 = tuple(c for c in COLLECTION_D18 if not c.startswith("records_"))
COLLECTION_D20 = (
    "unit",
    "declared_tables",
    "required_tables",
    "uploaded_tables",
    "data_volume",
    "upload_days",
    "outpatient_uploaded",
    "discharge_uploaded",
    "records_basic",
    "records_hypertension",
    "records_diabetes",
)
COLLECTION_H20 = tuple(c for c in COLLECTION_D20 if not c.startswith("records_"))
APPOINTMENTS = ("seq", "unit", "platform_12320", "phone", "clinic", "third_party", "total")
HOTLINE_CALLS = ("category", "label", "count", "measure")


def _collection_layout(columns: tuple[str, ...]) -> tuple[Item, ...]:
    pairs = {
        "declared_tables": ("declared_tables", "required_tables"),
        "browser_deployments": ("browser_deployments", "browser_calls"),
        "smart_alert_deployments": ("smart_alert_deployments", "smart_alert_calls"),
    }
    skip = {"required_tables", "browser_calls", "smart_alert_calls"}
    return tuple(pairs.get(c, c) for c in columns if c not in skip)


TABLES: dict[str, Table] = {
    # ---------------------------------------------------------------- 2018-03
    "2018-03_hotline_calls.csv": Table(
        columns=HOTLINE_CALLS,
        rows=10,
        start="南京 12320 卫生热线 2018 年 3月数据统计",
        end="3 月，全省 12320 共接听电话",
        layout=("label", "count", "measure"),
        key="category",
        ordered=False,
    ),
    "2018-03_hotline_cities.csv": Table(
        columns=("city", "calls"),
        rows=10,
        start="3 月，全省 12320",
        end="2018 年 3 月预约挂号服务统计表",
        layout=("city", "calls"),
        total_layout=("=共接听电话", "calls", "=人次"),
        key="city",
        ordered=False,
    ),
    "2018-03_appointments.csv": Table(
        columns=APPOINTMENTS,
        rows=45,
        start="2018 年 3 月预约挂号服务统计表",
        end="（截止 3 月底，总预约挂号量",
        layout=APPOINTMENTS,
    ),
    "2018-03_medical_cards.csv": Table(
        columns=("seq", "unit", "cards_issued"),
        rows=31,
        start="2018 年 3 月市民卡（医疗卡）开卡量统计表",
        end="（截止 3 月底，总开卡量",
        layout=("seq", "unit", "cards_issued"),
        total_layout=("=合计：", "cards_issued"),
        ordered=False,
    ),
    "2018-03_appointment_channels.csv": Table(
        columns=("seq", "channel", "appointments"),
        rows=14,
        start="2018 年 3 月分途径预约情况统计",
        end="2018 年 3 月医学检验检查报告上传情况统计",
        layout=("seq", "channel", "appointments"),
        total_layout=("=合计：", "appointments"),
        key="channel",
        ordered=False,
    ),
    "2018-03_test_report_uploads.csv": Table(
        columns=("seq", "unit", "uploaded_reports"),
        rows=23,
        start="2018 年 3 月南京 12320 家庭医生预约统计表",
        end="行政区 进度",
        layout=("seq", "unit", "uploaded_reports"),
        total_layout=("=合计：", "uploaded_reports"),
        ordered=False,
    ),
    "2018-03_family_doctor.csv": Table(
        columns=(
            "unit",
            "progress",
            "community_orgs_appointment",
            "community_orgs_rehab_bed",
            "admins_district_bureau",
            "admins_community",
            "contracted_doctors",
            "appointments_to_date",
            "appointments_month",
        ),
        rows=13,
        start="行政区 进度",
        end="2018 年 3 月南京市各医疗卫生机构排班开放统计表",
        layout=(
            "unit",
            "progress",
            "community_orgs_appointment",
            "community_orgs_rehab_bed",
            "admins_district_bureau",
            "admins_community",
            "contracted_doctors",
            "appointments_to_date",
            "appointments_month",
        ),
    ),
    "2018-03_scheduling.csv": Table(
        columns=("category", "unit", "weeks_open_12320", "community_priority_weeks"),
        rows=24,
        start="2018 年 3 月南京市各医疗卫生机构排班开放统计表",
        end="2018 年 3 月南京市妇幼保健信息系统各区使用情况表",
        layout=("unit", "weeks_open_12320", "community_priority_weeks"),
        group=(
            "category",
            {v: v for v in ("市属医院", "省属医院", "区属医院", "部队医院", "其他医院")},
        ),
        totals=0,
    ),
    "2018-03_maternal_child.csv": Table(
        columns=(
            "unit",
            "women_registered",
            "first_visits",
            "follow_up_visits",
            "home_visits_once",
            "home_visits_twice",
            "deliveries",
            "children_registered",
        ),
        rows=13,
        start="2018 年 3 月南京市妇幼保健信息系统各区使用情况表",
        end="（截止 3 月底，总登记建卡数",
        layout=(
            "unit",
            "women_registered",
            "first_visits",
            "follow_up_visits",
            "home_visits_once",
            "home_visits_twice",
            "deliveries",
            "children_registered",
        ),
    ),
    "2018-03_collection_district.csv": Table(
        columns=COLLECTION_D18,
        rows=12,
        start="2018 年 3 月南京市卫生信息平台数据采集情况（区）",
        end="2018 年 3 月南京市卫生信息平台数据采集情况（医院）",
        layout=_collection_layout(COLLECTION_D18),
        totals=0,
    ),
    "2018-03_collection_hospital.csv": Table(
        columns=COLLECTION_H18,
        rows=24,
        start="2018 年 3 月南京市卫生信息平台数据采集情况（医院）",
        end="（截止 3月底，区及医院累计校验入库数据",
        layout=_collection_layout(COLLECTION_H18),
        totals=0,
    ),
    "2018-03_terminals.csv": Table(
        columns=(
            "unit",
            "terminals",
            "cards_issued",
            "registrations",
            "registration_amount",
            "payments",
            "payment_amount",
            "reports_printed",
        ),
        rows=51,
        start="2018 年 3 月自助智能医疗服务终端医院使用情况表",
        end="简 讯",
        layout=(
            "unit",
            "terminals",
            "cards_issued",
            "registrations",
            "registration_amount",
            "payments",
            "payment_amount",
            "reports_printed",
        ),
    ),
    # ---------------------------------------------------------------- 2020-09
    "2020-09_hotline_calls.csv": Table(
        columns=HOTLINE_CALLS,
        rows=9,
        start="南京12320卫生热线2020年9月数据统计",
        end="9月，全省12320共接听电话",
        layout=("label", "count", "measure"),
        key="category",
        ordered=False,
    ),
    "2020-09_hotline_cities.csv": Table(
        columns=("city", "calls"),
        rows=8,
        start="9月，全省12320",
        end="2020年9月预约挂号服务统计表",
        layout=("city", "calls"),
        total_layout=("=共接听电话", "calls", "=人次"),
        key="city",
        ordered=False,
    ),
    "2020-09_appointments.csv": Table(
        columns=APPOINTMENTS,
        rows=40,
        start="2020年9月预约挂号服务统计表",
        end="（截止9月底，总预约挂号量",
        layout=APPOINTMENTS,
    ),
    "2020-09_appointment_channels.csv": Table(
        columns=("seq", "channel", "appointments"),
        rows=9,
        start="2020年9月分途径预约情况统计",
        end="2020年9月南京市远程医疗系统数据统计",
        layout=("seq", "channel", "appointments"),
        total_layout=("=合计：", "appointments"),
        key="channel",
        ordered=False,
    ),
    "2020-09_collection_district.csv": Table(
        columns=COLLECTION_D20,
        rows=12,
        start="2020年9月南京市卫生信息平台数据采集情况（区）",
        end="2020年9月南京市卫生信息平台数据采集情况（医院）",
        layout=_collection_layout(COLLECTION_D20),
        totals=0,
    ),
    "2020-09_collection_hospital.csv": Table(
        columns=COLLECTION_H20,
        rows=25,
        start="2020年9月南京市卫生信息平台数据采集情况（医院）",
        end="（截止9月底，区及医院累计校验入库数据",
        layout=_collection_layout(COLLECTION_H20),
        totals=0,
    ),
    "2020-09_terminals.csv": Table(
        columns=(
            "section",
            "unit",
            "terminals",
            "registrations",
            "registration_amount",
            "payments",
            "payment_amount",
        ),
        rows=50,
        start="2020年9月自助智能医疗服务终端医院使用情况表",
        end="简 讯",
        layout=(
            "unit",
            "terminals",
            "registrations",
            "registration_amount",
            "payments",
            "payment_amount",
        ),
        group=("section", {"hospitals": "医疗单位", "districts": "各区"}),
    ),
}


# ------------------------------------------------------------------------------ matching
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Collapse every run of whitespace to one space."""
    return _SPACE.sub(" ", text).strip()


def _is_ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "./")


def pattern_for(printed: str) -> re.Pattern[str]:
    """Regex matching ``printed`` in normalised text (see the module docstring for the rules)."""
    printed = normalise(printed)
    parts: list[str] = []
    for i, ch in enumerate(printed):
        prev = printed[i - 1] if i else ""
        if ch == " ":
            nxt = printed[i + 1]
            both_ascii = prev.isascii() and nxt.isascii()
            parts.append(" " if both_ascii else " ?")
            continue
        if prev and prev != " " and not (prev.isascii() and ch.isascii()):
            parts.append(" ?")  # a line may have been wrapped next to a non-ASCII character
        parts.append(re.escape(ch))
    head = "(?<![0-9A-Za-z./])" if _is_ascii_word(printed[0]) else ""
    tail = "(?![0-9A-Za-z./])" if _is_ascii_word(printed[-1]) else ""
    return re.compile(head + "".join(parts) + tail)


def render(row: dict[str, str], layout: tuple[Item, ...]) -> str:
    """The printed form of a CSV row."""
    out: list[str] = []
    for item in layout:
        if isinstance(item, tuple):
            cells = [row[c] for c in item if row[c]]
            if cells:
                out.append("/".join(cells))
        elif item.startswith("="):
            out.append(item[1:])
        elif row[item]:
            out.append(row[item])
    return " ".join(out)


@dataclass
class _Source:
    text: str  # normalised
    problems: list[str] = field(default_factory=list)

    def region(self, file: str, spec: Table) -> tuple[int, int] | None:
        start = pattern_for(spec.start).search(self.text)
        if start is None:
            self.problems.append(f"{file}: table heading {spec.start!r} not found in the source")
            return None
        end = pattern_for(spec.end).search(self.text, start.end())
        if end is None:
            self.problems.append(f"{file}: end marker {spec.end!r} not found after the heading")
            return None
        return start.end(), end.start()


def _read_csv(path: Path, problems: list[str]) -> tuple[list[str], list[dict[str, str]]] | None:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.append(f"{path.name}: starts with a UTF-8 byte-order mark")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(f"{path.name}: not UTF-8 ({exc})")
        return None
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        problems.append(f"{path.name}: empty file")
        return None
    rows = []
    for line_no, cells in enumerate(reader, start=2):
        if len(cells) != len(header):
            problems.append(f"{path.name} line {line_no}: {len(cells)} cells, header has {len(header)}")
            continue
        for col, cell in zip(header, cells, strict=True):
            if cell != cell.strip():
                problems.append(f"{path.name} line {line_no}: cell {col}={cell!r} has outer spaces")
        rows.append(dict(zip(header, cells, strict=True)))
    return header, rows


def verify_table(path: Path, spec: Table, source: _Source) -> list[str]:
    """Problems found in one CSV (an empty list when it matches the source)."""
    problems: list[str] = []
    name = path.name
    read = _read_csv(path, problems)
    if read is None:
        return problems
    header, rows = read
    if tuple(header) != spec.columns:
        problems.append(f"{name}: header {','.join(header)} != expected {','.join(spec.columns)}")
        return problems
    if len(rows) != spec.rows:
        problems.append(f"{name}: {len(rows)} rows, expected {spec.rows} (合计 rows included)")

    total_idx = [i for i, r in enumerate(rows) if r[spec.key] == TOTAL]
    if len(total_idx) != spec.totals or total_idx != list(range(len(rows) - spec.totals, len(rows))):
        problems.append(f"{name}: expected {spec.totals} 合计 row(s) at the end, got {total_idx}")
    if "seq" in spec.columns:
        seqs = [r["seq"] for r in rows if r[spec.key] != TOTAL]
        if seqs != [str(i) for i in range(1, len(seqs) + 1)]:
            problems.append(f"{name}: seq is not 1..{len(seqs)} in order: {seqs}")

    bounds = source.region(name, spec)
    problems.extend(source.problems)
    source.problems.clear()
    if bounds is None:
        return problems
    lo, hi = bounds
    text = source.text
    cursor = lo
    for line_no, row in enumerate(rows, start=2):
        is_total = row[spec.key] == TOTAL
        layout = spec.total_layout if is_total and spec.total_layout else spec.layout
        printed = render(row, layout)
        pattern = pattern_for(printed)
        where = f"{name} line {line_no} ({row[spec.key]})"
        match = pattern.search(text, cursor if spec.ordered else lo, hi)
        if match is None:
            anywhere = pattern.search(text, lo, hi) if spec.ordered else None
            if anywhere is not None:
                problems.append(f"{where}: row {printed!r} is printed earlier: rows out of order")
            else:
                problems.append(f"{where}: row {printed!r} not found in the source table")
            continue
        if spec.ordered:
            cursor = match.end()
        if spec.group is not None and not is_total:
            column, labels = spec.group
            expected = labels.get(row[column])
            if expected is None:
                problems.append(f"{where}: {column}={row[column]!r} not one of {sorted(labels)}")
                continue
            found = None
            for value, label in labels.items():
                for m in pattern_for(label).finditer(text, lo, match.start()):
                    if found is None or m.start() > found[0]:
                        found = (m.start(), value)
            if found is None or found[1] != row[column]:
                problems.append(
                    f"{where}: printed under group {found[1] if found else None!r}, CSV says {row[column]!r}"
                )
    return problems


def verify_all(root: str | Path | None = None) -> list[str]:
    """Every problem found in the CSVs of ``root`` (default: this folder); [] when all is well."""
    root = Path(root) if root is not None else HERE
    problems: list[str] = []
    sources: dict[str, _Source] = {}
    for period, (file, digest) in SOURCES.items():
        path = root / "sources" / file
        if not path.is_file():
            problems.append(f"source text missing: {path}")
            continue
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != digest:
            problems.append(f"{path}: sha256 differs from the recorded source text")
        sources[period] = _Source(normalise(raw.decode("utf-8")))

    present = {p.name for p in root.glob("*.csv")}
    for extra in sorted(present - TABLES.keys()):
        problems.append(f"{extra}: not declared in verify.py TABLES")
    for name, spec in TABLES.items():
        if name not in present:
            problems.append(f"{name}: file missing")
            continue
        source = sources.get(name[:7])
        if source is None:
            continue
        problems.extend(verify_table(root / name, spec, source))
    return problems


def main() -> int:
    problems = verify_all()
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"FAILED: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    total = sum(spec.rows for spec in TABLES.values())
    print(f"OK: {len(TABLES)} tables, {total} rows match the newsletters' text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
