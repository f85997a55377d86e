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
from dq.io.masking import mask_value
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
            head[:6] == ["规则", "规则名称", "数据表", "表名", "严重程度", "失分（综合得分）"]
            and head[-1] == "整改建议"
        )
        rows = [[c.value for c in r] for r in summary.iter_rows(min_row=2)]
        points = [r[5] for r in rows]
        assert points == sorted(points, reverse=True)
        for r in rows:
            assert r[5] == pytest.approx(losses.get(r[0], 0.0), abs=0.005)
            assert r[4] in ("严重", "错误", "提示")  # the report's words for severities
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


# ------------------------------------------------------------------------------ finding the rows
def _file_records(path):
    """Each record of an uploaded file by where the rows to fix say it is: a CSV file by its
    physical line (the header is line 1), a workbook's first sheet by its row in Excel."""
    if path.suffix == ".csv":
        out = {}
        with path.open(encoding=_encoding(path), newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            start = reader.line_num + 1
            for fields in reader:
                out[start] = dict(zip(header, fields, strict=False))
                start = reader.line_num + 1
        return out
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    first = next(i for i, r in enumerate(rows) if any(v is not None for v in r))
    header = [str(v) for v in rows[first]]
    return {
        i + 1: {h: ("" if v is None else str(v)) for h, v in zip(header, r, strict=False)}
        for i, r in enumerate(rows)
        if i > first
    }


def _encoding(path):
    from dq.io.sources import detect_encoding

    return "utf-8-sig" if detect_encoding(path) == "utf-8" else "gb18030"


def _read(path) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(path.read_text(encoding=_encoding(path))), infer_schema=False)


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory):
    """A batch uploaded as CSV, one unit's outpatient visits as a workbook with an empty row
    above the header and one among the rows (Excel shows them; the reader skips them), and a
    quoted line break in a CSV value (the lines after it move down)."""
    import xlsxwriter

    root = tmp_path_factory.mktemp("located")
    batch = generate(root / "batch", "2020-08", scale=0.001, seed=5, profile="before",
                     units=["H003", "D02"], fmt="csv", progress=False)  # fmt: skip
    visits = batch / "H003" / "outpatient_visit.csv"
    frame = _read(visits)
    wb = xlsxwriter.Workbook(str(visits.with_suffix(".xlsx")), {"strings_to_numbers": False})
    ws = wb.add_worksheet("Sheet1")
    ws.write_row(1, 0, frame.columns)  # row 2 in Excel: row 1 is empty
    r = 2
    for i, row in enumerate(frame.iter_rows()):
        if i == 3:
            r += 1  # an empty row among the data
        ws.write_row(r, 0, ["" if v is None else v for v in row])
        r += 1
    wb.close()
    visits.unlink()
    name = batch / "H003" / "patient_index.csv"
    text = name.read_text(encoding=_encoding(name)).splitlines()
    cols = text[0].split(",")
    at = cols.index("address_code")
    fields = text[2].split(",")
    fields[at] = '"320106\n"'  # an address code broken over two lines, quoted
    text[2] = ",".join(fields)
    name.write_text("\n".join(text) + "\n", encoding="utf-8")
    store = Store(root / "history")
    out = score_batch(root / "batch", "2020-08", store, progress=False, fix_rows=40)
    return batch, store, out


def test_every_listed_row_is_found_in_the_uploaded_file(uploaded, tmp_path):
    """Open the written workbook, take each row's file and line (or sheet row), open the
    uploaded file there and compare: the key columns, the rule's text columns and the masked
    patient number are that record's. Rows with an entirely blank key are found the same way."""
    batch, store, out = uploaded
    checked = blank_keys = xlsx_rows = 0
    for o in out.units:
        paths = write_fix_files(store, "2020-08", o.unit_id, tmp_path / o.unit_id, "zh", max_rows=40)
        if not paths:
            continue
        rules = {fr.rule: fr for fr in fix_rules(store, "2020-08", o.unit_id, "zh", max_rows=40)}
        wb = openpyxl.load_workbook(paths[1], read_only=True)
        files: dict = {}
        for ws in wb.worksheets[1:]:
            rows = list(ws.iter_rows(values_only=True))
            title, head = rows[0][0], rows[1]
            fr = rules[title.split(" ", 1)[0]]
            assert head[:2] == ("所在文件", "行号")
            fields = [h.rsplit("(", 1)[-1].rstrip(")") for h in head[2:]]
            assert fields == list(fr.columns)
            for values in rows[2:]:
                where, number = values[0], values[1]
                assert where and isinstance(number, int), (fr.rule, values)
                file = where.split("，", 1)[0]
                if file not in files:
                    files[file] = _file_records(batch / o.unit_id / file)
                record = files[file][number]
                xlsx_rows += file.endswith(".xlsx")
                row = dict(zip(fields, values[2:], strict=True))
                spec = CAT.tables[fr.table]
                if all(not record.get(k, "").strip() for k in spec.key):
                    blank_keys += 1
                for col, v in row.items():
                    c = spec.column(col)
                    if c is None or c.type != "str" or c.pii or col not in record:
                        continue
                    got = record[col]
                    if col == spec.patient:
                        assert (v or "") == (mask_value(got, "patient") if got.strip() else got), (
                            fr.rule,
                            col,
                        )
                        assert v is None or not got.strip() or v != got
                    else:
                        assert (v or "") == got, (fr.rule, number, col, v, got)
                checked += 1
    assert checked >= 30 and blank_keys >= 1 and xlsx_rows >= 1, (checked, blank_keys, xlsx_rows)


def test_locator_counts_quoted_line_breaks_and_empty_sheet_rows(uploaded):
    """The line of a CSV record after a value spanning two lines, and the Excel row of a
    workbook record below an empty row, are where the record is, not its record number."""
    from dq.io.sources import open_extract, row_locators

    batch, _, _ = uploaded
    ext = open_extract(batch / "H003", catalogue=CAT)
    people = ext.tables["patient_index"]
    at = row_locators(people, [0, 1, 2])
    assert [at[i]["line"] for i in (0, 1, 2)] == [2, 3, 5]  # record 1 spans lines 3 and 4
    visits = ext.tables["outpatient_visit"]
    at = row_locators(visits, [0, 2, 4])  # the reader's row numbers count the empty row (3)
    assert at[0] == {"file": "outpatient_visit.xlsx", "sheet": "Sheet1", "row": 3}
    assert at[2]["row"] == 5 and at[4]["row"] == 7  # row 6 is empty
    frame = visits.frame.collect()
    assert "__dq_row" in frame.columns and frame["__dq_row"].to_list()[:5] == [0, 1, 2, 4, 5]


def test_workbook_numbers_have_their_scale_and_nothing_is_unmasked(uploaded, tmp_path):
    """Decimal cells are numbers formatted with the column's scale (money: 0.00), integers
    whole numbers; every sheet has an autofilter and a frozen header; no ID number, name or
    phone number of the uploaded files appears unmasked in the CSV or the workbook."""
    from dq.io.masking import mask_identifiers

    batch, store, out = uploaded
    secrets: set[str] = set()
    for unit in batch.iterdir():
        for f in unit.glob("*.csv"):
            table = CAT.tables.get(f.stem)
            if table is None:
                continue
            frame = _read(f)
            for col in [*table.pii, *([table.patient] if table.patient else [])]:
                if col in frame.columns:
                    secrets |= {v for v in frame[col].drop_nulls().to_list() if len(v.strip()) >= 4}
    assert len(secrets) > 50
    money = 0
    for o in out.units:
        paths = write_fix_files(store, "2020-08", o.unit_id, tmp_path / o.unit_id, "zh", max_rows=40)
        if not paths:
            continue
        text = paths[0].read_text(encoding="utf-8-sig")
        assert paths[0].read_bytes().startswith(b"\xef\xbb\xbf")
        wb = openpyxl.load_workbook(paths[1])
        cells = []
        for ws in wb.worksheets:
            assert ws.auto_filter.ref and ws.freeze_panes in ("A2", "A3"), ws.title
            cells += [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
            if ws.title == "汇总":
                continue
            head = [c.value for c in ws[2]]
            listed = {r[0].value: r[3].value for r in wb["汇总"].iter_rows(min_row=2)}
            table = CAT.tables[listed[ws.title]]
            for i, h in enumerate(head[2:], start=3):
                col = table.column(h.rsplit("(", 1)[-1].rstrip(")"))
                for row in ws.iter_rows(min_row=3, min_col=i, max_col=i):
                    cell = row[0]
                    if col is None or cell.value is None or col.type not in ("int", "decimal"):
                        continue
                    if isinstance(cell.value, str):  # the text as uploaded, which is not a number
                        with pytest.raises(ValueError):
                            float(cell.value)
                        continue
                    assert isinstance(cell.value, int | float), (ws.title, h, cell.value)
                    want = "0" if col.type == "int" else ("0." + "0" * col.scale if col.scale else "General")
                    assert cell.number_format == want, (ws.title, h, cell.number_format)
                    money += col.scale == 2
            nums = [c.value for c in ws["B"][2:]]
            assert all(isinstance(v, int) for v in nums), ws.title  # the line or row number
        everything = text + "\n".join(cells)
        leaked = [s for s in secrets if s in everything]
        assert not leaked, leaked[:3]
        assert mask_identifiers(everything) == everything
    assert money >= 1


def test_every_bundled_column_has_a_label_and_headers_show_both():
    for name, spec in CAT.tables.items():
        for col in spec.columns:
            assert col.label_zh and col.label_en, (name, col.name)
            assert col.label_zh != col.name
    assert CAT.heading("outpatient_visit", "visit_time") == "就诊时间 (visit_time)"
    assert CAT.heading("outpatient_visit", "visit_time", "en") == "visit time (visit_time)"
    assert (
        CAT.heading("fee_settlement", "outpatient_visit__total_fee")
        == "门急诊就诊记录·总费用（元） (total_fee)"
    )


def test_catalogue_labels_and_patient_are_optional_and_checked(tmp_path):
    from dq.errors import SuiteError
    from dq.io.catalogue import load_catalogue as load

    base = "version: 1\nupload_time: false\ntables:\n  t:\n    key: [a]\n"
    plain = tmp_path / "plain.yaml"
    plain.write_text(base + "    columns:\n      - {name: a, type: str}\n", encoding="utf-8")
    cat = load(plain)
    assert cat.heading("t", "a") == "a" and cat.tables["t"].patient is None
    good = tmp_path / "good.yaml"
    good.write_text(base + "    patient: a\n    columns:\n      - {name: a, type: str, label: {zh: 编号}}\n",
                    encoding="utf-8")  # fmt: skip
    cat = load(good)
    assert cat.heading("t", "a") == "编号 (a)" and cat.heading("t", "a", "en") == "编号 (a)"
    bad = tmp_path / "bad.yaml"
    bad.write_text(base + "    patient: b\n    columns:\n      - {name: a, type: str, label: {fr: x}}\n",
                   encoding="utf-8")  # fmt: skip
    with pytest.raises(SuiteError) as err:
        load(bad)
    text = str(err.value)
    assert "label" in text and "patient 'b' is not a column" in text and "bad.yaml:" in text
