"""dq's findings on the newsletters' published figures, as a Markdown table.

Scores every published period of ``datasets/nanjing`` (``dq.batch.local.score_published`` into a
temporary store) and lists every failing or warning rule: per unit the printed value and the
limit it breaks, per published table the stated 合计 and the sum dq computed.

    .venv/bin/python scripts/published_findings.py             # writes docs/findings-published.md
    .venv/bin/python scripts/published_findings.py --stdout    # prints instead
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout
    sys.path.insert(0, str(REPO))

import dq  # noqa: E402
from dq.batch.local import BatchOutcome, score_published  # noqa: E402
from dq.engine.results import RuleResult  # noqa: E402
from dq.engine.suite import Rule, load_suites  # noqa: E402
from dq.io.published import available_periods  # noqa: E402
from dq.store.history import Store  # noqa: E402

__all__ = ["TableFinding", "UnitFinding", "render", "run", "table_findings", "unit_findings"]

OUT = REPO / "docs" / "findings-published.md"
FOUND = ("fail", "warn", "error")
_MAD_SCALE = 0.6745
_STATED = re.compile(r"([\w]+): stated (-?[\d.]+), computed (-?[\d.]+)")


@dataclass(frozen=True)
class UnitFinding:
    period: str
    unit: str
    unit_id: str
    kind: str
    rule: str
    title: str
    severity: str
    status: str
    stated: str
    limit: str


@dataclass(frozen=True)
class TableFinding:
    period: str
    file: str
    rule: str
    column: str
    stated: str
    computed: str
    difference: str


def _num(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".") if not v.is_integer() else str(int(v))
    return str(v)


def _peer_limit(rows: Sequence[Mapping[str, Any]], unit: Mapping[str, Any], num: str, max_z: float) -> str:
    """The ratio below which a district is flagged (robust z on the log scale, as SUB-018/019)."""
    logs = [
        math.log(r[num] / r["records_basic"])
        for r in rows
        if r["kind"] == unit["kind"] and r[num] and r["records_basic"] and r[num] > 0
    ]
    med = statistics.median(logs)
    mad = statistics.median(abs(x - med) for x in logs)
    lower = math.exp(med - max_z * mad / _MAD_SCALE)
    return f"≥ {lower:.3g} (median {math.exp(med):.3g} of {len(logs)} {unit['kind']}s, robust z ≥ −{max_z:g})"


def _stated_and_limit(
    r: RuleResult, s: Mapping[str, Any], rule: Rule | None, rows: Sequence[Mapping[str, Any]]
) -> tuple[str, str]:
    p = rule.params.as_mapping() if rule else {}
    frac = (r.threshold or {}).get("max_fraction") or 0.0
    declared, required, uploaded = s["declared_tables"], s["required_tables"], s["uploaded_tables"]
    days, up_days = s["days_in_period"], s["upload_days"]
    match r.rule:
        case "SUB-001":
            return "未反馈 (not reported)", "a number of declared tables"
        case "SUB-002":
            need = math.ceil(required * (1 - frac) - 1e-9)
            return f"{declared}/{required} declared", f"≥ {need} ({1 - frac:.0%} of {required})"
        case "SUB-003":
            return f"{uploaded} uploaded of {declared} declared", f"{declared} (every declared table)"
        case "SUB-004":
            return f"{uploaded} uploaded, {declared} declared", f"≤ {declared}"
        case "SUB-005" | "SUB-006":
            op = "=" if r.rule == "SUB-005" else "≤"
            return f"{up_days} upload days", f"{op} {days} (days in {s['period']})"
        case "SUB-007" | "SUB-008" | "SUB-009" | "SUB-010":
            col = p.get("column", "")
            bound = f"≤ {_num(p['max'])}" if p.get("max") is not None else f"≥ {_num(p.get('min'))}"
            what = "outpatient" if col.startswith("outpatient") else "discharge"
            return f"{what} rate {_num(s.get(col))} %", f"{bound} %"
        case "SUB-011" | "SUB-012":
            return "未获取卫统数据 (no official count)", "an official count to compare with"
        case "SUB-013":
            return f"data volume {_num(s['data_volume'])}, {_num(up_days)} upload days", "> 0"
        case "SUB-014":
            return f"0 outpatient visits (data volume {_num(s['data_volume'])})", "> 0"
        case "SUB-015":
            return f"0 discharges (data volume {_num(s['data_volume'])})", "> 0"
        case "SUB-016" | "SUB-017":
            col = "records_hypertension" if r.rule == "SUB-016" else "records_diabetes"
            what = "hypertension" if r.rule == "SUB-016" else "diabetes"
            return (
                f"{what} {_num(s[col])} > basic {_num(s['records_basic'])}",
                f"≤ {_num(s['records_basic'])}",
            )
        case "SUB-018" | "SUB-019":
            col = "records_hypertension" if r.rule == "SUB-018" else "records_diabetes"
            ratio = s[col] / s["records_basic"]
            stated = f"{_num(s[col])} / {_num(s['records_basic'])} = {ratio:.3g}"
            return stated, _peer_limit(rows, s, col, float(p.get("max_z", 3.5)))
        case "SUB-020" | "SUB-021":
            col = p.get("columns", ["data_volume" if r.rule == "SUB-020" else "outpatient_uploaded"])[0]
            others = [o["unit_name"] for o in rows if o[col] == s[col] and o["unit_id"] != s["unit_id"]]
            return f"{col} {_num(s[col])}", "unique; also printed by " + ", ".join(others)
    return r.message, ""


def unit_findings(outcome: BatchOutcome, rules: Mapping[str, Rule] | None = None) -> list[UnitFinding]:
    """Every failing / warning / erroring rule of every unit, with the printed value and its limit."""
    rules = rules or {}
    rows = [u.summary for u in outcome.units if u.summary]
    out = []
    for u in outcome.units:
        for r in u.results:
            if r.status not in FOUND:
                continue
            stated, limit = _stated_and_limit(r, u.summary or {}, rules.get(r.rule), rows)
            out.append(
                UnitFinding(
                    outcome.run.period,
                    str(u.unit.get("name")),
                    u.unit_id,
                    str(u.unit.get("kind")),
                    r.rule,
                    r.title_en or r.title_zh,
                    r.severity,
                    r.status,
                    stated,
                    limit,
                )
            )
    return sorted(out, key=lambda f: (f.rule, f.kind, f.unit_id))


def table_findings(outcome: BatchOutcome) -> list[TableFinding]:
    """Every published-table total that does not add up, one row per column."""
    out = []
    for f in outcome.findings:
        if f.status not in FOUND:
            continue
        file = f.message.split(":", 1)[0]
        cells = _STATED.findall(f.message)
        if not cells:
            out.append(TableFinding(outcome.run.period, file, f.rule, "", "", "", f.message))
        for col, stated, computed in cells:
            diff = float(stated) - float(computed)
            out.append(
                TableFinding(outcome.run.period, file, f.rule, col, stated, computed, _num(round(diff, 2)))
            )
    return out


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def render(outcomes: Mapping[str, BatchOutcome], rules: Mapping[str, Rule] | None = None) -> str:
    lines = [
        "# dq findings on the published figures",
        "",
        "Generated by `scripts/published_findings.py` (do not edit by hand) from the newsletters'",
        "tables in `datasets/nanjing`: the 数据采集情况 tables scored with the submission suite",
        "(`dq score --published`) and every other table's 合计 checked by the published suites.",
        f"dq {dq.__version__}.",
        "",
        "*stated* is the printed figure, *limit* what the rule expects. Statuses: `fail` (error or",
        "critical rule), `warn` (warning rule).",
    ]
    for period, outcome in sorted(outcomes.items()):
        tf, uf = table_findings(outcome), unit_findings(outcome, rules)
        lines += ["", f"## {period}", "", f"### Published totals that do not add up ({len(tf)})", ""]
        lines += _table(
            ["file", "rule", "column", "stated 合计", "computed sum", "stated − computed"],
            [(f.file, f.rule, f.column, f.stated, f.computed, f.difference) for f in tf],
        )
        counts: dict[str, int] = {}
        for f in uf:
            counts[f.rule] = counts.get(f.rule, 0) + 1
        lines += ["", f"### Unit findings ({len(uf)})", ""]
        lines += _table(
            ["rule", "title", "units"],
            [(r, next(f.title for f in uf if f.rule == r), n) for r, n in sorted(counts.items())],
        )
        lines += [""]
        lines += _table(
            ["unit", "id", "kind", "rule", "status", "stated", "limit"],
            [(f.unit, f.unit_id, f.kind, f.rule, f.status, f.stated, f.limit) for f in uf],
        )
    return "\n".join(lines) + "\n"


def run(periods: Sequence[str] | None = None, store: Path | None = None) -> dict[str, BatchOutcome]:
    with tempfile.TemporaryDirectory(prefix="dq-published-") as tmp:
        st = Store(store or Path(tmp) / "history")
        return {p: score_published(p, st) for p in (periods or available_periods())}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stdout", action="store_true", help="print instead of writing the file")
    ap.add_argument("--out", type=Path, default=OUT, help=f"output file (default: {OUT.relative_to(REPO)})")
    args = ap.parse_args(argv)
    rules = {r.id: r for s in load_suites() for r in s.rules}
    text = render(run(), rules)
    if args.stdout:
        print(text, end="")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
