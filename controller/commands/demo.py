"""``freightyard demo``: run the hotfix-lane pipeline end to end, locally, in a few seconds."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("demo", help="run a complete local pipeline (no cluster needed)")
    parser.add_argument("--dir", default=None, help="work in this (new or empty) directory and keep it")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from freightyard.controller.cli import main
    from freightyard.controller.demo.scenario import run_demo

    run_demo(args.dir, main, lambda line: print(line, flush=True))
    return 0
