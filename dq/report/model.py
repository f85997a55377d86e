"""View models of the reports: plain dataclasses of strings and numbers, no HTML.

Three pages, each built from the history store (:class:`dq.store.history.Store`):

* :class:`UnitReport`     one unit and period (:mod:`dq.report._unit`: :func:`build_unit_report`,
                          or :class:`PeriodData` for every unit of a period with the store read once);
* :class:`CampaignReport` two periods or two runs, before and after (:mod:`dq.report.campaign`);
* :class:`IndexPage`      every unit of a period (:mod:`dq.report._index`).

Store access lives apart in :mod:`dq.report.data`; shared records and pure helpers in
:mod:`dq.report._common`. This module gathers the public names of all of them.
"""

from __future__ import annotations

from dq.io.masking import mask_sample
from dq.report._common import (
    Bar,
    Day,
    SampleTable,
    TrendPoint,
    classify_changes,
    growth,
    kind_label,
    rank_of,
    report_filename,
    sample_table,
    table_label,
    threshold_text,
)
from dq.report._index import IndexGroup, IndexPage, IndexRow, build_index
from dq.report._unit import (
    Changes,
    FailingRule,
    PeriodData,
    Rate,
    RuleRef,
    SubmissionView,
    UnitReport,
    build_unit_report,
    sort_failing,
    submission_view,
)
from dq.report.campaign import (
    CampaignReport,
    CampaignUnit,
    KindGrowth,
    RuleGain,
    build_campaign,
    rule_gains,
)
from dq.report.data import Side, resolve_side

__all__ = [
    "Bar",
    "CampaignReport",
    "CampaignUnit",
    "Changes",
    "Day",
    "FailingRule",
    "IndexGroup",
    "IndexPage",
    "IndexRow",
    "KindGrowth",
    "PeriodData",
    "Rate",
    "RuleGain",
    "RuleRef",
    "SampleTable",
    "Side",
    "SubmissionView",
    "TrendPoint",
    "UnitReport",
    "build_campaign",
    "build_index",
    "build_unit_report",
    "classify_changes",
    "growth",
    "kind_label",
    "mask_sample",
    "rank_of",
    "report_filename",
    "resolve_side",
    "rule_gains",
    "sample_table",
    "sort_failing",
    "submission_view",
    "table_label",
    "threshold_text",
]
