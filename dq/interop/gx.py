"""Great Expectations (GX 1.x) both ways: export dq suites, validate them, import GX suites.

* :func:`to_gx_suite` / :func:`export_suites` (``dq gx export``) turn dq suites into the JSON of
  GX 1.x ``ExpectationSuite`` objects (``gx.ExpectationSuite(**d)`` loads one). Each expectation
  carries its dq rule in ``meta`` (``dq_rule``, ``dq_check``, ``dq_severity``, thresholds); a
  rule's ``threshold.max_fraction`` becomes ``mostly = 1 - max_fraction``. Rules without a
  faithful equivalent are listed with the reason in ``meta.dq_not_exported``. How each check is
  written is the check's own :class:`~dq.engine.checks.base.GXMapping` (``CheckDef.gx``).
* :func:`load_batch` reads one table file as dq reads it -- typed by the catalogue, blank strings
  as missing, the uploaded text of typed columns kept as ``<column>__raw`` -- and returns the
  pandas frame to hand to GX. On such a frame an exported suite counts what dq counts.
  :func:`validate_with_gx` does the whole run for an extract.
* :func:`dq.interop.gx_import.import_suite` (``dq gx import``) turns a GX 1.x suite into a dq suite.

docs/gx.md has the mapping table, the loader's contract and the known differences.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from dq.engine.checks import REGISTRY
from dq.engine.checks.base import GXContext, NotExported
from dq.engine.suite import Rule, Suite, load_suites
from dq.errors import UsageError
from dq.interop.gx_import import ImportedSuite, import_suite
from dq.io.catalogue import Catalogue, load_catalogue
from dq.io.columns import is_internal, raw_column

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GXOutcome",
    "ImportedSuite",
    "NotExported",
    "batch_frame",
    "export_suites",
    "import_suite",
    "load_batch",
    "rule_expectation",
    "to_gx_suite",
    "validate_with_gx",
]

# dq severity -> GX FailureSeverity (critical | warning | info).
GX_SEVERITY = {"critical": "critical", "error": "critical", "warning": "warning"}
# Table-level expectations: no ``mostly`` (every other exported expectation accepts it).
# Expectations judged on a table or a column as a whole: GX takes no `mostly` for them.
NO_MOSTLY = {
    "expect_table_row_count_to_be_between",
    "expect_table_row_count_to_equal",
    "expect_table_row_count_to_equal_other_table",
    "expect_table_column_count_to_be_between",
    "expect_table_column_count_to_equal",
    "expect_table_columns_to_match_set",
    "expect_table_columns_to_match_ordered_list",
    "expect_column_to_exist",
    "expect_column_min_to_be_between",
    "expect_column_max_to_be_between",
    "expect_column_mean_to_be_between",
    "expect_column_median_to_be_between",
    "expect_column_sum_to_be_between",
    "expect_column_stdev_to_be_between",
    "expect_column_quantile_values_to_be_between",
    "expect_column_distinct_values_to_be_in_set",
    "expect_column_distinct_values_to_contain_set",
    "expect_column_distinct_values_to_equal_set",
    "expect_column_unique_value_count_to_be_between",
    "expect_column_proportion_of_unique_values_to_be_between",
    "expect_column_most_common_value_to_be_in_set",
}


NOTES = [
    "Validate a frame loaded by dq.interop.gx.load_batch(path, table): typed like dq, blank strings as"
    " null, and the uploaded text of typed columns as <column>__raw (not-null checks of typed"
    " columns read it). On such a frame GX counts what dq counts.",
    "GX has no max_count threshold: dq_threshold in each expectation's meta keeps it.",
    "Regexes are searched in both tools; Python's $ also matches before a final newline.",
]


def rule_expectation(rule: Rule, catalogue: Catalogue | None = None) -> tuple[str, dict[str, Any]]:
    """(GX expectation type, kwargs) for one rule, or :class:`NotExported` saying why not.

    The mapping of each check is its :attr:`CheckDef.gx <dq.engine.checks.CheckDef>`; what no check
    can carry over (a ``when`` condition, a ``lookup``) is refused here.
    """
    cat = catalogue or load_catalogue()
    if rule.when:
        raise NotExported("rule with a 'when' condition")
    if rule.lookup is not None:
        raise NotExported("rule with a lookup")
    mapping = REGISTRY[rule.check].gx
    if mapping is None:
        raise NotExported(f"check '{rule.check}' has no GX equivalent")
    return mapping.export(rule.params, GXContext(cat, cat.table(rule.table)))


def to_gx_suite(suite: Suite, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """The rules of ``suite`` that have a GX equivalent, as a GX 1.x ExpectationSuite dict."""
    cat = catalogue or load_catalogue()
    expectations: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for rule in suite.rules:
        try:
            kind, kwargs = rule_expectation(rule, cat)
        except NotExported as exc:
            skipped.append({"rule": rule.id, "check": rule.check, "reason": str(exc)})
            continue
        frac = rule.threshold.max_fraction
        if frac and kind not in NO_MOSTLY:
            kwargs["mostly"] = round(1 - frac, 12)
        meta: dict[str, Any] = {
            "dq_rule": rule.id,
            "dq_check": rule.check,
            "dq_severity": rule.severity,
            "dq_dimension": rule.dimension,
            "dq_threshold": rule.threshold.to_dict(),
        }
        if rule.title_en or rule.title_zh:
            meta["dq_title"] = {"zh": rule.title_zh, "en": rule.title_en}
        expectations.append(
            {
                "type": kind,
                "kwargs": {k: v for k, v in kwargs.items() if v is not None},
                "meta": meta,
                "severity": GX_SEVERITY[rule.severity],
            }
        )
    return {
        "name": suite.id,
        "expectations": expectations,
        "meta": {
            "dq_suite": suite.id,
            "dq_table": suite.table,
            "dq_kind": suite.kind,
            "dq_title": {"zh": suite.title_zh, "en": suite.title_en},
            "dq_source": suite.source,
            "dq_not_exported": skipped,
            "dq_notes": NOTES,
        },
    }


def export_suites(paths=None, out: str | Path | None = None) -> list[dict[str, Any]]:
    """GX documents for the suites at ``paths`` (default: the shipped suites).

    With ``out``, also write one ``<suite id>.json`` per suite into that folder (created if
    needed) and return the documents; each document's ``meta.dq_path`` then names its file.
    """
    cat = load_catalogue()
    docs = [to_gx_suite(s, cat) for s in load_suites(paths or None, catalogue=cat)]
    if out is not None:
        from dq.io.outputs import ensure_dir

        folder = ensure_dir(out)
        for d in docs:
            path = folder / f"{d['name']}.json"
            path.write_text(json.dumps(d, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            d["meta"]["dq_path"] = str(path)
    return docs


# ---------------------------------------------------------------------------- running GX
def batch_frame(
    frame: pl.DataFrame | pl.LazyFrame, table: str | None = None, catalogue: Catalogue | None = None
) -> pd.DataFrame:
    """A frame typed by dq's reader, as GX must see it (a pandas DataFrame).

    Blank and whitespace-only strings become null (dq counts them as missing), and each typed
    column of the catalogue table keeps the text it was read from as ``<column>__raw`` (a
    natively typed value is written as text), which exported not-null checks of typed columns
    read: in dq a value given but not parseable is a ``date_parse`` finding, not a missing one.
    """
    cat = catalogue or load_catalogue()
    lf = frame.lazy()
    own = [c for c in lf.collect_schema() if is_internal(c)]  # dq's row number is not the table's
    if own:
        lf = lf.drop(own)
    spec = cat.table(table) if table else None
    schema = lf.collect_schema()
    raw = [
        pl.col(c.name).cast(pl.String).alias(raw_column(c.name))
        for c in (spec.columns if spec else ())
        if c.type != "str" and c.name in schema and raw_column(c.name) not in schema
    ]
    if raw:
        lf = lf.with_columns(raw)
    blank = [
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c)
        for c, t in lf.collect_schema().items()
        if t == pl.String
    ]
    return lf.with_columns(blank).collect().to_pandas()


def load_batch(
    path: str | Path,
    table: str | None = None,
    *,
    catalogue: Catalogue | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read one table file (Parquet, CSV, .xlsx) as dq does and return it as GX must see it.

    ``table`` is the catalogue table (default: the file's stem). Hand the result to a GX pandas
    batch (``batch_parameters={"dataframe": load_batch(...)}``) and validate it with the suite
    :func:`export_suites` wrote for that table.
    """
    from dq.io.sources import read_table

    cat = catalogue or load_catalogue()
    src = read_table(path, table, cat, encoding)
    return batch_frame(src.frame, src.table, cat)


@dataclass(frozen=True)
class GXOutcome:
    """One exported expectation validated by GX on one table of an extract."""

    rule: str
    table: str
    expectation: str
    success: bool
    unexpected_count: int | None  # None for table-level expectations (row count)
    element_count: int | None
    error: str = ""  # set when GX raised instead of validating

    @property
    def failed(self) -> int | None:
        """Comparable with dq's ``failed``: failing rows, or 0/1 for a table-level expectation."""
        if self.error:
            return None
        if self.unexpected_count is None:
            return 0 if self.success else 1
        return self.unexpected_count


def _gx():
    try:
        import great_expectations as gx
    except ImportError as exc:  # pragma: no cover - great_expectations is in the test extra
        raise UsageError("Great Expectations is not installed: pip install 'dq[gx]'") from exc
    return gx


def _batch_definition(gx):
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas("dq").add_dataframe_asset("table")
    return asset.add_batch_definition_whole_dataframe("whole")


def _raised(info: Any) -> str:
    info = info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "raised")
    for v in info.values():
        if isinstance(v, dict) and v.get("raised_exception"):
            return str(v.get("exception_message") or "raised")
    return ""


def validate_with_gx(
    path: str | Path,
    suites: Sequence[Suite] | Iterable[str | Path] | None = None,
    *,
    catalogue: Catalogue | None = None,
    encoding: str | None = None,
) -> list[GXOutcome]:
    """Export ``suites`` (default: the shipped ones), load each table of the extract at ``path``
    with :func:`batch_frame` and validate it with real GX; one outcome per expectation.

    Only the suites dq itself would run on the extract are used (its kind, its tables).
    """
    from dq.io.sources import open_extract

    gx = _gx()
    cat = catalogue or load_catalogue()
    extract = open_extract(path, cat, encoding)
    given = list(suites or ())
    if given and all(isinstance(s, Suite) for s in given):
        loaded = [s for s in given if isinstance(s, Suite)]
    else:
        loaded = load_suites([s for s in given if not isinstance(s, Suite)] or None, catalogue=cat)
    batch_definition = _batch_definition(gx)
    frames: dict[str, Any] = {}
    out: list[GXOutcome] = []
    for suite in loaded:
        assert isinstance(suite, Suite)
        if suite.table not in extract.tables or not suite.applies_to(extract.kind):
            continue
        doc = to_gx_suite(suite, cat)
        if not doc["expectations"]:
            continue
        if suite.table not in frames:
            frames[suite.table] = batch_frame(extract.tables[suite.table].frame, suite.table, cat)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frames[suite.table]})
        validation = batch.validate(gx.ExpectationSuite(**json.loads(json.dumps(doc))))
        for res in validation.results:
            r = res.result or {}
            out.append(
                GXOutcome(
                    rule=res.expectation_config.meta["dq_rule"],
                    table=suite.table,
                    expectation=res.expectation_config.type,
                    success=bool(res.success),
                    unexpected_count=r.get("unexpected_count"),
                    element_count=r.get("element_count"),
                    error=_raised(res.exception_info),
                )
            )
    return out
