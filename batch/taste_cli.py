"""`photo-organizer taste`: what the organizer learned from the person's choices, a reset and its undo (issue 22)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from organizer.settings_table import default, read

from .common import EXIT_ERROR, EXIT_USAGE, _setup_logging


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="photo-organizer taste",
        description="Show what the organizer learned from your choices on the review page and in Immich "
                    "(keepers you chose or approved, stacks you re-covered), and how well it agrees with you; "
                    "or forget it. The choices stay in the journal; a reset, and its undo, are journaled too.")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--show", action="store_true", help="show the learned taste (the default)")
    what.add_argument("--reset", action="store_true", help="forget the learned taste: back to the built-in weights")
    what.add_argument("--undo-reset", action="store_true",
                      help="undo the latest --reset (or 'Forget my taste'): its choices count again (journaled)")
    what.add_argument("--repick", action="store_true",
                      help="Immich: re-pick with your taste — a pass in which applied groups whose keeper your learned "
                           "taste would pick differently are re-covered (journaled: 'photo-organizer undo --last' "
                           "puts them back); a best you chose is never moved")
    what.add_argument("--choose", type=Path, nargs="+", metavar="PHOTO",
                      help="local mode (with --output): these photos are the keepers you would have picked in their "
                           "groups (a file in a group folder, or its original); the next passes learn from it")
    p.add_argument("--json", action="store_true", help="with --show: as JSON")
    p.add_argument("--immich-album", default=None, help="with --repick: only this album (name or id); default: the "
                                                        "whole library")
    p.add_argument("-o", "--output", type=Path, help="local mode: the output folder whose taste this is")
    p.add_argument("--report", type=Path, help="with --choose: the pass report (default: OUTPUT/reports/latest.json)")
    p.add_argument("--journal", type=Path, help="the taste journal itself (default: the output folder's with "
                                                "--output, else the Immich user's in STATE_DIR, from IMMICH_URL "
                                                "and IMMICH_API_KEY)")
    p.add_argument("--immich-url", default=read("IMMICH_URL"), help="server URL (default: $IMMICH_URL)")
    p.add_argument("--immich-api-key", default=None, help="prefer $IMMICH_API_KEY")
    p.add_argument("--state-dir", type=Path, default=read("STATE_DIR"),
                   help=f"default: $STATE_DIR, else {default('STATE_DIR')}")
    p.add_argument("--verbose", "-v", action="store_true")
    args = p.parse_args(argv)
    _setup_logging(args.verbose)
    from organizer.judging.taste import TasteStore, describe, local_taste_path, taste_path

    path = args.journal
    if path is None and args.output is not None:
        path = local_taste_path(args.output.expanduser())
    if args.choose and args.output is None:
        print("error: --choose needs --output (local mode; on Immich, choose on the review page)")
        return EXIT_USAGE
    if args.repick:
        if args.output is not None or args.journal is not None:
            print("error: --repick is for an Immich library or album (a local pass re-picks new groups only)")
            return EXIT_USAGE
        return _repick(args)
    if path is None:
        from immich_client import ImmichClient
        from organizer.immich.record import record_path

        key = args.immich_api_key or read("IMMICH_API_KEY")
        if not args.immich_url or not key:
            print("error: set IMMICH_URL and IMMICH_API_KEY (or --immich-url/--immich-api-key), or give --journal")
            return EXIT_USAGE
        client = ImmichClient(args.immich_url, key)
        path = taste_path(record_path(Path(args.state_dir), client.base_url, client.users.me().id))
    store = TasteStore(path)
    if args.choose:
        return _choose(store, args.choose, args.report or args.output.expanduser() / "reports" / "latest.json")
    if args.reset:
        had = store.reset(origin="cli")
        print(f"Taste reset: {had} choice{'s' if had != 1 else ''} forgotten; keepers are picked by the built-in "
              f"weights until you choose again (the history stays in {path}; "
              f"'photo-organizer taste --undo-reset' brings it back).")
        return 0
    if args.undo_reset:
        from organizer.judging.taste import NothingToUndo

        try:
            now = store.undo_reset(origin="cli")
        except NothingToUndo as exc:
            print(f"error: {exc}")
            return EXIT_ERROR
        print(f"Reset undone: learning from {now} choice{'s' if now != 1 else ''} again.")
        print(describe(store)["line"])
        return 0
    shown = describe(store)
    if args.json:
        print(json.dumps(shown, indent=2, sort_keys=True))
        return 0
    print(shown["line"])
    if shown["weights_moved"]:
        moved = ", ".join(f"{k} {v:+.2f}" for k, v in shown["weights_moved"].items())
        print(f"Weights moved{'' if shown['in_use'] else ' (not in use yet)'}: {moved}")
    print(f"Closed eyes: {'never brought back' if shown['closed_eyes_veto'] == 'kept' else shown['closed_eyes_veto']}.")
    for line in shown.get("grouping_lines") or []:  # what "not a group" decisions taught verification
        print(f"{line}.")
    if shown.get("undo_reset"):  # right after a reset: say how to take it back
        n = shown["undo_reset"]["choices"]
        print(f"The last reset forgot {n} choice{'s' if n != 1 else ''}: 'photo-organizer taste --undo-reset' "
              "brings them back.")
    print(f"Journal: {path}")
    return 0


def _repick(args: argparse.Namespace) -> int:
    """One pass over the scope that re-covers applied groups whose learned keeper differs."""
    from organizer.immich.decisions import repick
    from organizer.settings import resolve_settings

    from .immich_cli import undo_hint

    key = args.immich_api_key or read("IMMICH_API_KEY")
    if not args.immich_url or not key:
        print("error: set IMMICH_URL and IMMICH_API_KEY (or --immich-url/--immich-api-key)")
        return EXIT_USAGE
    settings = resolve_settings({"url": args.immich_url, "api_key": key, "state_dir": Path(args.state_dir)})
    report = repick(settings, args.immich_album, origin="cli repick").report
    taste = report.get("taste") or {}
    if not taste.get("in_use"):
        print(taste.get("line") or "No choices yet: keepers are picked by the built-in weights.")
        print("Nothing to re-pick: no learned taste is in use.")
        return 0
    n = taste.get("repicked_this_pass", 0)
    print(f"Re-picked with your taste: {n} applied group{'s' if n != 1 else ''} got the keeper your taste picks.")
    print(taste["line"])
    if report["scope"].get("journal"):
        print(f"Undo this with: {undo_hint(report['scope'].get('album_name'))}")
    return 0


def _choose(store, photos: list[Path], report_path: Path) -> int:  # type: ignore[no-untyped-def]
    """Each photo is the keeper its person would have picked in its group of the last local pass."""
    try:
        groups = json.loads(report_path.read_text())["groups"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot read the report {report_path}: {exc}")
        return EXIT_USAGE
    for photo in photos:
        found = _find(groups, photo.expanduser().resolve())
        if found is None:
            print(f"error: {photo} is in no group of {report_path}")
            return EXIT_USAGE
        group, chosen = found
        if not store.add_choice(group["id"], chosen, group["photos"], group.get("best"), origin="cli choose"):
            print(f"error: nothing to learn from {photo} (its group has no other judged photo)")
            return EXIT_USAGE
        said = "the keeper already" if chosen == group.get("best") else "another keeper than the one picked"
        print(f"Learned: {photo.name} over the other {len(group['photos']) - 1} of its group ({said}).")
    from organizer.judging.taste import describe

    print(describe(store)["line"])
    return 0


def _find(groups: list[dict], photo: Path) -> tuple[dict, str] | None:
    """The group holding ``photo`` (its copy in a group folder, or its original) and the photo's id."""
    for group in groups:
        actions = group.get("actions") or {}
        folder, files = actions.get("folder"), actions.get("files") or {}
        for p in group.get("photos", []):
            copy = Path(folder).resolve() / files[p["id"]] if folder and p["id"] in files else None
            original = Path(p["path"]).resolve() if p.get("path") else None
            if photo in (copy, original):
                return group, p["id"]
    return None
