"""`dq demo`: the main job end to end on the bundled data (see :func:`dq.demo.run_demo`)."""

from __future__ import annotations

import argparse
import sys
import time

from dq.cli._common import add_format, count, print_json
from dq.cli._synth import scale_arg
from dq.demo import run_demo

__all__ = ["configure_parser", "run"]


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo", help="output folder (default: demo)")
    p.add_argument("--scale", type=scale_arg, default=0.001, help="synthetic volume scale (default 0.001)")
    p.add_argument("--seed", type=count, default=7, help="random seed (default 7)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--fresh", action="store_true", help="delete OUT first")
    add_format(p)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if not getattr(args, "quiet", False):
            print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr)

    paths = run_demo(
        args.out, scale=args.scale, seed=args.seed, lang=args.lang, fresh=args.fresh, say=say,
        progress=sys.stderr.isatty() and not getattr(args, "quiet", False),
    )  # fmt: skip
    if args.format == "json":
        print_json({k: str(v) for k, v in paths.items()})
        return 0
    h = paths["history"]
    print(f"published summaries: {paths['published_index']}")
    print(f"published campaign:  {paths['published_campaign']}")
    print(f"synthetic month:     {paths['synthetic_index']}")
    print(f"synthetic campaign:  {paths['synthetic_campaign']}")
    print(f"history:             {h} (dq history --store {h})")
    print(f"e-mails (dry run):   {paths['outbox']}")
    for line in paths.get("growth", []):
        print(line)
    return 0
