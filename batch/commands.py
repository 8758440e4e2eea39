"""Sub-commands of photo-organizer other than a pass: undo, install-webhook."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from organizer.settings_table import default, read

from .common import EXIT_ERROR, EXIT_USAGE, _setup_logging, program


def run_subcommand(name: str, argv: list[str]) -> int:
    if name == "undo":
        return undo(argv)
    if name == "redo":
        return redo(argv)
    if name == "install-webhook":
        return install_webhook(argv)
    return EXIT_USAGE


def _say(text: str) -> str:
    """A line with the commands in it as they can be typed here (see ``program``)."""
    name = program()
    return text if name == "photo-organizer" else text.replace("photo-organizer undo", f"{name} undo").replace(
        "photo-organizer redo", f"{name} redo")


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--immich-url", default=read("IMMICH_URL"), help="server URL (default: $IMMICH_URL)")
    p.add_argument("--immich-api-key", default=None, help="prefer $IMMICH_API_KEY")
    p.add_argument("--state-dir", type=Path, default=read("STATE_DIR"),
                   help=f"default: $STATE_DIR, else {default('STATE_DIR')}")
    p.add_argument("--verbose", "-v", action="store_true")


def _client(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from immich_client import ImmichClient

    key = args.immich_api_key or read("IMMICH_API_KEY")
    if not args.immich_url or not key:
        raise SystemExit("error: set IMMICH_URL and IMMICH_API_KEY (or --immich-url/--immich-api-key)")
    return ImmichClient(args.immich_url, key)


def undo(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="photo-organizer undo",
                                description="Revert exactly the Immich changes one run made (default: the latest "
                                            "run of the library scope, or of --immich-album).")
    p.add_argument("run", nargs="?", help="run id (see: photo-organizer undo --list)")
    p.add_argument("--last", action="store_true", help="the latest run not undone yet of the scope (default)")
    p.add_argument("--immich-album", default=None, help="the scope: this album's runs (default: the library's)")
    p.add_argument("--any-scope", action="store_true", help="with --last: the latest run of any scope")
    p.add_argument("--dry-run", action="store_true", help="show what would be reverted")
    p.add_argument("--list", action="store_true", help="list recorded runs: scope, CLI or service, start, counts")
    p.add_argument("--json", action="store_true", help="print each reverted change as a JSON line instead of "
                                                       "one line per group in words")
    _client_args(p)
    args = p.parse_args(argv)
    _setup_logging(args.verbose)
    from immich_client import ImmichError
    from organizer.immich.undo import NothingInScope, UndoError, run_info, undo_run, undoable_runs
    from organizer.store.locks import ScopeBusy

    if args.list:
        runs = undoable_runs(args.state_dir)
        if not runs:
            print(f"no runs recorded in {args.state_dir / 'journal'}")
        for path in runs:
            info = run_info(path)
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["started"] or 0))
            state = "undone" if info["undone"] else "active"
            print(f"{info['run']}\t{info['scope']}\t{info['origin']}\t{started}\t{info['groups']} groups\t"
                  f"{info['writes']} writes\t{state}")
        return 0
    if args.run and args.last:
        p.error("give a run id or --last, not both")
    try:
        client = _client(args)
        scope = None if args.any_scope else "library"
        if args.immich_album and not args.any_scope:
            scope = f"album-{client.albums.find(args.immich_album).id}"
        summary = undo_run(client, args.state_dir, args.run, dry_run=args.dry_run, scope=scope)
    except NothingInScope as exc:
        print(f"error: {exc.words(program())}", file=sys.stderr)
        return EXIT_ERROR
    except (UndoError, ScopeBusy, ImmichError) as exc:
        print(_say(f"error: {exc}"), file=sys.stderr)
        return EXIT_ERROR
    if summary.get("already_undone"):
        print(f"{summary['journal']}: already undone; nothing to do.")
        return 0
    _print_undo(summary, args.dry_run, args.json)
    return 0


def _print_undo(summary: dict[str, Any], dry_run: bool, as_json: bool) -> None:
    """What the undo did: one line per group in words and a total (``--json``: each change as JSON)."""
    verb = "Would revert" if dry_run else "Reverted"
    print(f"{verb} {len(summary['reverted'])} changes from {summary['journal']} (scope {summary['scope']})")
    if as_json:
        for item in summary["reverted"]:
            print("  " + json.dumps(item))
    else:
        for g in summary.get("groups") or []:
            changes = ", ".join(g["changes"]) or "nothing left to revert"
            print(f"  Group of {g['photos']} photos, best {g['best_name']}: {changes}")
        for item in summary["reverted"]:
            if not item.get("group") and item.get("op") == "delete_tags":
                print(f"  Tags deleted (nothing uses them any more): {', '.join(item.get('tags') or [])}")
    for note in summary.get("left_alone", []):
        print(_say("  left alone: " + note))
    groups = len(summary.get("groups") or [])
    print(f"{'Would undo' if dry_run else 'Undone'}: {groups} group{'s' if groups != 1 else ''}, "
          f"{len(summary['reverted'])} changes (run {summary.get('run')}, scope {summary['scope']}).")
    if not dry_run:
        print(f"These groups stay undone: later passes leave them alone until their photos change. "
              f"To apply them again: {program()} redo {summary['run']}")


def redo(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="photo-organizer redo",
                                description="Let the next passes apply again the groups an undo left alone.")
    p.add_argument("run", help="the run id that was undone (see: photo-organizer undo --list)")
    _client_args(p)
    args = p.parse_args(argv)
    _setup_logging(args.verbose)
    from immich_client import ImmichError
    from organizer.immich.undo import UndoError
    from organizer.immich.undo import redo as do_redo

    try:
        count = do_redo(_client(args), args.state_dir, args.run)
    except (UndoError, ImmichError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"{count} undone groups of run {args.run} will be applied again by the next pass.")
    return 0


def install_webhook(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="photo-organizer install-webhook",
                                description="Create or update the Immich workflow that calls the service's webhook.")
    p.add_argument("--public-url", default=read("WEBHOOK_PUBLIC_URL"),
                   help="URL Immich can reach the service at, e.g. http://photo-organizer:8080/webhook/immich")
    p.add_argument("--secret", default=read("WEBHOOK_SECRET"), help="default: $WEBHOOK_SECRET")
    p.add_argument("--header-name", default=read("WEBHOOK_HEADER"),
                   help=f"default: $WEBHOOK_HEADER, else {default('WEBHOOK_HEADER')}")
    _client_args(p)
    args = p.parse_args(argv)
    _setup_logging(args.verbose)
    if not args.public_url or not args.secret:
        print("error: set WEBHOOK_PUBLIC_URL and WEBHOOK_SECRET (or --public-url/--secret)", file=sys.stderr)
        return EXIT_USAGE
    from immich_client import ImmichError
    from organizer.settings import resolve_settings

    try:
        from service.install_webhook import install_webhook as do_install
    except ImportError as exc:  # pragma: no cover - service package ships with the product
        print(f"error: service package unavailable: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        settings = resolve_settings({"url": args.immich_url, "api_key": args.immich_api_key})
        result = do_install(settings, args.public_url, args.secret, args.header_name)
    except (ImmichError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(result, indent=2))
    return 0
