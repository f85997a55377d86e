"""A province, simulated: K cities' worth of synthetic units under one period.

:func:`generate_province` runs :func:`dq.synth.generate` once per city (city ``k`` with seed
``seed + k``, so each city's volumes, styles and defects differ) and gathers the units under one
batch folder. Unit ids stay unique: city ``k`` (``P01`` … ``Pkk``, for prefecture-level cities)
prefixes its units' ids (``P02-H001``) in the folder names and the manifests, and names carry the
city (``南京鼓楼医院 P02``). Written::

    OUT/<period>/<Pkk-unit_id>/...       every city's extracts (the contract of dq synth)
    OUT/<period>/truth.json              the cities' truths merged, unit ids prefixed
    OUT/institutions.csv                 the province's unit registry (dq.io.registry format)

The single-city generator is unchanged: a province is its output, renamed.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from dq.errors import UsageError
from dq.io.registry import COLUMNS, Registry

__all__ = ["city_prefix", "generate_province"]


def city_prefix(k: int) -> str:
    """The id prefix of the ``k``-th city (1-based): ``P01``."""
    return f"P{k:02d}"


def _rename_manifest(path: Path, uid: str, suffix: str) -> dict[str, Any]:
    m = yaml.safe_load(path.read_text(encoding="utf-8"))
    m["unit_id"] = uid
    m["name"] = f"{m.get('name') or uid} {suffix}"
    if m.get("district"):
        m["district"] = f"{m['district']} {suffix}"
    path.write_text(yaml.safe_dump(m, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return m


def generate_province(
    out: str | Path,
    period: str,
    cities: int,
    *,
    scale: float = 0.001,
    seed: int = 0,
    profile: str = "steady",
    units: list[str] | None = None,
    fmt: str = "parquet",
    progress: bool = True,
) -> Path:
    """Write ``cities`` cities' batches under ``out/<period>/``; return that directory."""
    from dq.synth.generate import generate

    if cities < 1:
        raise UsageError(f"cities must be at least 1, got {cities}")
    out = Path(out)
    root = out / period
    root.mkdir(parents=True, exist_ok=True)
    registry = Registry.load()
    rows: list[dict[str, str]] = []
    merged: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=".dq-province-", dir=out) as tmp:
        for k in range(1, cities + 1):
            prefix = city_prefix(k)
            city_root = generate(
                Path(tmp) / prefix, period, scale=scale, seed=seed + k - 1, profile=profile,
                units=units, fmt=fmt, progress=progress,
            )  # fmt: skip
            truth = json.loads((city_root / "truth.json").read_text(encoding="utf-8"))
            for d in sorted(p for p in city_root.iterdir() if p.is_dir()):
                uid = f"{prefix}-{d.name}"
                target = root / uid
                if target.exists():
                    shutil.rmtree(target)
                _rename_manifest(d / "manifest.yaml", uid, prefix)
                shutil.move(str(d), target)
                inst = registry.get(d.name)
                rows.append(
                    {
                        "unit_id": uid,
                        "name": f"{inst.name} {prefix}",
                        "kind": inst.kind,
                        "category": inst.category,
                        "district": f"{inst.district} {prefix}" if inst.district else "",
                        "aliases": "",
                    }
                )
            for t in truth["defects"]:
                t["unit"] = f"{prefix}-{t['unit']}"
            if not merged:
                merged = {**truth, "defects": [], "units": {}, "cities": cities}
            merged["defects"] += truth["defects"]
            merged["units"] |= {f"{prefix}-{u}": v for u, v in truth["units"].items()}
            merged["kinds"] = sorted(set(merged["kinds"]) | set(truth["kinds"]))
            merged["missing_kinds"] = [k for k in merged["missing_kinds"] if k not in merged["kinds"]]
    text = json.dumps(merged, ensure_ascii=False, indent=1) + "\n"
    (root / "truth.json").write_text(text, encoding="utf-8")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "institutions.csv").write_text(buf.getvalue(), encoding="utf-8")
    return root
