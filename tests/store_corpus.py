"""A store's own history, drifted: files of older or newer schemas, damaged and misplaced files,
planted into a real history store (written by ``dq score``) with pyarrow and Polars.

Each case names the folder, what was done, and either ``None`` (the file is combined with the
others: the readers must show its rows) or a fragment of the reason ``dq history --check`` must
give (the readers skip the file with a warning naming it). Every drifted value that could leak
carries :data:`SECRET`, an ID number that no output may ever show.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

SECRET = "320106199001011237"
#: The units whose files are drifted: (text scores, counts as text, …; a score that is not a
#: number; a summary with an extra column, a copy under another period, an older delivery).
Units = tuple[str, str, str]
UNITS: Units = ("H001", "H002", "H003")
FAKE_RUN = "20200101T000000-0a0a0a"
OTHER_RUN = "20190101T000000-0f0f0f"


@dataclass(frozen=True)
class StoreCase:
    folder: str
    name: str
    problem: str | None  # None: combined with the rest; else a fragment of --check's reason
    plant: Callable[[Path, str, str, Units], Path]  # (store, period, other period, units) -> file
    in_period: bool = True  # the file lies in (or is named by) the period under test


CASES: list[StoreCase] = []


def case(folder: str, name: str, problem: str | None, in_period: bool = True):
    def register(fn: Callable[[Path, str, str, Units], Path]):
        CASES.append(StoreCase(folder, name, problem, fn, in_period))
        return fn

    return register


def one(store: Path, folder: str, period: str, unit: str | None = None) -> Path:
    """The file of ``folder`` for ``period`` (of ``unit``) that the store holds."""
    pattern = f"*__{unit}.parquet" if unit else "*.parquet"
    found = sorted((store / folder / f"period={period}").glob(pattern))
    assert found, f"no {folder} file for {period} {unit or ''} in {store}"
    return found[0]


def rewrite(path: Path, fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Path:
    fn(pl.read_parquet(path)).write_parquet(path)
    return path


def fresh(store: Path, folder: str, period: str, name: str) -> Path:
    path = store / folder / f"period={period}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# -- files of another schema that are combined ------------------------------------------------------
@case("scores", "score written as text (every value a number)", None)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    return rewrite(one(store, "scores", p, u[0]), lambda df: df.with_columns(pl.col("score").cast(pl.String)))


@case("results", "whole numbers written as text, a newer column missing, an extra column", None)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    return rewrite(
        one(store, "results", p, u[0]),
        lambda df: df.with_columns(
            pl.col("evaluated").cast(pl.String),
            pl.col("failed").cast(pl.String),
            pl.lit(SECRET).alias("note"),
        ).drop("message_args"),
    )


@case("runs", "timestamps written as text with an offset, a count as text (pyarrow)", None)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = one(store, "runs", p)
    table = pq.read_table(path)
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if name in ("started_at", "finished_at"):
            cols[name] = pa.array(
                [None if v is None else v.astimezone().isoformat() for v in col.to_pylist()], pa.string()
            )
        elif name == "units":
            cols[name] = pa.array([str(v) for v in col.to_pylist()], pa.large_string())
        else:
            cols[name] = col
    pq.write_table(pa.table(cols), path)
    return path


@case("tables", "row counts as 32-bit integers", None)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    return rewrite(one(store, "tables", p, u[0]), lambda df: df.with_columns(pl.col("rows").cast(pl.Int32)))


@case("summaries", "counts as whole floats, an extra column", None)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    return rewrite(
        one(store, "summaries", p, u[2]),
        lambda df: df.with_columns(pl.col("data_volume").cast(pl.Float64), pl.lit(SECRET).alias("contact")),
    )


@case("fixrows", "row numbers as text", None)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    return rewrite(one(store, "fixrows", p), lambda df: df.with_columns(pl.col("n").cast(pl.String)))


@case("deliveries", "an older event: time as text, attempts as text, no dq_version", None)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "deliveries", p, f"20201001T090000000000__{u[2]}__sent__0b0b0b0b.parquet")
    pl.DataFrame(
        {
            "unit_id": [u[2]],
            "status": ["sent"],
            "time": ["2020-10-01T09:00:00+08:00"],
            "to": ["quality@h003.example.org"],
            "message_id": ["<old@dq>"],
            "attempts": ["1"],
        }
    ).write_parquet(path)
    return path


# -- files that cannot be combined: skipped, named, listed ------------------------------------------
@case("scores", "score written as text that is not a number", "column score: ")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    return rewrite(
        one(store, "scores", p, u[1]),
        lambda df: df.with_columns(pl.format("n/a {}", pl.lit(SECRET)).alias("score")),
    )


@case("scores", "a stray file without the scores' key columns", "not a scores file: no column unit_id, facet")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "scores", p, f"{FAKE_RUN}__stray.parquet")
    pl.DataFrame({"run_id": [FAKE_RUN], "score": [SECRET]}).write_parquet(path)
    return path


@case("scores", "a unit's file copied under another period", "found under period=", in_period=False)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    src = one(store, "scores", p, u[2])
    dst = fresh(store, "scores", o, src.name)
    shutil.copy(src, dst)
    return dst


@case("scores", "a file in a folder that is not a month", "not in a period folder", in_period=False)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    src = one(store, "scores", p, u[2])
    dst = store / "scores" / "period=2020-13" / src.name
    dst.parent.mkdir(parents=True)
    shutil.copy(src, dst)
    return dst


@case("results", "junk bytes", "unreadable")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "results", p, f"{FAKE_RUN}__junk.parquet")
    path.write_bytes(b"PAR1" + SECRET.encode() + b"not parquet PAR1")
    return path


@case("results", "a text file beside the results", "not where the store keeps its files")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "results", p, "notes.txt")
    path.write_text(f"patient {SECRET}\n")
    return path


@case("results", "a count beyond 64-bit integers (uint64)", "column failed: 1 of")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "results", p, f"{FAKE_RUN}__big.parquet")
    src = pl.read_parquet(one(store, "results", p, u[2])).head(1)
    src.with_columns(pl.Series("failed", [2**64 - 1], dtype=pl.UInt64)).write_parquet(path)
    return path


@case("summaries", "a zero-byte file", "unreadable")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "summaries", p, f"{FAKE_RUN}__empty.parquet")
    path.write_bytes(b"")
    return path


@case("tables", "row counts as lists", "column rows holds list values")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "tables", p, f"{FAKE_RUN}__lists.parquet")
    pl.DataFrame({"run_id": [FAKE_RUN], "unit_id": ["X1"], "table": ["t"], "rows": [[1, 2]]}).write_parquet(
        path
    )
    return path


@case("runs", "a zero-byte run file of another period", "unreadable", in_period=False)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "runs", o, f"{OTHER_RUN}.parquet")
    path.write_bytes(b"")
    return path


@case("fixrows", "junk bytes", "unreadable")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "fixrows", p, f"{FAKE_RUN}__junk.parquet")
    path.write_bytes(SECRET.encode() * 4)
    return path


@case("fixrows", "a unit's rows to fix holding lists", "column row holds list values, not text")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    found = [
        f for f in sorted((store / "fixrows" / f"period={p}").glob("*.parquet")) if FAKE_RUN not in f.name
    ]
    assert len(found) >= 2, "the store needs two units with rows to fix"  # the first is drifted above
    return rewrite(found[-1], lambda df: df.with_columns(pl.concat_list("n").alias("row")))


@case("deliveries", "junk bytes under another period", "unreadable", in_period=False)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "deliveries", o, "20190101T000000000000__X__sent__junk.parquet")
    path.write_bytes(b"junk " + SECRET.encode())
    return path


@case("deliveries", "a zero-byte event", "unreadable")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "deliveries", p, f"20201002T000000000000__{u[0]}__sending__0c0c0c0c.parquet")
    path.write_bytes(b"")
    return path


@case("deliveries", "an event whose time is not a time", "column time: 1 of 1 values do not convert")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "deliveries", p, f"20201003T000000000000__{u[0]}__sent__0d0d0d0d.parquet")
    pl.DataFrame({"unit_id": [u[0]], "status": ["sent"], "time": [f"call {SECRET}"]}).write_parquet(path)
    return path


@case("deliveries", "an event without a status", "not a deliveries file: no column status")
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "deliveries", p, f"20201004T000000000000__{u[0]}__x__0e0e0e0e.parquet")
    pl.DataFrame({"unit_id": [u[0]], "to": [SECRET]}).write_parquet(path)
    return path


@case("errors", "junk in a folder dq does not know", "unreadable", in_period=False)
def _(store: Path, p: str, o: str, u: Units) -> Path:
    path = fresh(store, "errors", p, "x.parquet")
    path.write_bytes(b"\x00" * 64)
    return path


# -- in every folder: junk bytes in the period, a zero-byte file in another period -----------------
def _every_folder(i: int, folder: str, junk: bool) -> None:
    stamp = f"20180101T000000-{'1' if junk else '2'}0000{i}"
    name = f"{stamp}.parquet" if folder == "runs" else f"{stamp}__{'junk' if junk else 'empty'}.parquet"

    def _(store: Path, p: str, o: str, u: Units) -> Path:
        path = fresh(store, folder, p if junk else o, name)
        path.write_bytes(b"\x00PAR1" + SECRET.encode() * 3 if junk else b"")
        return path

    what = "junk bytes" if junk else "a zero-byte file of another period"
    CASES.append(StoreCase(folder, what, "unreadable", _, in_period=junk))


for _i, _folder in enumerate(("runs", "results", "scores", "summaries", "tables", "fixrows", "deliveries")):
    _every_folder(_i, _folder, junk=True)
    _every_folder(_i, _folder, junk=False)


def plant(store: Path, period: str, other: str, units: Units = UNITS) -> dict[Path, StoreCase]:
    """Plant every case into ``store`` (a copy: files are rewritten) → the file of each case."""
    return {c.plant(store, period, other, units): c for c in CASES}
