"""Report files: render the HTML reports of a history store into a folder (``dq report``).

    dq report unit H022 --period 2020-09      reports/2020-09/H022.html
    dq report all --period 2020-09            every unit of the period + reports/2020-09/index.html
    dq report campaign --before 2018-03 --after 2020-09
                                              reports/campaign_2018-03_2020-09.html

Each action takes ``--store`` (default ``history``), ``--out`` (default ``reports``) and
``--lang zh|en`` (default zh), and prints the paths it wrote. ``dq score --reports`` calls
:func:`render_period`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from dq.errors import InputError
from dq.outputs import atomic_write_text
from dq.store import Store

__all__ = ["render_campaign_file", "render_period", "render_unit_file"]

_CAMPAIGN = re.compile(r"^campaign_(.+)_(.+)\.html$")


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text).lstrip(".") or "_"


def _campaign_links(out_dir: Path, period: str) -> list[tuple[str, str]]:
    links = []
    for f in sorted(out_dir.glob("campaign_*.html")):
        m = _CAMPAIGN.match(f.name)
        if m and period in (m.group(1), m.group(2)):
            links.append((f"{m.group(1)} → {m.group(2)}", f"../{f.name}"))
    return links


def _period_data(store: Store, period: str, lang: str):
    from dq.report.model import PeriodData

    data = PeriodData(store, period, lang)
    if not data.unit_ids():
        raise InputError(f"{store.root}: no scores for {period} (run `dq score` first)")
    return data


def render_index_file(data, out_dir: Path) -> Path:
    from dq.report.model import build_index
    from dq.report.render import render_index

    out_dir = Path(out_dir)
    page = build_index(data, _campaign_links(out_dir, data.period))
    return atomic_write_text(out_dir / _safe(data.period) / "index.html", render_index(page))


def render_period(
    store: Store,
    period: str,
    out_dir: str | Path,
    lang: str = "zh",
    echo: Callable[[str], None] | None = print,
) -> list[Path]:
    """Write every unit report of ``period`` and the period's index; return the paths written."""
    from dq.report.model import report_filename
    from dq.report.render import render_unit

    out = Path(out_dir)
    data = _period_data(store, period, lang)
    folder = out / _safe(period)
    written = []
    for uid in data.unit_ids():
        path = atomic_write_text(folder / report_filename(uid), render_unit(data.unit(uid)))
        written.append(path)
        if echo:
            echo(str(path))
    index = render_index_file(data, out)
    written.append(index)
    if echo:
        echo(str(index))
    return written


def render_unit_file(store: Store, period: str, unit_id: str, out_dir: str | Path, lang: str = "zh") -> Path:
    from dq.report.model import report_filename
    from dq.report.render import render_unit

    data = _period_data(store, period, lang)
    if unit_id not in data.unit_ids():
        raise InputError(f"unit {unit_id} has no score for {period} in {store.root}")
    folder = Path(out_dir) / _safe(period)
    index = "index.html" if (folder / "index.html").exists() else None
    return atomic_write_text(
        folder / report_filename(unit_id), render_unit(data.unit(unit_id), index_href=index)
    )


def render_campaign_file(
    store: Store, before: str, after: str, out_dir: str | Path, lang: str = "zh"
) -> list[Path]:
    """Write ``campaign_<before>_<after>.html`` and refresh the two periods' index pages (if they
    exist) so they link to it. Returns the paths written, the campaign report first."""
    from dq.report.model import build_campaign
    from dq.report.render import render_campaign

    out = Path(out_dir)
    report = build_campaign(store, before, after, lang)
    if not report.kinds:
        raise InputError(f"no unit has a score in both {before} and {after} in {store.root}")
    indexes = {
        p: f"{_safe(p)}/index.html"
        for p in dict.fromkeys((report.before_period, report.after_period))
        if (out / _safe(p) / "index.html").exists()
    }
    path = atomic_write_text(
        out / f"campaign_{_safe(before)}_{_safe(after)}.html", render_campaign(report, indexes)
    )
    written = [path]
    for period in indexes:
        written.append(render_index_file(_period_data(store, period, lang), out))
    return written
