"""What the three command modules share: exit codes, signals, logging, the summary, the settings order.

``cli`` (the parser and local passes), ``immich_cli`` (Immich passes) and ``commands`` (undo, redo,
install-webhook) all import from here and never from each other at import time, so batch/ has no
import circle: cli dispatches to the other two, which need only this module.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import shutil
import signal
import sys
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from organizer.progress import StopToken
from organizer.settings import ImmichSettings, resolve_settings

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class _Signals:
    """First SIGINT/SIGTERM asks the pass to stop and save; a second one forces an exit."""

    def __init__(self, stop: StopToken) -> None:
        self.stop = stop
        self.signum: int | None = None

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        self.stop.stop("interrupted by " + signal.Signals(signum).name)

    def exit_code(self) -> int:
        return EXIT_SIGTERM if self.signum == signal.SIGTERM else EXIT_SIGINT


def _resume_command(argv: list[str], state_file: Path) -> str:
    args = [a for a in argv if a != "--force-fresh"]
    if "--resume" not in args:
        args.append("--resume")
    if "--state-file" not in args and not any(a.startswith("--state-file=") for a in args):
        args += ["--state-file", str(state_file)]
    return shlex.join(["photo-organizer", *args])


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not verbose:
        logging.getLogger("PIL").setLevel(logging.WARNING)


def _print_summary(report: dict[str, Any], report_path: Path | None, elapsed: float,
                   picture_path: Path | None = None) -> None:
    s = report["summary"]
    print("=" * 60)
    print(f"Photos found:       {s['photos']}")
    print(f"Photos hashed:      {s['hashed']}")
    print(f"Groups found:       {s['groups']} ({s['photos_in_groups']} photos)")
    not_ready = s.get("not_ready", 0)
    print(f"Photos skipped:     {s.get('unreadable', s['skipped'] - not_ready)} (unreadable; reasons in the report)")
    if not_ready:
        print(f"Not ready yet:      {not_ready} (thumbnail not made or not downloadable yet; not a failure, "
              "the next pass retries them)")
    if s.get("outside_date_range"):
        print(f"Outside the dates:  {s['outside_date_range']} (not taken in the --taken-after/--taken-before range)")
    other = s.get("other_files_skipped") or {}
    if other:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(other.items()))
        print(f"Other files skipped: {sum(other.values())} ({kinds})")
    taste = report.get("taste") or {}
    if taste.get("choices"):  # what was learned from the person's choices (organizer.judging.taste)
        picked = taste.get("picked_this_pass", 0)
        print(f"Your taste:         {taste['line']}"
              + (f" It picked {picked} keeper{'s' if picked != 1 else ''} this pass." if picked else ""))
    refused = taste.get("refused_this_pass", 0)
    for k, line in enumerate(taste.get("grouping_lines") or []):  # what "not a group" decisions taught verification
        print(("Your groupings:     " if k == 0 else " " * 20) + f"{line}.")
    if refused:
        print(f"Left apart:         {refused} group{'s' if refused != 1 else ''} this pass, by your 'not a group' "
              "decisions")
    if report_path:
        print(f"Report:             {report_path}")
    if picture_path:
        print(f"Picture report:     {picture_path}")
    print(f"Time:               {elapsed:.1f} s")
    print("=" * 60)


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "url": args.immich_url, "api_key": args.immich_api_key, "state_dir": args.state_dir,
        "threshold": args.threshold, "time_window": args.time_window, "min_group_size": args.min_group_size,
        "pair_cover": args.pair_cover, "burst_cover": args.burst_cover, "limit": args.limit, "taken_after": args.taken_after, "taken_before": args.taken_before,
        "tag": args.tag_only or None, "albums": args.create_albums or None,
        "favorite_best": args.mark_best_favorite or None, "archive_non_best": args.archive_non_best or None,
        "stack": args.stack or None, "album_prefix": args.album_prefix, "tag_parent": args.tag_parent,
        "review": getattr(args, "review", False) or None,
        "burst_id_reads": False if getattr(args, "no_burst_id_reads", False) else None,
        "write_overlap": getattr(args, "write_overlap", None),
    }


def settings_from_args(args: argparse.Namespace) -> ImmichSettings:
    """The one order of settings: defaults < .env < environment < the flags the user gave.

    Local mode uses the grouping part; Immich mode all of it. Argparse defaults are None, so a flag
    that was not given never hides a variable.
    """
    settings = resolve_settings(_flags(args))
    if args.source_type == "immich" and args.output is not None and not any(
            (args.tag_only, args.create_albums, args.mark_best_favorite, args.archive_non_best, args.stack)):
        settings.actions = replace(settings.actions, tag=False, albums=False, favorite_best=False,
                                   archive_non_best=False, stack=False)  # -o DIR alone: download only
    return settings




def program() -> str:
    """How to type photo-organizer in this shell, for the commands we print.

    Why: a printed hint must work as printed. Started as ``.venv/bin/photo-organizer`` (``make``
    does so) with no activated virtual environment, the bare name is not on PATH; the path it was
    started by is. Run as ``python -m batch`` or found on PATH, the bare name is right.
    """
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if started is None or started.name != "photo-organizer":
        return "photo-organizer"
    found = shutil.which("photo-organizer")
    try:
        if found and Path(found).resolve() == started.resolve():
            return "photo-organizer"
    except OSError:
        pass
    try:
        return str(started.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(started.resolve())
