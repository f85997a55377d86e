"""Benchmark: a synthetic city-month audited and scored by `dq score`, against its read floor.

Default mode generates the batch with `dq synth` at each scale, then scores it with `dq score`
(38 units: every table audited with all record-level suites, summaries, submission suite, scores,
history), each step in its own process, and prints rows, times, rows per second and peak RSS,
then projects scale 1.0 by a straight line through the first and last scale:

    .venv/bin/python benchmarks/bench_score.py --scales 0.1 0.3 [--streaming] [--keep]

``--floor`` compares, in ONE run on the SAME batch, the read floor -- every table of every unit
read and materialised by dq's own readers (:func:`dq.io.sources.open_extract`, typed columns parsed),
no rule at all -- with `dq score` of that batch, and prints both and their ratio. The two run in
alternate child processes, ``--rounds`` times each, and the best of each is kept (the machine may
be shared: the ratio of one run is the figure to read, not the absolute seconds):

    .venv/bin/python benchmarks/bench_score.py --floor --scales 0.1 [--rounds 2] [--workers N | --threads N]

``--isolation`` adds, in the same rounds, `dq score --no-isolation` (every unit read in the scoring
process, as before dq.io.isolation), and prints the cost of reading in worker processes. CPU is
counted for the whole process tree: this process reaps the forkserver and workers dq leaves
behind (Linux, PR_SET_CHILD_SUBREAPER), which a plain wait4 of `dq score` would miss.

`dq score` audits several units at once in threads by default; the floor is also measured with the
units read that many at a time in threads, and the score's ratio to it printed, like for like.

A batch already generated under benchmarks/data/city-<scale>/ is reused (delete it to regenerate);
``--data 0.1=DIR`` uses a batch generated elsewhere (``dq synth --scale 0.1 --out DIR``).
Not a test: CI does not run it. Data go to benchmarks/data/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PERIOD = "2020-09"

# The read floor: what dq's readers cost with no rule at all. Every table file of every unit is
# opened as dq opens it (manifest, encoding detection, CSV transcoding, typed columns parsed with
# the raw text kept) and materialised in memory, one table at a time, with the Polars engine
# dq score's audit uses for it (in-memory up to dq.engine.evaluate.IN_MEMORY_ROWS rows, streaming
# above; Polars' default engine would cost ~12 % more at scale 0.1 and flatter the ratio).
# With a second argument N > 1 the units are read N at a time in threads, as `dq score` audits
# them by default: the like-for-like floor of a threaded score.
FLOOR = """
import sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import polars as pl
from dq.io.catalogue import load_catalogue
from dq.engine.evaluate import IN_MEMORY_ROWS, _rows_hint
from dq.io.sources import open_extract
cat = load_catalogue()
base = Path(sys.argv[1])
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1

def engine(src):  # the engine dq score's audit uses for this table
    return "streaming" if _rows_hint(src) > IN_MEMORY_ROWS else "in-memory"

def read(d):
    ext = open_extract(d, catalogue=cat)
    return sum(src.frame.collect(engine=engine(src)).height for src in ext.tables.values())

t = time.perf_counter()
units = sorted(p for p in base.iterdir() if p.is_dir())
with ThreadPoolExecutor(threads) as pool:
    rows = sum(pool.map(read, units))
print(rows, time.perf_counter() - t)
"""


CPU: dict[str, float] = {}  # CPU seconds (user + system) of the last command run by measure()


def _become_subreaper() -> bool:
    """Make this process the reaper of its descendants (Linux), so that the CPU of processes a
    child leaves behind (dq's forkserver and the workers it forked, which its own wait4 does not
    count) is counted too: see :func:`_reap_orphans`."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


SUBREAPER = _become_subreaper()


def _reap_orphans() -> float:
    """CPU seconds of descendants re-parented to this process once their parent exited."""
    total = 0.0
    while SUBREAPER:
        try:
            _, _, usage = os.wait4(-1, 0)
        except ChildProcessError:
            break
        total += usage.ru_utime + usage.ru_stime
    return total


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command in a child process; return (seconds, the child's peak RSS in MB, stdout).

    The child's CPU seconds (all its threads) are left in ``CPU["last"]``: on a shared machine
    they vary much less than wall-clock seconds."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        # Run outside any checkout: `python -m dq` and `-c` put the working folder first on
        # sys.path, which would shadow the dq named by PYTHONPATH (e.g. --baseline).
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env, cwd=tempfile.gettempdir())
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        CPU["last"] = usage.ru_utime + usage.ru_stime + _reap_orphans()
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code not in (0, 1):  # dq score exits 1 when a unit errored; that is reported below
            sys.exit(f"failed ({code}): {' '.join(cmd)}\n{err.read()[-2000:]}")
        return seconds, usage.ru_maxrss / 1024, out.read()


DATA: dict[float, Path] = {}  # batches given with --data, by scale


def generate(py: str, scale: float, keep_existing: bool) -> tuple[Path, float, float]:
    """The batch at ``scale`` (reused if present and ``keep_existing``); (root, seconds, MB)."""
    if scale in DATA:
        return DATA[scale], float("nan"), float("nan")
    root = HERE / "data" / f"city-{scale:g}"
    if keep_existing and (root / PERIOD / "truth.json").exists():
        return root, float("nan"), float("nan")
    shutil.rmtree(root, ignore_errors=True)
    cmd = [py, "-m", "dq.synth", "--out", str(root), "--period", PERIOD, "--scale", str(scale)]
    gen_s, gen_mb, _ = measure([*cmd, "--no-progress"])
    return root, gen_s, gen_mb


def score_cmd(py: str, root: Path, store: Path, args: argparse.Namespace) -> list[str]:
    cmd = [py, "-m", "dq", "score", str(root), "--period", PERIOD, "--store", str(store), "--format", "json"]
    cmd += ["--samples", str(args.samples)] + (["--streaming"] if args.streaming else [])
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    elif args.threads:
        cmd += ["--threads", str(args.threads)]
    return cmd


def score_threads(args: argparse.Namespace) -> int:
    """The units `dq score` audits at once here: --threads, else dq's default."""
    from dq.batch.local import DEFAULT_THREADS

    return args.threads or DEFAULT_THREADS


def batch_rows(root: Path) -> tuple[int, int, float]:
    truth = json.loads((root / PERIOD / "truth.json").read_text())
    rows = sum(u["total_rows"] for u in truth["units"].values())
    size_mb = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20
    return len(truth["units"]), rows, size_mb


def floor_mode(args: argparse.Namespace, py: str) -> None:
    table = []
    parallel: dict[float, float] = {}  # the floor read with the score's threads, by scale
    baselines: dict[float, list[tuple[float, float, float]]] = {}
    unprotected: dict[float, list[tuple[float, float, float]]] = {}  # --no-isolation, by scale
    for scale in args.scales:
        root, _, _ = generate(py, scale, keep_existing=True)
        units, rows, size_mb = batch_rows(root)
        store = HERE / "data" / f"history-{scale:g}"
        floors, scores, threaded = [], [], []
        for _ in range(args.rounds):
            f_s, f_mb, out = measure([py, "-c", FLOOR, str(root / PERIOD)])
            f_cpu = CPU["last"]
            read_rows = int(out.split()[0])
            floors.append((f_s, f_mb, f_cpu))
            if not args.workers and score_threads(args) > 1:
                t_s, _, _ = measure([py, "-c", FLOOR, str(root / PERIOD), str(score_threads(args))])
                threaded.append(t_s)
            shutil.rmtree(store, ignore_errors=True)
            s_s, s_mb, out = measure(score_cmd(py, root, store, args))
            s_cpu = CPU["last"]
            errors = len(json.loads(out)["errors"])
            scores.append((s_s, s_mb, s_cpu))
            if args.isolation:
                shutil.rmtree(store, ignore_errors=True)
                n_s, n_mb, _ = measure([*score_cmd(py, root, store, args), "--no-isolation"])
                unprotected.setdefault(scale, []).append((n_s, n_mb, CPU["last"]))
                print(f"  scale {scale:g}: score --no-isolation {n_s:.1f} s ({CPU['last']:.1f} CPU-s), "
                      f"isolated {s_s:.1f} s ({s_cpu:.1f} CPU-s)", flush=True)  # fmt: skip
            if args.baseline:
                env = {**os.environ, "PYTHONPATH": str(Path(args.baseline).resolve())}
                shutil.rmtree(store, ignore_errors=True)
                b_s, b_mb, _ = measure(score_cmd(py, root, store, args), env=env)
                baselines.setdefault(scale, []).append((b_s, b_mb, CPU["last"]))
                print(f"  scale {scale:g}: baseline score {b_s:.1f} s ({CPU['last']:.1f} CPU-s)", flush=True)
            print(
                f"  scale {scale:g}: floor {f_s:.1f} s ({f_cpu:.1f} CPU-s), score {s_s:.1f} s "
                f"({s_cpu:.1f} CPU-s): {s_s / f_s:.2f}x wall, {s_cpu / f_cpu:.2f}x CPU",
                flush=True,
            )
        f_s, f_mb, f_cpu = min(floors)
        s_s, s_mb, s_cpu = min(scores)
        f_cpu, s_cpu = min(f[2] for f in floors), min(s[2] for s in scores)
        table.append((scale, units, rows, read_rows, size_mb, f_s, f_mb, f_cpu, s_s, s_mb, s_cpu, errors))
        if threaded:
            parallel[scale] = min(threaded)
        if not args.keep:
            shutil.rmtree(store, ignore_errors=True)
    print()
    print(
        f"{'scale':>6} {'units':>5} {'rows':>12} {'MB':>6} {'floor s':>8} {'CPU-s':>7} {'MB':>6} "
        f"{'score s':>8} {'CPU-s':>7} {'MB':>6} {'ratio':>7} {'CPU ratio':>9} {'rows/s':>10} {'errors':>6}"
    )
    for scale, units, rows, read_rows, size, f_s, f_mb, f_cpu, s_s, s_mb, s_cpu, errors in table:
        print(
            f"{scale:>6g} {units:>5} {rows:>12,} {size:>6.0f} {f_s:>8.1f} {f_cpu:>7.1f} {f_mb:>6.0f} "
            f"{s_s:>8.1f} {s_cpu:>7.1f} {s_mb:>6.0f} {s_s / f_s:>6.2f}x {s_cpu / f_cpu:>8.2f}x "
            f"{rows / s_s:>10,.0f} {errors:>6}"
        )
        if read_rows != rows:
            print(f"       (the floor read {read_rows:,} rows; the truth file lists {rows:,})")
    for scale, *_, s_s, _s_mb, _s_cpu, _errors in table:
        if scale in parallel:
            p_s = parallel[scale]
            print(
                f"{scale:>6g} floor with units read {score_threads(args)} at a time in threads, as dq score "
                f"audits them: {p_s:.1f} s; score / that floor: {s_s / p_s:.2f}x"
            )
    for scale, *_, f_s, _f_mb, f_cpu, s_s, _s_mb, s_cpu, _errors in table:
        if scale in baselines:
            b = baselines[scale]
            b_s, b_cpu, b_mb = min(x[0] for x in b), min(x[2] for x in b), min(x[1] for x in b)
            print(
                f"{scale:>6g} baseline {args.baseline}: score {b_s:.1f} s, {b_cpu:.1f} CPU-s, {b_mb:.0f} MB: "
                f"{b_s / f_s:.2f}x the floor ({b_cpu / f_cpu:.2f}x CPU); this dq is {b_s / s_s:.2f}x faster "
                f"({b_cpu / s_cpu:.2f}x CPU)"
            )
    for scale, *_, s_s, s_mb, s_cpu, _errors in table:
        if scale in unprotected:
            u = unprotected[scale]
            n_s, n_mb, n_cpu = min(x[0] for x in u), min(x[1] for x in u), min(x[2] for x in u)
            print(
                f"{scale:>6g} isolation: score {s_s:.1f} s, {s_cpu:.1f} CPU-s, {s_mb:.0f} MB (parent) vs "
                f"--no-isolation {n_s:.1f} s, {n_cpu:.1f} CPU-s, {n_mb:.0f} MB: "
                f"{s_cpu / n_cpu - 1:+.1%} CPU, {s_s / n_s - 1:+.1%} wall"
            )
    print(
        f"\nbest of {args.rounds} alternate rounds each (wall and CPU separately); MB: on disk, then peak "
        f"RSS; ratio: score / floor; workers: {args.workers or 'none (one process)'}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=float, nargs="+", default=[0.1, 0.3])
    ap.add_argument("--floor", action="store_true", help="read floor vs dq score, and their ratio")
    ap.add_argument("--rounds", type=int, default=1, help="--floor: alternate rounds, best kept")
    ap.add_argument("--workers", type=int, default=0, help="score on a local Dask cluster of N workers")
    ap.add_argument("--threads", type=int, default=0, help="dq score --threads N (default: dq's default)")
    ap.add_argument(
        "--baseline",
        metavar="DIR",
        help="--floor: also time `dq score` of another checkout of dq (e.g. a git worktree of an "
        "earlier commit) in the same rounds",
    )
    ap.add_argument(
        "--data",
        nargs="+",
        default=[],
        metavar="SCALE=DIR",
        help="--floor: use a batch already generated with `dq synth --scale SCALE --out DIR` "
        "(read only; the store goes to benchmarks/data/) instead of benchmarks/data/city-SCALE",
    )
    ap.add_argument(
        "--isolation",
        action="store_true",
        help="--floor: also time `dq score --no-isolation` (units read in the scoring process) in the same "
        "rounds, and print the isolation's cost in CPU and wall time",
    )
    ap.add_argument("--streaming", action="store_true", help="score with Polars' streaming engine")
    ap.add_argument("--keep", action="store_true", help="keep generated data")
    ap.add_argument("--samples", type=int, default=5)
    args = ap.parse_args()
    for item in args.data:
        scale, _, folder = item.partition("=")
        if not folder or not (Path(folder) / PERIOD / "truth.json").exists():
            ap.error(f"--data {item}: expected SCALE=DIR, DIR a batch of {PERIOD} with truth.json")
        DATA[float(scale)] = Path(folder).resolve()
    py = sys.executable
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    if args.floor:
        floor_mode(args, py)
        return
    rows_out = []
    for scale in args.scales:
        root, gen_s, gen_mb = generate(py, scale, keep_existing=False)
        store = HERE / "data" / f"history-{scale:g}"
        shutil.rmtree(store, ignore_errors=True)
        score_s, score_mb, out = measure(score_cmd(py, root, store, args))
        payload = json.loads(out)
        _, rows, size_mb = batch_rows(root)
        rows_out.append((scale, rows, size_mb, gen_s, gen_mb, score_s, score_mb, len(payload["errors"])))
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(
        f"{'scale':>6} {'rows':>12} {'MB on disk':>10} {'synth s':>8} {'synth MB':>9} {'score s':>8} "
        f"{'rows/s':>10} {'score MB':>9} {'errors':>6}"
    )
    for scale, rows, size, gs, gm, ss, sm, errs in rows_out:
        rate = rows / ss
        print(f"{scale:>6g} {rows:>12,} {size:>10.0f} {gs:>8.1f} {gm:>9.0f}", end=" ")
        print(f"{ss:>8.1f} {rate:>10,.0f} {sm:>9.0f} {errs:>6}")
    if len(rows_out) >= 2:
        (s1, _, _, _, _, t1, m1, _), (s2, _, _, _, _, t2, m2, _) = rows_out[0], rows_out[-1]
        slope = (t2 - t1) / (s2 - s1)
        fixed = t1 - slope * s1
        mem_slope = (m2 - m1) / (s2 - s1)
        print(
            f"\nprojected at scale 1.0: {fixed + slope:.0f} s to audit and score "
            f"(target <= 90 s), peak RSS ~{m1 + mem_slope * (1 - s1):.0f} MB (target <= 2048 MB), "
            "by a straight line through the first and last scale"
        )


if __name__ == "__main__":
    main()
