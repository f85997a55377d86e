"""Rows to fix: the failing rows' primary keys per rule, stored at scoring time, capped per rule,
masked, and written next to the unit report as CSV (with a BOM) and xlsx.

A real synthetic batch (scale 0.001, a few units) is scored; the keys listed for null checks are
compared with the rows of the extract where the column is null.
"""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import polars as pl
import pytest

from dq.batch.fixlist import fix_file_names, fix_rules, read_fix_rows, write_fix_files
from dq.batch.local import score_batch
from dq.engine.results import RuleResult
from dq.io.catalogue import load_catalogue
from dq.io.sources import open_extract
from dq.store.history import Store
from dq.synth import generate

CAT = load_catalogue()
UNITS = ["D02", "H003", "H011", "H015"]
CAP = 4


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("fix")
    generate(root / "batch", "2020-08", scale=0.001, seed=11, profile="before", units=UNITS, progress=False)
    store = Store(root / "history")
    out = score_batch(root / "batch", "2020-08", store, progress=False, fix_rows=CAP)
    return root, store, out


def test_fix_rows_are_capped_and_keyed(scored):
    _, store, out = scored
    seen = 0
    for o in out.units:
        for r in o.results:
            assert len(r.fix_rows) <= CAP
            if r.status in ("pass", "not_applicable", "error"):
                assert not r.fix_rows
            if r.fix_rows and r.table in CAT.tables:
                key = CAT.tables[r.table].key
                assert all(k in row for row in r.fix_rows for k in key), r.rule
                assert len(r.fix_rows) == min(CAP, r.failed) or r.check in ("unique", "group_count")
                seen += 1
        stored = read_fix_rows(store, "2020-08", o.unit_id, out.run.run_id)
        assert stored.height == sum(len(r.fix_rows) for r in o.results)
    assert seen >= 5


def test_null_keys_are_the_null_rows(scored):
    root, _store, out = scored
    checked = 0
    for o in out.units:
        ext = open_extract(root / "batch" / "2020-08" / o.unit_id, catalogue=CAT)
        for r in o.results:
            if r.check != "not_null" or not r.fix_rows or r.failed > CAP or r.table not in ext.tables:
                continue
            key = CAT.tables[r.table].key
            col = r.columns[0]
            df = ext.tables[r.table].frame.collect()
            # a value given but unparseable is date_parse's finding: not_null tests the text
            col = f"{col}__raw" if f"{col}__raw" in df.columns else col
            bad = df.filter(pl.col(col).is_null() | (pl.col(col).cast(pl.String).str.strip_chars() == ""))
            expected = {tuple(str(x) for x in row) for row in bad.select(key).iter_rows()}
            listed = {tuple(str(row[k]) for k in key) for row in r.fix_rows}
            assert listed == expected, r.rule
            checked += 1
    assert checked >= 1


def test_files_csv_bom_xlsx_and_masking(scored, tmp_path):
    _, store, out = scored
    wrote_any = False
    for o in out.units:
        rules = fix_rules(store, "2020-08", o.unit_id, "zh", max_rows=2)
        paths = write_fix_files(store, "2020-08", o.unit_id, tmp_path, "zh", max_rows=2)
        if not rules:
            assert paths == []
            continue
        wrote_any = True
        csv_name, xlsx_name = fix_file_names(o.unit_id)
        assert [p.name for p in paths] == [csv_name, xlsx_name]
        raw = (tmp_path / csv_name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        body = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert body[0][0] == "规则"
        per_rule: dict[str, int] = {}
        for row in body[1:]:
            per_rule[row[0]] = per_rule.get(row[0], 0) + 1
        assert per_rule == {fr.rule: len(fr.rows) for fr in rules}
        assert max(per_rule.values()) <= 2
        wb = openpyxl.load_workbook(tmp_path / xlsx_name, read_only=True)
        assert len(wb.sheetnames) == 1 + len(rules)
        # pii columns never appear unmasked
        for fr in rules:
            pii = CAT.tables[fr.table].pii if fr.table in CAT.tables else {}
            for row in fr.rows:
                for c in pii:
                    v = row.get(c)
                    if isinstance(v, str) and v.strip():
                        assert "*" in v, (fr.rule, c)
    assert wrote_any


def test_fix_rows_only_for_failing_rules_and_round_trip(scored):
    _, _, out = scored
    r = next(r for o in out.units for r in o.results if r.status == "pass")
    assert r.to_dict()["fix_rows"] == []
    f = next(r for o in out.units for r in o.results if r.fix_rows)
    d = json.loads(json.dumps(f.to_dict()))
    assert d["fix_rows"]
    assert RuleResult.from_dict(d) == f


def test_workbook_summary_by_points_numbers_filters_and_frozen_headers(scored, tmp_path):
    """The summary sheet lists the rules by overall-score points lost (dq explain's figures),
    with severity and the fix advice; rule sheets keep numbers as numbers; every sheet has an
    autofilter and a frozen header."""
    from dq.scoring.explain import unit_losses

    _, store, out = scored
    checked_numbers = 0
    for o in out.units:
        paths = write_fix_files(store, "2020-08", o.unit_id, tmp_path / o.unit_id, "zh", max_rows=5)
        if not paths:
            continue
        losses = {x.rule: x.points for x in unit_losses(store, "2020-08", o.unit_id).losses}
        stored = store.results("2020-08", o.unit_id)
        fixes = dict(stored.select("rule", "fix_zh").iter_rows())
        wb = openpyxl.load_workbook(paths[1])
        summary = wb["汇总"]
        head = [c.value for c in summary[1]]
        assert (
            head[:6] == ["规则", "规则名称", "数据表", "表名", "严重程度", "失分（总分）"]
            and head[-1] == "整改建议"
        )
        rows = [[c.value for c in r] for r in summary.iter_rows(min_row=2)]
        points = [r[5] for r in rows]
        assert points == sorted(points, reverse=True)
        for r in rows:
            assert r[5] == pytest.approx(losses.get(r[0], 0.0), abs=0.005)
            assert r[4] in ("严重", "错误", "警告")
            assert r[8] == (fixes[r[0]] or "").strip()
            assert r[2] == CAT.tables[r[3]].title_zh
        assert summary.freeze_panes == "A2" and summary.auto_filter.ref
        for name in wb.sheetnames[1:]:
            ws = wb[name]
            assert ws.freeze_panes == "A3" and ws.auto_filter.ref
            for row in ws.iter_rows(min_row=3):
                for cell in row:
                    head = ws.cell(row=2, column=cell.column).value or ""
                    col = head.rsplit("(", 1)[-1].rstrip(")") if head.endswith(")") else head
                    table = CAT.tables.get(
                        summary.cell(row=[r[0] for r in rows].index(name) + 2, column=4).value
                    )
                    spec = table.column(col) if table and col else None
                    if spec is not None and spec.type in ("int", "decimal") and cell.value is not None:
                        if isinstance(cell.value, str):  # the text as uploaded, which is no number
                            with pytest.raises(ValueError):
                                float(cell.value)
                            continue
                        assert isinstance(cell.value, int | float), (name, col, cell.value)
                        checked_numbers += 1
    assert checked_numbers >= 1
