"""`photo-organizer`: the seed-compatible command line over the organizer engine.

Parsing, signal handling, progress display and exit codes live here; the pass itself is
organizer.pipeline.run_pass, the same function the service runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from organizer.atomic import write_json_atomic
from organizer.hashing import default_processes
from organizer.local_output import LocalOutput, OutputError, check_output
from organizer.picture_report import ThumbnailSpool, local_fetch, picture_path_for, write_picture_report
from organizer.pipeline import DEFAULT_THRESHOLD, DEFAULT_TIME_WINDOW, PassSettings, run_pass
from organizer.progress import PassInterrupted, StopToken, TqdmProgress
from organizer.sources import LocalSource, SourceError

log = logging.getLogger("photo_organizer")

STATE_FILE_NAME = ".photo_organizer_state.pkl"
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
SUBCOMMANDS = ("undo", "install-webhook")


def _threshold(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError("threshold is a Hamming distance between 0 and 64")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="photo-organizer",
        description="Find bursts and near-duplicate photos, pick the best shot of each group, and organize "
                    "them (copy to a folder, or tag/album/stack/favourite/archive on Immich). Never deletes "
                    "a photo. Other commands: 'photo-organizer undo', 'photo-organizer install-webhook'.")
    src = p.add_argument_group("source")
    src.add_argument("-s", "--source", type=Path, help="folder of photos to organize (local mode)")
    src.add_argument("--source-type", choices=("local", "immich"), default="local",
                     help="where the photos are (default: local)")
    out = p.add_argument_group("output")
    out.add_argument("-o", "--output", type=Path,
                     help="folder to copy groups into (local mode), or to download groups into (Immich)")
    out.add_argument("--report", type=Path, help="JSON report path (default: OUTPUT/reports/latest.json)")
    grp = p.add_argument_group("grouping")
    grp.add_argument("-t", "--threshold", type=_threshold, default=DEFAULT_THRESHOLD,
                     help=f"max Hamming distance between 64-bit hashes, 0-64 (default {DEFAULT_THRESHOLD})")
    grp.add_argument("--time-window", type=_non_negative, default=DEFAULT_TIME_WINDOW, metavar="SECONDS",
                     help="only group photos taken this close together; 0 = visual similarity only (default 300)")
    grp.add_argument("--min-group-size", type=_positive_int, default=2, help="smallest group to act on (default 2)")
    grp.add_argument("--limit", type=_positive_int, help="only look at the first N photos (try-outs)")
    run = p.add_argument_group("run")
    run.add_argument("--dry-run", action="store_true", help="write the report only; change nothing else")
    run.add_argument("--threads", type=_positive_int, default=default_processes(),
                     help="worker processes for hashing (default: all cores)")
    run.add_argument("--resume", action="store_true", help="continue an interrupted run from its state file")
    run.add_argument("--force-fresh", action="store_true", help="ignore and replace any saved state")
    run.add_argument("--state-file", type=Path, help=f"state file (default: OUTPUT/{STATE_FILE_NAME})")
    run.add_argument("--state-dir", type=Path, default=None,
                     help="folder for per-album Immich state files (default: $STATE_DIR or ./state)")
    run.add_argument("--verbose", "-v", action="store_true", help="log every decision")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    imm = p.add_argument_group("Immich (with --source-type immich)")
    imm.add_argument("--immich-url", default=os.environ.get("IMMICH_URL"), help="server URL ($IMMICH_URL)")
    imm.add_argument("--immich-api-key", default=None, help="API key (prefer $IMMICH_API_KEY)")
    imm.add_argument("--immich-album", help="only this album (name or id); default: the whole library")
    imm.add_argument("--tag-only", action="store_true", help="tag groups, best and non-best shots")
    imm.add_argument("--create-albums", action="store_true", help="one album per group")
    imm.add_argument("--album-prefix", default="Burst", help="name prefix of created albums (default 'Burst')")
    imm.add_argument("--mark-best-favorite", action="store_true", help="favourite each group's best shot")
    imm.add_argument("--archive-non-best", action="store_true", help="archive the other shots of each group")
    imm.add_argument("--stack", action="store_true", help="stack each group with the best shot on top")
    imm.add_argument("--tag-parent", default="photo-organizer", help="parent tag (default 'photo-organizer')")
    return p


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
    print(f"Photos skipped:     {s['skipped']} (unreadable; reasons in the report)")
    other = s.get("other_files_skipped") or {}
    if other:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(other.items()))
        print(f"Other files skipped: {sum(other.values())} ({kinds})")
    if report_path:
        print(f"Report:             {report_path}")
    if picture_path:
        print(f"Picture report:     {picture_path}")
    print(f"Time:               {elapsed:.1f} s")
    print("=" * 60)


def _load_env_file() -> None:
    """Settings from `.env` (as `make` and the service read them); real environment variables win."""
    from dotenv import load_dotenv

    load_dotenv(os.environ.get("PHOTO_ORGANIZER_ENV_FILE", ".env"), override=False)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _load_env_file()
    if argv and argv[0] in SUBCOMMANDS:
        from batch import commands

        return commands.run_subcommand(argv[0], argv[1:])
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # progress lines reach logs and pipes promptly
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if args.resume and args.force_fresh:
        parser.error("--resume and --force-fresh contradict each other")
    if args.source_type == "immich":
        from batch import immich_cli

        return immich_cli.run(args, argv)
    return run_local(args, argv)


def run_local(args: argparse.Namespace, argv: list[str]) -> int:
    if args.source is None or args.output is None:
        print("error: local mode needs --source and --output (or use --source-type immich)", file=sys.stderr)
        return EXIT_USAGE
    try:
        source = LocalSource(args.source)
        output = args.output.expanduser().resolve() if args.dry_run else check_output(args.output, source.root)
        if args.dry_run:
            check_output_inside(output, source.root)
    except (SourceError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    source.exclude = {output}
    state_file = (args.state_file or output / STATE_FILE_NAME).expanduser()
    report_path = (args.report or output / "reports" / "latest.json").expanduser()
    settings = PassSettings(threshold=args.threshold, time_window=args.time_window,
                            min_group_size=args.min_group_size, limit=args.limit, dry_run=args.dry_run,
                            processes=args.threads, resume=args.resume, force_fresh=args.force_fresh)
    stop = StopToken()
    signals = _Signals(stop)
    signals.install()
    progress = TqdmProgress(enabled=False if args.no_progress else None)
    started = time.time()
    if args.dry_run:
        progress.message("Dry run: only the report is written; no folder or state file is changed.")
    spool = ThumbnailSpool()  # picture-report thumbnails of grouped photos, from the scoring decode
    try:
        with spool.collecting():
            result = run_pass(source, LocalOutput(output, dry_run=args.dry_run), settings, state_file, progress,
                              stop)
    except (PassInterrupted, KeyboardInterrupt):
        print(f"\nInterrupted. State saved to: {state_file}", file=sys.stderr)
        if not args.dry_run:
            print(f"Resume with: {_resume_command(argv, state_file)}", file=sys.stderr)
        return signals.exit_code()
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "), file=sys.stderr)
        if not args.dry_run:
            print(f"State saved to: {state_file}\nResume with: {_resume_command(argv, state_file)}",
                  file=sys.stderr)
        return EXIT_ERROR
    report = result.report
    picture_path = picture_path_for(report_path)
    try:
        write_json_atomic(report_path, report)
        write_picture_report(picture_path, report, spool, fetch=local_fetch, concurrency=args.threads)
        if not args.dry_run:
            dated = report_path.parent / f"run-{time.strftime('%Y%m%d-%H%M%S')}.json"
            write_json_atomic(dated, report)
            shutil.copyfile(picture_path, picture_path_for(dated))
    except OSError as exc:
        print(f"error: cannot write the report {report_path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        spool.close()
    _print_summary(report, report_path, time.time() - started, picture_path)
    return 0


def check_output_inside(output: Path, source: Path) -> None:
    if output == source or source in output.parents:
        raise OutputError(f"output folder {output} is inside the source folder {source}; "
                          "choose an output outside the photos being organized")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
