"""`dq explain`: where a unit loses points, each rule's loss in overall-score points.

    dq explain H022 --period 2020-09 [--store history] [--format table|json] [--lang zh|en]

The losses add up to 100 − score (see :mod:`dq.scoring.explain`). JSON: ``score``, ``lost``, ``by_part``,
``by_dimension`` and ``losses`` (``rule``, ``title_zh``, ``title_en``, ``table``, ``dimension``,
``part``, ``points``), largest first.
"""

from __future__ import annotations

import argparse

from dq.cli._common import add_store, console, count, open_store, period, print_json, project_of, store_path

__all__ = ["configure_parser", "run"]


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("unit", help="unit id, e.g. H022")
    p.add_argument("--period", required=True, type=period, help="YYYY-MM")
    add_store(p)
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--lang", choices=("zh", "en"), help="titles' language (default: the project's, else zh)")
    p.add_argument("--top", type=count, default=0, help="show only the N largest losses (default 0: all)")


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from dq.report.i18n import dimension_label, tr
    from dq.report.model import table_label
    from dq.scoring.explain import unit_losses

    store = open_store(store_path(args))
    args.lang = args.lang or project_of(args).defaults.lang
    ul = unit_losses(store, args.period, args.unit, project_of(args).scoring())  # the project's weights
    losses = ul.losses[: args.top] if args.top > 0 else ul.losses
    if args.format == "json":
        doc = ul.as_dict()
        doc["losses"] = doc["losses"][: len(losses)]
        print_json(doc)
        return 0
    out = console()
    lang = "zh" if args.lang == "zh" else "en"
    zh = lang == "zh"
    # the report's words (dq.report.i18n): one term for each idea in report, explain and e-mail
    head = (
        f"{tr(lang, 'overall_score')} {ul.score:.2f}（{ul.grade}），失分 {ul.lost:.2f}"
        if zh
        else f"overall score {ul.score:.2f} ({ul.grade}), lost {ul.lost:.2f}"
    )
    out.print(f"{ul.unit_id} {ul.unit_name} · {ul.period} · {head}")
    parts = ul.by_part()
    out.print(
        f"{tr(lang, 'part_submission')} {parts.get('submission', 0):.2f} · "
        f"{tr(lang, 'part_records')} {parts.get('records', 0):.2f}"
    )
    sep = "，" if zh else ", "
    dims = sep.join(f"{dimension_label(d, lang)} {v:.2f}" for d, v in ul.by_dimension().items() if v)
    if dims:
        out.print(("按质量维度：" if zh else "by dimension: ") + dims)
    t = Table(show_edge=False)
    heads = (
        ("规则", "规则名称", "数据表", "质量维度", "失分")
        if zh
        else ("rule", "title", "table", "dimension", "points")
    )
    for i, col in enumerate(heads):
        t.add_column(col, justify="right" if i == len(heads) - 1 else "left")
    cat = project_of(args).catalogue()
    for x in losses:
        title = (x.title_zh if zh else x.title_en) or x.title_zh
        t.add_row(
            x.rule,
            title,
            table_label(x.table, cat, lang),
            dimension_label(x.dimension, lang),
            f"{x.points:.2f}",
        )
    out.print(t)
    return 0
