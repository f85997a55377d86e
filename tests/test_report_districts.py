"""Districts: every hospital of the registry has one, and the index and the campaign's district
view use it even when an extract's manifest leaves the district out."""

from __future__ import annotations

from fixtures_results import record_result

from dq.io.registry import Registry
from dq.report._index import build_index
from dq.report.campaign import build_campaign
from dq.report.model import PeriodData
from dq.scoring.scores import load_scoring, score_unit
from dq.store.history import Store


def test_every_registry_hospital_has_one_of_the_registry_districts():
    reg = Registry.load()
    districts = {u.district for u in reg.units(kind="district")}
    assert len(districts) == len(reg.units(kind="district"))  # one platform per district
    for u in reg.units(kind="district"):
        assert u.district == u.name
    hospitals = reg.units(kind="hospital")
    assert hospitals
    missing = [u.name for u in hospitals if u.district not in districts]
    assert not missing, missing


def test_index_and_campaign_fill_a_missing_district_from_the_registry(tmp_path):
    reg = Registry.load()
    # H012 (江苏省中西医结合医院) and D01 (玄武区): the hospital's manifest gave no district
    hospital, platform = reg.get("H012"), reg.get("D01")
    assert hospital.district == platform.district == "玄武区"
    store, cfg = Store(tmp_path / "history"), load_scoring()
    for period, failed in (("2020-08", 40), ("2020-09", 5)):
        run = store.begin_run(period, "h", "batch")
        for inst, district in ((hospital, None), (platform, platform.district), (reg.get("H001"), "鼓楼区")):
            rs = [record_result(failed)]
            unit = {"unit_id": inst.unit_id, "name": inst.name, "kind": inst.kind, "district": district}
            store.write_unit(run, unit, rs, score_unit(rs, cfg), None)
        store.finish_run(run, 3, 0)

    index = build_index(PeriodData(store, "2020-09", "zh"))
    by_unit = {r.unit_id: r.district for g in index.groups for r in g.rows}
    assert by_unit == {"H012": "玄武区", "D01": "玄武区", "H001": "鼓楼区"}

    report = PeriodData(store, "2020-09", "en").unit("H012")
    assert report.district == "玄武区"

    camp = build_campaign(store, "2020-08", "2020-09", "zh")
    rows = {d.district: d for d in camp.districts}
    assert rows["玄武区"].platform_id == "D01" and rows["玄武区"].hospitals == 1
    assert rows["玄武区"].hospitals_before is not None and rows["玄武区"].hospitals_after is not None
    assert rows["鼓楼区"].hospitals == 1
