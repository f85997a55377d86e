"""What checking suite expressions by grammar costs (dq.engine.checks._grammar).

Times, side by side, per expression: sqlglot's tokenizer, tokenizer + parser, dq's whole check
(parse, walk the allow-list, render; once, as it caches by text), and Polars' own
``pl.sql_expr`` on the rendered text (what the engine did alone before); then loading and
validating every bundled suite (``load_suites``; none of its expressions timed before). CPU time of this
process, best of ``--repeat``.

    .venv/bin/python benchmarks/bench_expressions.py
    .venv/bin/python benchmarks/bench_expressions.py --n 5000 --repeat 5
"""

from __future__ import annotations

import argparse
import time

import polars as pl
import sqlglot

from dq.engine.checks import _grammar as grammar
from dq.engine.suite import load_suites


def cpu_per_call(fn, texts: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        for x in texts:
            fn(x)
        best = min(best, time.process_time() - t)
    return best / len(texts) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="distinct expressions timed")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    # Distinct texts, as the per-unit narrowing of a submission rule makes them (no cache hit).
    texts = [f"(kind = 'hospital' AND data_volume > 0) AND unit_id = 'H{i:05d}'" for i in range(args.n)]
    # rendered from other texts, so that each of ``texts`` is checked anew below (no cache hit)
    rendered = [grammar.checked_sql(x.replace("'H", "'R")) for x in texts]

    def parse(x: str) -> object:
        return sqlglot.parse(x, read="postgres")

    rows = [
        (
            "sqlglot tokenize",
            cpu_per_call(lambda x: sqlglot.tokenize(x, read="postgres"), texts, args.repeat),
        ),
        ("sqlglot tokenize + parse", cpu_per_call(parse, texts, args.repeat)),
        ("dq check (parse, allow-list, render)", cpu_per_call(grammar.checked_sql, texts, 1)),
        ("pl.sql_expr of the rendered text", cpu_per_call(pl.sql_expr, rendered, args.repeat)),
    ]
    print(f"{'per expression (CPU µs, best of runs)':<40} {'µs':>8}")
    for name, us in rows:
        print(f"{name:<40} {us:>8.0f}")
    t, w = time.process_time(), time.perf_counter()
    suites = load_suites()
    print(
        f"load_suites (every bundled suite, {sum(len(s.rules) for s in suites)} rules): "
        f"{time.process_time() - t:.2f} s CPU, {time.perf_counter() - w:.2f} s wall"
    )


if __name__ == "__main__":
    main()
