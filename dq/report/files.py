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
from dq.io.catalogue import Catalogue
from dq.io.outputs import atomic_write_text, safe_filename
from dq.scoring.scores import ScoringConfig
from dq.store.history import Store

__all__ = ["campaign_report", "render_campaign_file", "render_period", "render_unit_file"]

_CAMPAIGN = re.compile(r"^campaign_(.+)_(.+)\.html$")


def _campaign_links(out_dir: Path, period: str) -> list[tuple[str, str]]:
    links = []
    for f in sorted(out_dir.glob("campaign_*.html")):
        m = _CAMPAIGN.match(f.name)
        if m and period in (m.group(1), m.group(2)):
            links.append((f"{m.group(1)} → {m.group(2)}", f"../{f.name}"))
    return links


def period_data(
    store: Store,
    period: str,
    lang: str,
    *,
    catalogue: Catalogue | None = None,
    scoring: ScoringConfig | None = None,
):
    """Every unit's report data of ``period`` (the store read once). ``catalogue`` and
    ``scoring``: the project's, where it has its own (default: the bundled ones)."""
    from dq.report.model import PeriodData

    data = PeriodData(store, period, lang, catalogue, scoring)
    if not data.unit_ids():
        raise InputError(f"{store.root}: no scores for {period} (run `dq score` first)")
    return data


def render_index_file(data, out_dir: Path) -> Path:
    from dq.report._render import render_index
    from dq.report.model import build_index

    out_dir = Path(out_dir)
    page = build_index(data, _campaign_links(out_dir, data.period))
    return atomic_write_text(out_dir / safe_filename(data.period) / "index.html", render_index(page))


def render_period(
    store: Store,
    period: str,
    out_dir: str | Path,
    lang: str = "zh",
    echo: Callable[[str], None] | None = print,
    max_rows: int = 1000,
    *,
    catalogue: Catalogue | None = None,
    scoring: ScoringConfig | None = None,
) -> list[Path]:
    """Write every unit report of ``period`` (each with its rows-to-fix files, at most
    ``max_rows`` per rule) and the period's index; return every path written (each report
    followed by its rows-to-fix files, the index last)."""
    from dq.report._render import render_unit
    from dq.report.model import report_filename

    out = Path(out_dir)
    data = period_data(store, period, lang, catalogue=catalogue, scoring=scoring)
    folder = out / safe_filename(period)
    written = []
    for uid in data.unit_ids():
        data.fix_files[uid] = _fix_links(store, period, uid, folder, lang, max_rows, data)
        path = atomic_write_text(folder / report_filename(uid), render_unit(data.unit(uid)))
        written += [path, *(folder / href for _, href in data.fix_files[uid])]
        if echo:
            echo(str(path))
    index = render_index_file(data, out)
    written.append(index)
    if echo:
        echo(str(index))
    return written


def render_unit_file(
    store: Store,
    period: str,
    unit_id: str,
    out_dir: str | Path,
    lang: str = "zh",
    max_rows: int = 1000,
    *,
    catalogue: Catalogue | None = None,
    scoring: ScoringConfig | None = None,
) -> list[Path]:
    """Write one unit's report of ``period`` and its rows-to-fix files; return every path written,
    the report first."""
    from dq.report._render import render_unit
    from dq.report.model import report_filename

    data = period_data(store, period, lang, catalogue=catalogue, scoring=scoring)
    if unit_id not in data.unit_ids():
        raise InputError(f"unit {unit_id} has no score for {period} in {store.root}")
    folder = Path(out_dir) / safe_filename(period)
    index = "index.html" if (folder / "index.html").exists() else None
    data.fix_files[unit_id] = _fix_links(store, period, unit_id, folder, lang, max_rows, data)
    report = atomic_write_text(
        folder / report_filename(unit_id), render_unit(data.unit(unit_id), index_href=index)
    )
    return [report, *(folder / href for _, href in data.fix_files[unit_id])]


def render_campaign_file(
    store: Store,
    before: str,
    after: str,
    out_dir: str | Path,
    lang: str = "zh",
    *,
    mixed: bool = False,
    report=None,
    catalogue: Catalogue | None = None,
    scoring: ScoringConfig | None = None,
) -> list[Path]:
    """Write ``campaign_<before>_<after>.html`` and refresh the two periods' index pages (if they
    exist) so they link to it. Returns the paths written, the campaign report first.
    (:func:`campaign_report` gives the figures without writing anything.)"""
    from dq.report._render import render_campaign
    from dq.report.model import report_filename

    out = Path(out_dir)
    report = report or campaign_report(store, before, after, lang, mixed=mixed, scoring=scoring)
    indexes = {
        p: f"{safe_filename(p)}/index.html"
        for p in dict.fromkeys((report.before_period, report.after_period))
        if (out / safe_filename(p) / "index.html").exists()
    }
    # unit names link to the after period's unit reports (the before's when a unit has no after)
    hrefs: dict[str, str] = {}
    for period in (report.before_period, report.after_period):
        folder = out / safe_filename(period)
        for k in report.kinds:
            for u in k.units:
                if (folder / report_filename(u.unit_id)).exists():
                    hrefs[u.unit_id] = f"{safe_filename(period)}/{report_filename(u.unit_id)}"
        for u in report.only_one:
            if (folder / report_filename(u.unit_id)).exists():
                hrefs[u.unit_id] = f"{safe_filename(period)}/{report_filename(u.unit_id)}"
    after_dir = safe_filename(report.after_period)
    for d in report.districts:
        if d.platform_id and (out / after_dir / report_filename(d.platform_id)).exists():
            hrefs.setdefault(d.platform_id, f"{after_dir}/{report_filename(d.platform_id)}")
    name = f"campaign_{safe_filename(before)}_{safe_filename(after)}.html"
    path = atomic_write_text(out / name, render_campaign(report, indexes, hrefs))
    written = [path]
    for period in indexes:
        written.append(
            render_index_file(period_data(store, period, lang, catalogue=catalogue, scoring=scoring), out)
        )
    return written


def campaign_report(
    store: Store,
    before: str,
    after: str,
    lang: str = "zh",
    *,
    mixed: bool = False,
    scoring: ScoringConfig | None = None,
):
    """The campaign's view model (:class:`dq.report.campaign.CampaignReport`; its ``figures()``
    are the growth figures per kind). Raises InputError when no unit has both scores."""
    from dq.report.campaign import build_campaign

    report = build_campaign(store, before, after, lang, mixed=mixed, scoring=scoring)
    if not report.kinds:
        raise InputError(f"no unit has a score in both {before} and {after} in {store.root}")
    return report


def _fix_links(store: Store, period: str, unit_id: str, folder: Path, lang: str, max_rows: int, data):
    """Write the unit's rows-to-fix files beside its report; (label, href) of each."""
    import polars as pl

    from dq.batch.fixlist import write_fix_files

    known = {}
    mine = data.overall.filter(pl.col("unit_id") == unit_id) if not data.overall.is_empty() else data.overall
    if not mine.is_empty() and mine["run_id"][0]:
        run_id = str(mine["run_id"][0])
        res = data.results
        known = {
            "run_id": run_id,
            "catalogue": data.cat,
            "results": res.filter((pl.col("unit_id") == unit_id) & (pl.col("run_id") == run_id))
            if not res.is_empty()
            else res,
        }
    paths = write_fix_files(store, period, unit_id, folder, lang, max_rows, **known)
    return [(p.suffix.lstrip(".").upper(), p.name) for p in paths]
