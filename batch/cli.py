"""`photo-organizer`: the seed-compatible command line over the organizer engine.

Parsing, signal handling, progress display and exit codes live here; the pass itself is
organizer.pipeline.run_pass, the same function the service runs.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

from organizer.candidates.hashing import default_processes
from organizer.local.output import OutputError, check_output
from organizer.local.run import run_local_pass
from organizer.local.sources import LocalSource, SourceError
from organizer.pipeline import PassSettings
from organizer.progress import PassInterrupted, StopToken, TqdmProgress
from organizer.report.pictures import ThumbnailSpool, local_fetch, picture_path_for, write_picture_report
from organizer.settings import ImmichSettings, SettingsError, describe_settings, load_env_file, parse_taken
from organizer.store.atomic import write_json_atomic

from .common import (  # noqa: F401 - EXIT_* and the helpers are also this module's public names
    EXIT_ERROR,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    _flags,
    _print_summary,
    _resume_command,
    _setup_logging,
    _Signals,
    settings_from_args,
)
from .settings_flags import add_setting_flags, names

log = logging.getLogger("photo_organizer")

STATE_FILE_NAME = ".photo_organizer_state.pkl"
SUBCOMMANDS = ("undo", "redo", "install-webhook")


def _checked(parse):  # type: ignore[no-untyped-def]
    """An argparse type from a settings parser: the same checks for a flag and for its variable."""
    def convert(text: str):  # type: ignore[no-untyped-def]
        try:
            return parse(text)
        except SettingsError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="photo-organizer",
        description="Find bursts and near-duplicate photos, pick the best shot of each group, and organize "
                    "them (copy to a folder, or tag/album/stack/favourite/archive on Immich). Never deletes "
                    "a photo. Other commands: 'photo-organizer undo', 'photo-organizer redo', 'photo-organizer install-webhook', 'photo-organizer taste'.")
    src = p.add_argument_group("source")
    src.add_argument("-s", "--source", type=Path, help="folder of photos to organize (local mode)")
    src.add_argument("--source-type", choices=("local", "immich"), default="local",
                     help="where the photos are (default: local)")
    out = p.add_argument_group("output")
    out.add_argument("-o", "--output", type=Path,
                     help="folder to copy groups into (local mode), or to download groups into (Immich)")
    out.add_argument("--report", type=Path, help="JSON report path (default: OUTPUT/reports/latest.json)")
    # Setting flags come from organizer/settings_table.py (checks, defaults and help included).
    grp = p.add_argument_group("grouping (a flag wins over " + ", ".join(f"${n}" for n in names("grouping"))
                               + " and .env)")
    add_setting_flags(grp, "grouping")
    grp.add_argument("--limit", type=_positive_int, help="only look at the first N photos (try-outs)")
    grp.add_argument("--taken-after", type=_checked(parse_taken), metavar="DATE",
                     help="only photos taken at or after this ISO date or date-time (no offset = UTC)")
    grp.add_argument("--taken-before", type=_checked(parse_taken), metavar="DATE",
                     help="only photos taken before this ISO date or date-time (no offset = UTC)")
    run = p.add_argument_group("run")
    run.add_argument("--dry-run", action="store_true", help="write the report only; change nothing else")
    run.add_argument("--threads", type=_positive_int, default=default_processes(),
                     help="worker processes for hashing, verification and scoring (default: all cores)")
    run.add_argument("--resume", action="store_true", help="continue an interrupted run from its state file")
    run.add_argument("--force-fresh", action="store_true", help="ignore and replace any saved state")
    run.add_argument("--state-file", type=Path, help=f"state file (default: OUTPUT/{STATE_FILE_NAME})")
    add_setting_flags(run, "run")  # --state-dir, --review
    run.add_argument("--show-settings", action="store_true",
                     help="print the settings this command would use and where each comes from "
                          "(flag, environment, .env, default), then exit")
    run.add_argument("--verbose", "-v", action="store_true", help="log every decision")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    imm = p.add_argument_group("Immich (with --source-type immich; an action flag such as --stack replaces the "
                               "ACTION_* set of .env for the run, and keeps ALBUM_PREFIX and TAG_PARENT)")
    imm.add_argument("--immich-album", help="only this album (name or id); default: the whole library")
    add_setting_flags(imm, "immich")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    load_env_file()
    if argv and argv[0] == "taste":  # what it learned from your choices (issue 22)
        from batch import taste_cli

        return taste_cli.main(argv[1:])
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
    try:
        settings = settings_from_args(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.show_settings:
        flags = _flags(args)
        given = {k for k, v in flags.items() if v is not None}
        if given & {"tag", "albums", "favorite_best", "archive_non_best", "stack"}:
            given.add("actions")
        for name, value, origin in describe_settings(settings, given):
            print(f"{name}={value}\t({origin})")
        return 0
    if args.source_type == "immich":
        from batch import immich_cli

        return immich_cli.run(args, argv, settings)
    return run_local(args, argv, settings)


def run_local(args: argparse.Namespace, argv: list[str], resolved: ImmichSettings | None = None) -> int:
    resolved = resolved or settings_from_args(args)
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
    settings = PassSettings(threshold=resolved.threshold, time_window=resolved.time_window,
                            min_group_size=resolved.min_group_size, pair_cover=resolved.pair_cover,
                            burst_cover=resolved.burst_cover, limit=args.limit, dry_run=args.dry_run,
                            processes=args.threads, resume=args.resume, force_fresh=args.force_fresh,
                            taken_after=_timestamp(args.taken_after), taken_before=_timestamp(args.taken_before))
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
            result = run_local_pass(source, output, settings, state_file, progress, stop)
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


def _timestamp(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def check_output_inside(output: Path, source: Path) -> None:
    if output == source or source in output.parents:
        raise OutputError(f"output folder {output} is inside the source folder {source}; "
                          "choose an output outside the photos being organized")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
