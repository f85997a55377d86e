"""dq.io.registry: one id per unit, every printed name resolves."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest

from dq.io.registry import (
    Institution,
    Registry,
    RegistryError,
    UnknownUnitError,
    default_registry_path,
)

NANJING = Path(__file__).resolve().parents[1] / "datasets" / "nanjing"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


# Every group of printed names that denote one unit (canonical name first).
ALIAS_GROUPS = [
    ["东部战区总医院", "解放军南京总医院", "南京军区南京总医院"],
    ["南京医科大学附属眼科医院", "南医大眼科医院"],
    ["江苏省省级机关医院", "江苏省级机关医院"],
    ["中国医学科学院皮肤病医院", "中科院皮研所", "中国医学科学院皮肤病研究所"],
    [
        "东部战区总医院(秦淮医疗区)",
        "中国人民解放军东部战区总医院秦淮医疗区",
        "解放军第八一医院",
        "中国人民解放军第八一医院",
    ],
    ["东部战区空军医院", "解放军第四五四医院", "中国人民解放军第四五四医院"],
    ["东部战区总医院汤山分院", "南京军区南京总医院汤山分院"],
    ["南京医科大学第二附属医院", "南京医科大学附属第二医院", "南医大二附院"],
    ["南京同仁医院", "同仁医院"],
    ["南京明基医院", "明基医院"],
    ["南京市六合人民医院", "南京市六合区人民医院", "六合区人民医院"],
    ["南京梅山医院", "上海梅山医院"],
    ["南京江北人民医院", "南京市江北人民医院"],
    ["南京市高淳人民医院", "南京市高淳区人民医院"],
    ["南京市浦口区中心医院", "南京市浦口中心医院"],
    ["南京市浦口区中医院", "南京市浦口中医院"],
    ["南京市栖霞区妇幼保健院", "栖霞区妇幼保健院"],
    ["南京市江宁医院", "南京市江宁医院（湖山路）"],
    ["雨花台区西善桥社区卫生服务中心", "西善桥社区卫生服务中心"],
]


@pytest.mark.parametrize("names", ALIAS_GROUPS, ids=lambda g: g[0])
def test_alias_groups_resolve_to_one_unit(registry, names):
    units = {registry.resolve(n) for n in names}
    assert len(units) == 1
    (inst,) = units
    assert inst.name == names[0]
    assert set(names) <= set(inst.names)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("南京市儿童医院", "南京市儿童医院河西分院"),
        ("东部战区总医院", "东部战区总医院(秦淮医疗区)"),
        ("东部战区总医院", "东部战区总医院汤山分院"),
        ("南京鼓楼医院", "南京鼓楼医院江北国际医院"),
        ("南京鼓楼医院", "泰康仙林鼓楼医院"),
        ("南京鼓楼医院", "鼓楼区"),
        ("南京市浦口区中心医院", "南京市浦口医院"),
        ("南京市江宁医院", "南京江宁中医院"),
        ("南京江北人民医院", "南京市大厂医院"),
        ("江宁区汤山社区卫生服务中心", "东部战区总医院汤山分院"),
        ("江苏省中医院", "江苏省第二中医院"),
    ],
)
def test_different_units_stay_apart(registry, a, b):
    assert registry.resolve(a) != registry.resolve(b)


def test_resolution_ignores_whitespace_and_bracket_width(registry):
    qinhuai = registry.resolve("东部战区总医院(秦淮医疗区)")
    assert registry.resolve("东部战区总医院（秦淮医疗区） ") is qinhuai
    assert registry.resolve(" 东部战区总医院 (秦淮医疗区)\n") is qinhuai
    assert registry.resolve("南京市江宁医院(湖山路)").name == "南京市江宁医院"
    assert "南医大 眼科医院" in registry
    assert "南医大" not in registry


def test_unknown_name_lists_three_closest_candidates(registry):
    with pytest.raises(UnknownUnitError) as exc:
        registry.resolve("南京市鼓楼区人民医院")
    err = exc.value
    assert isinstance(err, LookupError)
    assert len(err.candidates) == 3
    for candidate in err.candidates:
        assert repr(candidate) in str(err)
    assert "unknown unit '南京市鼓楼区人民医院'" in str(err)
    with pytest.raises(UnknownUnitError) as exc:
        registry.resolve("南京脑科病院")
    assert exc.value.candidates[0] == "南京脑科医院"


def test_get_by_id(registry):
    assert registry.get("D12").name == "江北新区"
    assert registry.get("H001").name == "南京鼓楼医院"
    with pytest.raises(UnknownUnitError, match="'H999'"):
        registry.get("H999")


def test_institution_is_frozen(registry):
    inst = registry.resolve("江北新区")
    assert isinstance(inst, Institution)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.name = "x"


def test_units_filters(registry):
    districts = registry.units(kind="district")
    assert [d.unit_id for d in districts] == [f"D{i:02d}" for i in range(1, 13)]
    assert all(d.category == "district" and d.district == d.name for d in districts)
    community = registry.units(category="community")
    assert community and all(u.unit_id.startswith("C") for u in community)
    assert all(u.kind == "hospital" for u in community)
    assert {u.name for u in registry.units(category="maternal_child")} >= {
        "南京市妇幼保健院",
        "雨花台区妇幼保健所",
        "建邺区妇幼保健所",
    }
    assert len(registry.units()) == len(registry)
    with pytest.raises(ValueError, match="kind must be one of"):
        registry.units(kind="clinic")


def test_every_printed_unit_resolves_and_every_registry_unit_is_printed(registry):
    seen = set()
    for path in sorted(NANJING.glob("*.csv")):
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                name = row.get("unit")
                if name and name != "合计":
                    seen.add(registry.resolve(name, context=path.name).unit_id)
    assert seen == {u.unit_id for u in registry}


def test_collection_units(registry):
    units_2018 = registry.collection_units("2018-03")
    assert len(units_2018) == 12 + 24
    assert units_2018[0].name == "江北新区"
    names_2020 = {u.name for u in registry.collection_units("2020-09")}
    assert len(names_2020) == 12 + 25
    assert {"东部战区总医院", "东部战区空军医院", "南京江北人民医院"} <= names_2020
    with pytest.raises(ValueError, match="no collection tables for period '2019-01'"):
        registry.collection_units("2019-01")


def test_default_path_is_the_repository_file(registry):
    assert default_registry_path() == Path(__file__).resolve().parents[1] / ("datasets/institutions.csv")
    assert registry.path == default_registry_path()


HEADER = "unit_id,name,kind,category,district,aliases\n"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "institutions.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_duplicate_names_are_rejected(tmp_path):
    path = _write(
        tmp_path,
        "H001,南京鼓楼医院,hospital,hospital,鼓楼区,鼓楼医院\n"
        "H002,泰康仙林鼓楼医院,hospital,hospital,栖霞区, 鼓楼医院 \n",
    )
    with pytest.raises(RegistryError, match="'鼓楼医院' of H002 clashes with '鼓楼医院' of H001"):
        Registry.load(path)


def test_invalid_rows_are_all_reported(tmp_path):
    path = _write(
        tmp_path,
        "H001,南京鼓楼医院,clinic,hospital,,\n"
        "X1,玄武区,district,district,玄武区,\n"
        "C001,新街口社区卫生服务中心,district,community,,\n"
        "H001,南京市第一医院,hospital,hospital,,\n",
    )
    with pytest.raises(RegistryError) as exc:
        Registry.load(path)
    problems = exc.value.problems
    assert any("line 2" in p and "kind 'clinic'" in p for p in problems)
    assert any("line 3" in p and "unit_id 'X1'" in p for p in problems)
    assert any("line 4" in p and "does not fit category" in p for p in problems)
    assert isinstance(exc.value, ValueError)


def test_duplicate_ids_and_bad_header(tmp_path):
    path = _write(
        tmp_path,
        "H001,南京鼓楼医院,hospital,hospital,,\nH001,南京市第一医院,hospital,hospital,,\n",
    )
    with pytest.raises(RegistryError, match="duplicate unit_id H001"):
        Registry.load(path)
    path.write_text("id,name\nH001,x\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="header must be"):
        Registry.load(path)
    with pytest.raises(RegistryError, match="cannot read"):
        Registry.load(tmp_path / "missing.csv")
