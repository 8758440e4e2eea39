"""`photo-organizer --source-type immich …`: one pass over an Immich library or album."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from immich_client import ImmichError, ImmichUnavailable, ImmichUnreachable, check_server
from organizer.progress import PassInterrupted, StopToken, TqdmProgress
from organizer.report.pictures import ThumbnailSpool, immich_thumbnail_cache, write_immich_picture_report
from organizer.settings import ImmichSettings
from organizer.settings_table import read
from organizer.store.atomic import write_json_atomic
from organizer.store.locks import ScopeBusy

from .common import (
    EXIT_ERROR,
    EXIT_USAGE,
    _print_summary,
    _resume_command,
    _Signals,
    program,
    settings_from_args,
)


def run(args: argparse.Namespace, argv: list[str], settings: ImmichSettings | None = None) -> int:
    from organizer.immich.run import make_client, run_immich_pass, state_path_for

    settings = settings or settings_from_args(args)
    settings.processes = getattr(args, "threads", None) or settings.processes
    if not settings.url:
        print("error: set the Immich server with --immich-url or IMMICH_URL", file=sys.stderr)
        return EXIT_USAGE
    if not settings.api_key:
        print("error: set the API key with IMMICH_API_KEY (or --immich-api-key)", file=sys.stderr)
        return EXIT_USAGE
    try:  # one quick look first: a wrong IMMICH_URL is said in seconds, not after minutes of retries
        check_server(make_client(settings).http)
    except ImmichUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stop = StopToken()
    signals = _Signals(stop)
    signals.install()
    progress = TqdmProgress(enabled=False if args.no_progress else None)
    started = time.time()
    if args.dry_run:
        progress.message("Dry run: nothing is written to Immich; only the report is produced.")
    progress.message(f"Actions: {settings.actions.signature()}")
    state_file = args.state_file
    cache = immich_thumbnail_cache(Path(settings.state_dir), args.immich_album)
    # Picture-report thumbnails from the previews the pass downloads to score (kept in the cache as
    # they are made, so a resume finds them; a dry run keeps nothing).
    spool = ThumbnailSpool(cache=None if args.dry_run else cache)
    try:
        with spool.collecting():
            result = run_immich_pass(settings, args.immich_album, dry_run=args.dry_run, resume=args.resume,
                                     stop=stop, progress=progress, download_dir=args.output,
                                     state_file=state_file, force_fresh=args.force_fresh,
                                     full=getattr(args, "full", False))
    except (PassInterrupted, KeyboardInterrupt):
        where = state_file or state_path_for(settings, None).parent
        print(f"\nInterrupted. State saved in: {where}", file=sys.stderr)
        print(f"Resume with: {_resume_command(argv, Path(where)) if state_file else _resume_hint(argv)}",
              file=sys.stderr)
        return signals.exit_code()
    except ScopeBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ImmichUnavailable as exc:  # the server may come back: what is done is kept
        print(f"error: {exc}", file=sys.stderr)
        if any(Path(settings.state_dir).glob("*.pkl")):  # only when a pass got far enough to save
            print(f"Progress is saved; resume with: {_resume_hint(argv)}", file=sys.stderr)
        return EXIT_ERROR
    except ImmichError as exc:  # wrong key, missing permission, unknown album…: a resume would fail alike
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    report = result.report
    if args.report:
        report_path = args.report
    elif args.output:
        report_path = args.output / "reports" / "latest.json"
    else:
        report_path = Path(settings.state_dir) / "reports" / f"{report['scope']['key']}-latest.json"
    write_json_atomic(report_path, report)
    try:
        picture_path = write_immich_picture_report(report_path, report, spool, lambda: make_client(settings),
                                                   cache, settings.download_concurrency, keep=not args.dry_run)
    except OSError as exc:
        print(f"error: cannot write the picture report: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        spool.close()
    _print_summary(report, report_path, time.time() - started, picture_path)
    journal = report["scope"].get("journal")
    if journal and not args.dry_run:
        print(f"Undo these changes with: {undo_hint(report['scope'].get('album_name'))}   (journal {journal})")
    return 0


def undo_hint(album: str | None) -> str:
    """The undo command for the scope a pass ran on, as it works when typed (an album pass's runs are
    the album's scope: a bare ``undo --last`` looks in the library's and finds nothing)."""
    import shlex

    cmd = ["undo", "--last"] + (["--immich-album", album] if album else [])
    make = "make undo" + (f" ALBUM={shlex.quote(album)}" if album else "")
    return f"{program()} {shlex.join(cmd)}   (or: {make})"


def _resume_hint(argv: list[str]) -> str:
    args = [a for a in argv if a not in ("--force-fresh",)]
    if "--resume" not in args:
        args.append("--resume")
    import shlex

    return shlex.join(["photo-organizer", *args])


def default_state_dir() -> Path:
    return read("STATE_DIR")
