"""Inline SVG charts built from numbers: gauge, bars, trend line, upload calendar, before/after dots.

Each function returns :class:`markupsafe.Markup` so a template can place it as is. Geometry comes
from numbers only; every piece of text (labels, unit names) goes through :func:`markupsafe.escape`
before it is put into the SVG, so a chart never carries markup from the data. Colours and fonts
come from the page's CSS (classes ``c-*``), which keeps the charts printable and themable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from dq.report.model import Bar, CampaignUnit, Day, KindGrowth, TrendPoint

__all__ = [
    "GRADE_BANDS",
    "SCORE_AXIS",
    "calendar",
    "campaign_dots",
    "dumbbell",
    "gauge",
    "grade_of",
    "hbars",
    "loss_bars",
    "spark",
    "trend",
]

# The score axis of the campaign charts: the same for every kind (scores are 0–100).
SCORE_AXIS = (0.0, 100.0)
GRADE_BANDS = ((90.0, "A"), (80.0, "B"), (60.0, "C"), (0.0, "D"))


def grade_of(score: float | None) -> str:
    """The CSS grade class of a score (A–D), or ``na`` when there is none."""
    if score is None:
        return "na"
    return next(g for lo, g in GRADE_BANDS if score >= lo)


def _n(x: float) -> str:
    """A coordinate: at most one decimal, no trailing zeros."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _text(cls: str, x: float, y: float, content: str) -> str:
    """A text element; ``content`` must already be escaped (or be a number)."""
    return f'<text class="{cls}" x="{_n(x)}" y="{_n(y)}">{content}</text>'


def _svg(width: float, height: float, body: list[str], label: str, cls: str) -> Markup:
    head = (
        f'<svg class="chart {cls}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'width="{_n(width)}" height="{_n(height)}" role="img" aria-label="{escape(label)}">'
    )
    return Markup(head + "".join(body) + "</svg>")


def gauge(score: float | None, grade: str, label: str, empty: str) -> Markup:
    """A ring filled to ``score`` percent with the score and grade in the middle."""
    size, stroke = 148.0, 14.0
    r = (size - stroke) / 2
    c = size / 2
    circ = 2 * math.pi * r
    g = grade_of(score)
    body = [f'<circle class="g-track" cx="{_n(c)}" cy="{_n(c)}" r="{_n(r)}" stroke-width="{_n(stroke)}"/>']
    if score is not None:
        filled = circ * max(0.0, min(score, 100.0)) / 100
        body.append(
            f'<circle class="g-fill c-{g}" cx="{_n(c)}" cy="{_n(c)}" r="{_n(r)}" stroke-width="{_n(stroke)}" '
            f'stroke-dasharray="{filled:.2f} {circ:.2f}" transform="rotate(-90 {_n(c)} {_n(c)})"/>'
        )
        body.append(f'<text class="g-score" x="{_n(c)}" y="{_n(c + 4)}">{score:.2f}</text>')
        body.append(f'<text class="g-grade c-{g}" x="{_n(c)}" y="{_n(c + 30)}">{escape(grade)}</text>')
    else:
        body.append(f'<text class="g-empty" x="{_n(c)}" y="{_n(c + 6)}">{escape(empty)}</text>')
    return _svg(size, size, body, label, "gauge")


def hbars(bars: Sequence[Bar], label: str, empty: str, width: float = 460) -> Markup:
    """Horizontal bars on a 0–100 scale, one per item; items without a score say ``empty``."""
    row, left, right, top = 30.0, 92.0, 52.0, 18.0
    track = width - left - right
    height = top + row * len(bars) + 6
    body = []
    for tick in (0, 60, 80, 90, 100):
        x = left + track * tick / 100
        body.append(
            f'<line class="grid" x1="{_n(x)}" y1="{_n(top - 4)}" x2="{_n(x)}" y2="{_n(height - 4)}"/>'
        )
        body.append(f'<text class="axis" x="{_n(x)}" y="{_n(top - 7)}">{tick}</text>')
    for i, b in enumerate(bars):
        y = top + i * row
        body.append(f'<text class="bar-label" x="{_n(left - 10)}" y="{_n(y + 19)}">{escape(b.label)}</text>')
        body.append(
            f'<rect class="bar-track" x="{_n(left)}" y="{_n(y + 6)}" width="{_n(track)}" height="18" rx="3"/>'
        )
        if b.score is None:
            body.append(f'<text class="bar-empty" x="{_n(left + 8)}" y="{_n(y + 19)}">{escape(empty)}</text>')
            continue
        w = track * max(0.0, min(b.score, 100.0)) / 100
        g = grade_of(b.score)
        body.append(
            f'<rect class="bar c-{g}" x="{_n(left)}" y="{_n(y + 6)}" '
            f'width="{_n(max(w, 2))}" height="18" rx="3"/>'
        )
        body.append(
            f'<text class="bar-value" x="{_n(left + track + 8)}" y="{_n(y + 19)}">{b.score:.2f}</text>'
        )
    return _svg(width, height, body, label, "bars")


def trend(points: Sequence[TrendPoint], label: str, width: float = 460, height: float = 210) -> Markup:
    """The unit's score per period: grade bands, a line through the scored periods, the current
    period highlighted. A single period is drawn as one point in the middle."""
    left, right, top, bottom = 34.0, 16.0, 12.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def y_of(score: float) -> float:
        return top + plot_h * (1 - max(0.0, min(score, 100.0)) / 100)

    body = []
    bands = ((100, 90, "A"), (90, 80, "B"), (80, 60, "C"), (60, 0, "D"))
    for hi, lo, g in bands:
        body.append(
            f'<rect class="band b-{g}" x="{_n(left)}" y="{_n(y_of(hi))}" width="{_n(plot_w)}" '
            f'height="{_n(y_of(lo) - y_of(hi))}"/>'
        )
    for tick in (0, 60, 80, 90, 100):
        y = y_of(tick)
        body.append(
            f'<line class="grid" x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}"/>'
        )
        body.append(f'<text class="axis axis-y" x="{_n(left - 6)}" y="{_n(y + 4)}">{tick}</text>')
    n = len(points)
    if n == 0:
        return _svg(width, height, body, label, "trend")

    def x_of(i: int) -> float:
        return left + plot_w / 2 if n == 1 else left + 18 + (plot_w - 36) * i / (n - 1)

    step = max(1, math.ceil(n / 8))  # at most ~8 period labels
    for i, p in enumerate(points):
        if i % step == 0 or i == n - 1 or p.current:
            cls = "axis axis-x current" if p.current else "axis axis-x"
            body.append(_text(cls, x_of(i), height - bottom + 18, escape(p.label)))
    scored = [(x_of(i), y_of(p.score), p) for i, p in enumerate(points) if p.score is not None]
    if len(scored) > 1:
        d = " ".join(f"{'M' if j == 0 else 'L'}{_n(x)} {_n(y)}" for j, (x, y, _) in enumerate(scored))
        body.append(f'<path class="line" d="{d}"/>')
    for x, y, p in scored:
        g = grade_of(p.score)
        r = 6 if p.current else 4
        body.append(
            f'<circle class="dot c-{g}{" current" if p.current else ""}" cx="{_n(x)}" cy="{_n(y)}" r="{r}"/>'
        )
        if p.flagged:  # a history rule flagged this month
            body.append(f'<circle class="history-flag" cx="{_n(x)}" cy="{_n(y)}" r="{r + 4}"/>')
        if p.current or len(scored) <= 6:
            body.append(f'<text class="point-label" x="{_n(x)}" y="{_n(y - 10)}">{p.score:.2f}</text>')
    return _svg(width, height, body, label, "trend")


def calendar(days: Sequence[Day], label: str, weekday_names: Sequence[str]) -> Markup:
    """The month as a week grid (Monday first): one column per weekday under its label, one row
    per week; filled cells for days with an upload, hollow ones without, weekends shaded. Each
    cell says its day and whether anything was uploaded in a ``<title>``."""
    cell, gap, top, left = 30.0, 4.0, 22.0, 1.0
    if not days:
        return _svg(10, 10, [], label, "calendar")
    first = days[0].weekday
    weeks = (first + len(days) + 6) // 7
    width = left + 7 * (cell + gap) - gap + 1
    height = top + weeks * (cell + gap) + 2
    body = []
    for wd in range(7):
        x = left + wd * (cell + gap) + cell / 2
        cls = "cal-wd cal-we-label" if wd >= 5 else "cal-wd"
        body.append(_text(cls, x, top - 8, escape(weekday_names[wd])))
    for i, d in enumerate(days):
        slot = first + i
        x = left + (slot % 7) * (cell + gap)
        y = top + (slot // 7) * (cell + gap)
        cls = "cal-on" if d.uploaded else "cal-off"
        state = "✓" if d.uploaded else "✗"
        body.append(
            f'<rect class="{cls}{" cal-weekend" if d.weekday >= 5 else ""}" x="{_n(x)}" y="{_n(y)}" '
            f'width="{_n(cell)}" height="{_n(cell)}" rx="4"><title>{d.day} {state}</title></rect>'
        )
        body.append(f'<text class="cal-day {cls}-t" x="{_n(x + cell / 2)}" y="{_n(y + 19)}">{d.day}</text>')
    return _svg(width, height, body, label, "calendar")


def campaign_dots(
    kinds: Sequence[KindGrowth], before: str, after: str, label: str, width: float = 900
) -> Markup:
    """Per kind, every unit's before score (grey, upper row) and after score (coloured, lower
    row) on the shared 0–100 axis (:data:`SCORE_AXIS`), a thin line joining the two dots of a
    unit, and each row's mean."""
    scores = [s for k in kinds for u in k.units for s in (u.before, u.after) if s is not None]
    if not scores:
        return _svg(width, 20, [], label, "dots")
    lo, hi = SCORE_AXIS
    left, right, top = 150.0, 24.0, 26.0
    block, row_gap = 96.0, 40.0
    plot_w = width - left - right
    height = top + block * len(kinds) + 20

    def x_of(s: float) -> float:
        return left + plot_w * (s - lo) / (hi - lo)

    body = []
    for tick in range(int(lo), 101, 10):
        x = x_of(tick)
        body.append(
            f'<line class="grid" x1="{_n(x)}" y1="{_n(top - 6)}" x2="{_n(x)}" y2="{_n(height - 18)}"/>'
        )
        body.append(f'<text class="axis" x="{_n(x)}" y="{_n(top - 10)}">{tick}</text>')
    for k_i, k in enumerate(kinds):
        y0 = top + k_i * block + 14
        y1 = y0 + row_gap
        body.append(f'<text class="dots-kind" x="4" y="{_n(y0 + row_gap / 2 + 5)}">{escape(k.label)}</text>')
        body.append(f'<text class="dots-row" x="{_n(left - 10)}" y="{_n(y0 + 4)}">{escape(before)}</text>')
        body.append(f'<text class="dots-row" x="{_n(left - 10)}" y="{_n(y1 + 4)}">{escape(after)}</text>')
        for u in k.units:
            if u.before is None or u.after is None:
                continue
            cls = "up" if u.after > u.before else "down" if u.after < u.before else "same"
            body.append(
                f'<line class="link {cls}" x1="{_n(x_of(u.before))}" y1="{_n(y0)}" '
                f'x2="{_n(x_of(u.after))}" y2="{_n(y1)}"><title>{escape(u.unit_name)}</title></line>'
            )
        for u in k.units:
            if u.before is None or u.after is None:
                continue
            name = escape(u.unit_name)
            body.append(
                f'<circle class="dot-before" cx="{_n(x_of(u.before))}" cy="{_n(y0)}" r="5">'
                f"<title>{name}: {u.before:.2f}</title></circle>"
            )
            body.append(
                f'<circle class="dot-after c-{grade_of(u.after)}" '
                f'cx="{_n(x_of(u.after))}" cy="{_n(y1)}" r="5">'
                f"<title>{name}: {u.after:.2f}</title></circle>"
            )
        for mean, y in ((k.mean_before, y0), (k.mean_after, y1)):
            if mean is None:
                continue
            x = x_of(mean)
            body.append(f'<line class="mean" x1="{_n(x)}" y1="{_n(y - 12)}" x2="{_n(x)}" y2="{_n(y + 12)}"/>')
            body.append(_text("mean-label", x, y + 24 if y == y1 else y - 15, f"{mean:.2f}"))
    return _svg(width, height, body, label, "dots")


def _nice_max(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``x`` (an axis end)."""
    if x <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(x))
    return next(m * k for m in (1, 2, 2.5, 5, 10) if m * k >= x - 1e-12)


def loss_bars(bars: Sequence[Bar], label: str, unit: str, width: float = 460) -> Markup:
    """Points lost per item as horizontal bars on an axis from 0 to just above the largest
    loss (so small differences show); each bar carries its value in a ``<title>``."""
    row, left, right, top = 28.0, 92.0, 60.0, 20.0
    track = width - left - right
    height = top + row * len(bars) + 6
    hi = _nice_max(max((b.score or 0.0) for b in bars) if bars else 0.0)
    body = []
    for j in range(5):
        tick = hi * j / 4
        x = left + track * j / 4
        body.append(
            f'<line class="grid" x1="{_n(x)}" y1="{_n(top - 4)}" x2="{_n(x)}" y2="{_n(height - 4)}"/>'
        )
        body.append(f'<text class="axis" x="{_n(x)}" y="{_n(top - 7)}">{tick:g}</text>')
    for i, b in enumerate(bars):
        y = top + i * row
        v = b.score or 0.0
        body.append(f'<text class="bar-label" x="{_n(left - 10)}" y="{_n(y + 18)}">{escape(b.label)}</text>')
        w = track * min(v, hi) / hi
        title = escape(f"{b.label}: {f'−{v:.2f}' if v >= 0.005 else '0'} {unit}")
        body.append(
            f'<rect class="bar loss" x="{_n(left)}" y="{_n(y + 5)}" width="{_n(max(w, 1))}" '
            f'height="17" rx="3"><title>{title}</title></rect>'
        )
        shown = f"−{v:.2f}" if v >= 0.005 else "0"  # never "−0.00"
        body.append(f'<text class="bar-value" x="{_n(left + w + 6)}" y="{_n(y + 18)}">{shown}</text>')
    return _svg(width, height, body, label, "bars losses")


def dumbbell(
    units: Sequence[CampaignUnit],
    before: str,
    after: str,
    label: str,
    href: Callable[[CampaignUnit], str | None] | None = None,
    width: float = 900,
) -> Markup:
    """One row per unit, sorted by change (largest gain first): the before score (grey dot),
    the after score (dot coloured by grade) joined by a line, green when the unit improved and
    red when it fell; the unit's name (a link to its report when ``href`` gives one, marked
    ``*`` when it uploaded nothing before) on the left and the change on the right. Every kind's
    chart has the same 0–100 axis (:data:`SCORE_AXIS`), so two charts compare at a glance."""
    rows = sorted(
        (u for u in units if u.before is not None and u.after is not None),
        key=lambda u: (-((u.after or 0) - (u.before or 0)), u.unit_id),
    )
    row, left, right, top = 22.0, 230.0, 80.0, 24.0
    height = top + row * max(len(rows), 1) + 10
    if not rows:
        return _svg(width, height, [], label, "dumbbell")
    lo, hi = SCORE_AXIS
    plot_w = width - left - right

    def x_of(v: float) -> float:
        return left + plot_w * (v - lo) / (hi - lo)

    step = 10
    body = []
    tick = lo
    while tick <= hi + 1e-9:
        x = x_of(tick)
        body.append(
            f'<line class="grid" x1="{_n(x)}" y1="{_n(top - 4)}" x2="{_n(x)}" y2="{_n(height - 6)}"/>'
        )
        body.append(f'<text class="axis" x="{_n(x)}" y="{_n(top - 8)}">{tick:g}</text>')
        tick += step
    for i, u in enumerate(rows):
        y = top + i * row + row / 2
        b, a = float(u.before), float(u.after)  # type: ignore[arg-type]
        cls = "up" if a > b else "down" if a < b else "same"
        name = escape(u.unit_name)
        link = href(u) if href else None
        star = "*" if u.no_upload_before else ""
        text = f'<text class="db-name {cls}" x="{_n(left - 10)}" y="{_n(y + 4)}">{name}{star}</text>'
        body.append(f'<a href="{escape(link)}">{text}</a>' if link else text)
        body.append(
            f'<line class="db-link {cls}" x1="{_n(x_of(b))}" y1="{_n(y)}" x2="{_n(x_of(a))}" y2="{_n(y)}">'
            f"<title>{name}: {b:.2f} → {a:.2f}</title></line>"
        )
        body.append(
            f'<circle class="dot-before" cx="{_n(x_of(b))}" cy="{_n(y)}" r="5">'
            f"<title>{name} {escape(before)}: {b:.2f}</title></circle>"
        )
        body.append(
            f'<circle class="dot-after c-{grade_of(a)}" cx="{_n(x_of(a))}" cy="{_n(y)}" r="5">'
            f"<title>{name} {escape(after)}: {a:.2f}</title></circle>"
        )
        body.append(
            f'<text class="db-change {cls}" x="{_n(width - right + 8)}" y="{_n(y + 4)}">'
            f"{'+' if a >= b else '−'}{abs(a - b):.2f}<title>{name}: {a - b:+.2f}</title></text>"
        )
    return _svg(width, height, body, label, "dumbbell")


def spark(
    points: Sequence[tuple[str, int | None]], label: str, width: float = 96, height: float = 22
) -> Markup:
    """A rule's failures per month as small bars (the last one, this month, dark); a month
    without a result is a gap. Each bar carries its month and count in a ``<title>``."""
    if not points:
        return _svg(width, height, [], label, "spark")
    hi = max((v or 0) for _, v in points) or 1
    step = width / len(points)
    body = []
    for i, (month, v) in enumerate(points):
        title = escape(f"{month}: {'—' if v is None else f'{v:,}'}")
        if v is None:
            body.append(
                f'<rect class="spark-gap" x="{_n(i * step + 1)}" y="{_n(height - 2)}" '
                f'width="{_n(max(step - 2, 1))}" height="2"><title>{title}</title></rect>'
            )
            continue
        h = max(1.5, (height - 2) * v / hi) if v else 1.0
        cls = "spark-now" if i == len(points) - 1 else "spark-bar"
        body.append(
            f'<rect class="{cls}" x="{_n(i * step + 1)}" y="{_n(height - h)}" '
            f'width="{_n(max(step - 2, 1))}" height="{_n(h)}"><title>{title}</title></rect>'
        )
    return _svg(width, height, body, label, "spark")
