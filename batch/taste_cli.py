"""`photo-organizer taste`: what the organizer learned from the person's choices, and a reset (issue 22)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from organizer.settings_table import default, read

from .common import EXIT_USAGE, _setup_logging


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="photo-organizer taste",
        description="Show what the organizer learned from your choices on the review page and in Immich "
                    "(keepers you chose or approved, stacks you re-covered), and how well it agrees with you; "
                    "or forget it. The choices stay in the journal; a reset is journaled too.")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--show", action="store_true", help="show the learned taste (the default)")
    what.add_argument("--reset", action="store_true", help="forget the learned taste: back to the built-in weights")
    p.add_argument("--json", action="store_true", help="with --show: as JSON")
    p.add_argument("--journal", type=Path, help="the taste journal itself (default: the Immich user's, in "
                                                "STATE_DIR, from IMMICH_URL and IMMICH_API_KEY)")
    p.add_argument("--immich-url", default=read("IMMICH_URL"), help="server URL (default: $IMMICH_URL)")
    p.add_argument("--immich-api-key", default=None, help="prefer $IMMICH_API_KEY")
    p.add_argument("--state-dir", type=Path, default=read("STATE_DIR"),
                   help=f"default: $STATE_DIR, else {default('STATE_DIR')}")
    p.add_argument("--verbose", "-v", action="store_true")
    args = p.parse_args(argv)
    _setup_logging(args.verbose)
    from organizer.judging.taste import TasteStore, describe, taste_path

    path = args.journal
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
    if args.reset:
        had = store.reset(origin="cli")
        print(f"Taste reset: {had} choice{'s' if had != 1 else ''} forgotten; keepers are picked by the built-in "
              f"weights until you choose again (the history stays in {path}).")
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
    print(f"Journal: {path}")
    return 0
