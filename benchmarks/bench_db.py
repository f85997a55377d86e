"""Benchmark: `dq score` of a city-month from PostgreSQL against the same batch from Parquet.

One run, one machine, the same batch: the synthetic city-month (``dq synth --scale S``) as Parquet
files, loaded into a PostgreSQL server started here (initdb/pg_ctl in a temporary folder, as in
the tests: tests/pgserver.py). Then, in alternate child processes (``--rounds`` times each, best
kept; the machine may be shared, so read the ratio):

* ``dq score ROOT --period P`` (Parquet) and ``dq score postgresql://… --period P`` (the same
  units: ``--db-expected declared``), each into a fresh store; wall time, CPU time, peak RSS.

And the read path alone, rows per second over every row of the batch's hospital tables:

* dq's database reader (:func:`dq.io.database.open_database_unit`: one bound-parameter query per
  unit and table over ADBC, Arrow batches into typed Polars frames);
* psycopg ``COPY (SELECT …) TO STDOUT`` (CSV) parsed by ``pl.read_csv``, one query per table;
* ``pandas.read_sql`` over a psycopg connection, one query per table.

    .venv/bin/python benchmarks/bench_db.py [--scale 0.1] [--rounds 2] [--baseline ../main]
                                            [--url postgresql://… (already loaded)] [--no-read-path]

Needs the ``db`` and ``bench`` extras (adbc drivers; psycopg, pandas). Not a test: CI does not
run it. The batch is kept under benchmarks/data/city-<scale>/ (git-ignored) and reused.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
PERIOD = "2020-09"


def measure(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MB) of a child process (GNU time's figures)."""
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "DQTIME %U %S %M", *cmd], env=env, capture_output=True,
                       text=True, cwd=cwd)  # fmt: skip
    wall = time.perf_counter() - t
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}")
    user, system, rss = next(line for line in r.stderr.splitlines() if line.startswith("DQTIME")).split()[1:]
    return wall, float(user) + float(system), int(rss) / 1024


def read_paths(url: str, dsn: str, tables: list[str], units: list) -> dict[str, tuple[int, float]]:
    import pandas as pd
    import polars as pl
    import psycopg

    from dq.io.database import open_database_unit

    out: dict[str, tuple[int, float]] = {}
    t = time.perf_counter()
    n = 0
    for u in units:
        with open_database_unit(u) as ext:
            n += sum(src.frame.collect().height for name, src in ext.tables.items() if name in tables)
    out["dq reader (ADBC → Arrow → typed Polars, per unit)"] = (n, time.perf_counter() - t)

    from dq.io.catalogue import load_catalogue

    cat = load_catalogue()
    cols = {t: ", ".join(f'"{c.name}"' for c in cat.tables[t].columns) for t in tables}
    with psycopg.connect(dsn) as conn:
        t = time.perf_counter()
        n = 0
        for table in tables:
            buf = bytearray()
            with conn.cursor().copy(
                f'COPY (SELECT {cols[table]} FROM "{table}") TO STDOUT WITH (FORMAT csv, HEADER)'
            ) as cp:
                for chunk in cp:
                    buf += chunk
            n += pl.read_csv(bytes(buf), infer_schema=False).height
        out["psycopg COPY → pl.read_csv (per table)"] = (n, time.perf_counter() - t)
        t = time.perf_counter()
        n = 0
        for table in tables:
            n += len(pd.read_sql(f'SELECT {cols[table]} FROM "{table}"', conn))
        out["pandas.read_sql over psycopg (per table)"] = (n, time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="dq score --threads (default: dq's)")
    ap.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        help="also score from PostgreSQL with another checkout's dq (e.g. the main branch), same rounds",
    )
    ap.add_argument(
        "--url", help="a PostgreSQL URL that already holds this batch (PGPASSWORD set): no server, no load"
    )
    ap.add_argument("--no-read-path", action="store_true", help="skip the read-path comparison")
    args = ap.parse_args()

    from dq.io.database import DatabaseLayout, discover_database_units
    from dq.synth.database import load_batch
    from tests import pgserver

    data = HERE / "data" / f"city-{args.scale}"
    batch = data / PERIOD
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PGPASSWORD": pgserver.PG_PASSWORD}
    if not (batch / "truth.json").exists():
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dq",
                "synth",
                "--out",
                str(data),
                "--period",
                PERIOD,
                "--scale",
                str(args.scale),
                "--no-progress",
            ],
            check=True,
            env=env,
            cwd=ROOT,
        )
        print(f"generated {batch} in {time.perf_counter() - t:.0f} s")
    server = None if args.url else pgserver.start_server()
    if server is not None:
        os.environ["PGPASSWORD"] = pgserver.PG_PASSWORD
    env["PGPASSWORD"] = os.environ.get("PGPASSWORD", "")
    try:
        if server is not None:
            url = server.url("dq")
            t = time.perf_counter()
            loaded = load_batch(batch, url)
            rows = sum(loaded.values())
            print(f"loaded {rows:,} rows into PostgreSQL in {time.perf_counter() - t:.1f} s")
        else:
            import json

            url = args.url
            truth = json.loads((batch / "truth.json").read_text(encoding="utf-8"))
            rows = sum(u["total_rows"] for u in truth["units"].values())
        print(f"load average before the rounds: {os.getloadavg()[0]:.1f}")
        threads = ["--threads", str(args.threads)] if args.threads else []
        best: dict[str, tuple[float, float, float]] = {}
        per_round: dict[str, list[float]] = {}
        tmp = Path(tempfile.mkdtemp(prefix="dq-bench-db-"))
        for r in range(args.rounds):
            declared = ["--db-expected", "declared"]
            sources = [("parquet", str(data), [], ROOT), ("postgresql", url, declared, ROOT)]
            if args.baseline:
                base = Path(args.baseline).resolve()
                sources.append(("postgresql (baseline)", url, declared, base))
            for name, src, extra, code in sources:
                store = tmp / f"{name}-{r}"
                cmd = [
                    sys.executable,
                    "-m",
                    "dq",
                    "score",
                    src,
                    "--period",
                    PERIOD,
                    "--store",
                    str(store),
                    "-q",
                    *threads,
                    *extra,
                ]
                got = measure(cmd, {**env, "PYTHONPATH": str(code)}, cwd=code)
                load = os.getloadavg()[0]
                print(
                    f"round {r + 1} {name:<22} {got[0]:6.1f} s wall {got[1]:6.1f} s CPU {got[2]:6.0f} MB"
                    f" (load {load:.1f})",
                    flush=True,
                )
                per_round.setdefault(name, []).append(got[0])
                if name not in best or got[0] < best[name][0]:
                    best[name] = got
        shutil.rmtree(tmp, ignore_errors=True)
        print()
        print(f"dq score, scale {args.scale}, {rows:,} rows, best of {args.rounds}:")
        print("| source | wall s | CPU s | peak RSS MB | rows/s |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, (wall, cpu, rss) in best.items():
            print(f"| {name} | {wall:.1f} | {cpu:.1f} | {rss:.0f} | {rows / wall:,.0f} |")
        ratio = best["postgresql"][0] / best["parquet"][0]
        print(f"PostgreSQL / Parquet wall time: {ratio:.2f}× (target ≤ 2×)")
        for name, walls in per_round.items():
            if name != "parquet":
                each = ", ".join(f"{w / p:.2f}×" for w, p in zip(walls, per_round["parquet"], strict=True))
                print(f"{name} / Parquet, round by round: {each}")
        if args.no_read_path:
            return 0

        from dq.io.catalogue import load_catalogue

        tables = load_catalogue().tables_of("hospital")
        units = discover_database_units(url, PERIOD, DatabaseLayout(expected_units="declared"))
        print()
        print("read path (every row of the hospital tables):")
        print("| reader | rows | s | rows/s |")
        print("| --- | ---: | ---: | ---: |")
        from urllib.parse import urlsplit

        where = urlsplit(url)
        dsn = f"host={where.hostname} port={where.port} dbname={where.path[1:]} user={where.username}"
        for name, (n, s) in read_paths(url, dsn, tables, units).items():
            print(f"| {name} | {n:,} | {s:.2f} | {n / s:,.0f} |")
    finally:
        if server is not None:
            pgserver.remove(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
