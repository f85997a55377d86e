"""HTML from the view models: Jinja2 templates beside this module, autoescaping on.

Every page is one self-contained file: the stylesheet (``templates/report.css``) is included
into a ``<style>`` element, charts are inline SVG built by :mod:`dq.report._svg`, and the only
script (the index's table sorter and filter) is inline. Nothing refers to a URL outside the page.

Data reaches the templates only as view-model fields, which Jinja escapes; the templates never
use ``|safe``. The charts are :class:`markupsafe.Markup` built by our own code from numbers and
escaped text.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from dq import __version__
from dq.report._svg import calendar, campaign_dots, dumbbell, gauge, grade_of, hbars, loss_bars, spark, trend
from dq.report.i18n import LABELS, tr
from dq.report.model import CampaignReport, IndexPage, UnitReport

__all__ = ["TEMPLATES", "environment", "render_campaign", "render_index", "render_unit"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
WEEKDAYS = {"zh": tuple("一二三四五六日"), "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _int(value: int | float | None) -> str:
    return "—" if value is None else f"{int(value):,}"


def _signed(value: float | None, suffix: str = "") -> str:
    """``+1.25``, ``−0.50``, ``±0.00``: the sign of the value as shown (never ``−0.00``)."""
    if value is None:
        return "—"
    value = round(value, 2)
    return f"{'+' if value > 0 else '−' if value < 0 else '±'}{abs(value):,.2f}{suffix}"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, .css included (they hold no data)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["int"] = _int
    env.filters["signed"] = _signed
    env.filters["grade_class"] = grade_of
    return env


def css_string(text: str) -> str:
    """``text`` as a quoted CSS string: letters, digits (any script) and a few marks as they
    are, everything else (quotes, backslashes, ``<``, line breaks, ...) as a CSS escape, so data
    can never close the string or the ``<style>`` element."""
    keep = " ·-_.,:()（）/→"
    return '"' + "".join(ch if ch.isalnum() or ch in keep else f"\\{ord(ch):06x} " for ch in text) + '"'


def print_header(text: str, lang: str) -> Markup:
    """The running header of every printed page: ``text`` (unit, month) on the left, "page n of
    m" on the right (CSS paged-media margin boxes, which Chromium prints)."""
    label = tr(lang, "page_of", page="\0", pages="\1")
    before, rest = label.split("\0")
    middle, after = rest.split("\1")
    counter = f"{css_string(before)} counter(page) {css_string(middle)} counter(pages) {css_string(after)}"
    box = 'font-size: 8pt; color: #4b5563; font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;'
    return Markup(
        "@page {"
        f" @top-left {{ content: {css_string(text)}; {box} }}"
        f" @top-right {{ content: {counter}; {box} white-space: nowrap; }}"
        " }"
    )


def _render(template: str, lang: str, generated_at: str, head: str = "", **context: Any) -> str:
    return (
        environment()
        .get_template(template)
        .render(
            t=LABELS[lang],
            lang=lang,
            generated_at=generated_at,
            dq_version=__version__,
            print_head=print_header(head, lang),
            **context,
        )
    )


def unit_charts(report: UnitReport) -> Mapping[str, Markup]:
    lang = report.lang
    charts = {
        "gauge": gauge(report.score, report.grade, tr(lang, "overall_score"), tr(lang, "no_score")),
        "dimensions": hbars(report.dimensions, tr(lang, "dimensions_chart"), tr(lang, "not_evaluated")),
        "parts": hbars(report.parts, tr(lang, "parts"), tr(lang, "not_evaluated"), width=460),
        "trend": trend(report.trend, tr(lang, "trend_chart")),
    }
    for f in report.failing:
        charts[f"spark:{f.rule}"] = spark(f.spark, f"{f.rule} {tr(lang, 'col_trend')}")
    if report.loss_parts:
        pts = "分" if lang == "zh" else "points"
        charts["loss_parts"] = loss_bars(report.loss_parts, tr(lang, "losses_parts"), pts, width=420)
        charts["loss_dims"] = loss_bars(report.loss_dims, tr(lang, "losses_dims"), pts, width=420)
    sub = report.submission
    if sub is not None and sub.calendar:
        charts["calendar"] = calendar(sub.calendar, tr(lang, "upload_days"), WEEKDAYS[lang])
    return charts


def render_unit(report: UnitReport, index_href: str | None = "index.html") -> str:
    """The unit report as one HTML document."""
    return _render(
        "unit.html",
        report.lang,
        report.generated_at,
        head=f"{report.unit_name} · {report.period_label} · {tr(report.lang, 'unit_report_title')}",
        r=report,
        charts=unit_charts(report),
        index_href=index_href,
    )


def render_campaign(
    report: CampaignReport,
    index_hrefs: Mapping[str, str] | None = None,
    unit_hrefs: Mapping[str, str] | None = None,
) -> str:
    """The campaign report; ``unit_hrefs`` (unit id → link to its report) makes names links."""
    lang = report.lang
    hrefs = dict(unit_hrefs or {})
    chart = campaign_dots(
        report.kinds, tr(lang, "campaign_before"), tr(lang, "campaign_after"), tr(lang, "distribution")
    )
    dumbbells = {
        k.kind: dumbbell(
            k.units,
            report.before,
            report.after,
            f"{tr(lang, 'per_unit_chart')} · {k.label}",
            href=lambda u: hrefs.get(u.unit_id),
        )
        for k in report.kinds
    }
    return _render(
        "campaign.html",
        lang,
        report.generated_at,
        head=f"{tr(lang, 'campaign_title')} · {report.before} → {report.after}",
        c=report,
        chart=chart,
        dumbbells=dumbbells,
        dim_rows=_dimension_rows(report),
        index_hrefs=dict(index_hrefs or {}),
        unit_hrefs=hrefs,
    )


def _dimension_rows(report: CampaignReport) -> list[tuple[str, str]]:
    """(key, label) of every dimension any kind has, in the order of the first kind."""
    rows: dict[str, str] = {}
    for k in report.kinds:
        for d in k.dimensions:
            rows.setdefault(d.key, d.label)
    return list(rows.items())


def render_index(page: IndexPage) -> str:
    head = f"{tr(page.lang, 'index_title')} · {page.period_label}"
    return _render("index.html", page.lang, page.generated_at, head=head, p=page)
