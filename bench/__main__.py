"""Run every benchmark section that applies and print one table per section."""

from __future__ import annotations

import argparse
import importlib
import sys

SECTIONS = ["bench.hashing", "bench.grouping", "bench.quality", "bench.stages", "bench.scaling", "bench.rerun", "bench.immich", "bench.overlap", "bench.burst_ids",
            "bench.webhook", "bench.scale_state", "bench.scale", "bench.scale_immich", "bench.review_page",
            "bench.picture_report", "bench.taste"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", choices=[s.split(".")[1] for s in SECTIONS], action="append")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = parser.parse_args()
    for name in SECTIONS:
        if args.only and name.split(".")[1] not in args.only:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"[{name}] not available: {exc}")
            continue
        module.run(quick=args.quick)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
