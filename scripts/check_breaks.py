#!/usr/bin/env python3
"""Prove the guard list (tests/guards.toml): each break must make its tests fail.

For each guard: copy the working tree (tracked and untracked, not ignored files) into a scratch
folder, apply the guard's break there (its ``old`` text, found exactly once in ``file``, replaced by
``new``), run only its tests there with this Python's pytest, and expect them to FAIL (pytest exit
1: tests ran and failed; a collection error or a skip does not count). The working tree itself is
never changed. Prints a table "guard / tests / failed?" and exits 1 when any guard's tests still
passed (or could not run), 0 when every break was caught.

    .venv/bin/python scripts/check_breaks.py                 # every guard
    .venv/bin/python scripts/check_breaks.py burst-id-span   # some, by name
    .venv/bin/python scripts/check_breaks.py --control       # no break: the tests must pass

The copy sits in a scratch folder beside a link to ../shared, so the real Immich kit and the
OpenAPI spec are found as in the working tree. It is not part of `make test` (it takes minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GUARDS = REPO / "tests" / "guards.toml"


def load_guards(path: Path = GUARDS) -> list[dict]:
    return tomllib.loads(path.read_text())["guard"]


def apply_break(root: Path, guard: dict) -> None:
    """Replace the guard's ``old`` text (exactly one occurrence) by ``new`` in the copy at ``root``."""
    target = root / guard["file"]
    text = target.read_text()
    count = text.count(guard["old"])
    if count != 1:
        raise ValueError(f"guard {guard['name']}: the break's text occurs {count} times in {guard['file']} "
                         "(must be exactly once): update tests/guards.toml")
    target.write_text(text.replace(guard["old"], guard["new"]))


def copy_tree(dest: Path) -> Path:
    """The working tree as git sees it (tracked + untracked, not ignored), beside a link to ../shared."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    root = dest / "repo"
    for rel in filter(None, listed):
        src = REPO / rel
        if not src.is_file():
            continue  # deleted in the working tree but still in the index
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)
    shared = REPO.parent / "shared"
    if shared.exists():
        (dest / "shared").symlink_to(shared)
    return root


def run_tests(root: Path, tests: list[str], timeout: float) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
    check = subprocess.run([sys.executable, "-c", "import organizer, batch; print(organizer.__file__, batch.__file__)"],
                           cwd=root, env=env, capture_output=True, text=True, check=False)
    if not all(p.startswith(str(root)) for p in check.stdout.split()):
        return 3, f"the copy's code is not the one imported: {check.stdout.strip()} {check.stderr.strip()}"
    cmd = [sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider", "-x", *tests]
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f} s"
    return proc.returncode, proc.stdout + proc.stderr


def first_failure(output: str) -> str:
    """The line that says why: pytest's first 'E   ' line, else its last line."""
    for line in output.splitlines():
        if line.startswith("E   "):
            return line[4:].strip()[:160]
    lines = [ln for ln in output.splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="guards to check (default: all)")
    parser.add_argument("--control", action="store_true", help="apply no break: the tests must pass")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per guard's tests")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each run's pytest output")
    args = parser.parse_args(argv)
    guards = load_guards()
    unknown = set(args.names) - {g["name"] for g in guards}
    if unknown:
        parser.error(f"no such guard: {', '.join(sorted(unknown))}")
    chosen = [g for g in guards if not args.names or g["name"] in args.names]
    rows = []
    for guard in chosen:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"break-{guard['name']}-") as scratch:
            root = copy_tree(Path(scratch))
            if not args.control:
                apply_break(root, guard)
            rc, output = run_tests(root, guard["tests"], args.timeout)
        if args.verbose:
            print(output)
        ok = rc == 0 if args.control else rc == 1
        seen = "passed" if rc == 0 else ("FAILED" if rc == 1 else f"did not run (exit {rc})")
        rows.append((guard["name"], len(guard["tests"]), seen, ok, first_failure(output) if rc else ""))
        print(f"{guard['name']}: {seen} in {time.monotonic() - started:.0f} s"
              + (f" -- {rows[-1][4]}" if rc else ""), flush=True)
    print()
    what = "tests pass with no break" if args.control else "tests fail with the break"
    print(f"{'guard':<28} {'tests':>5}  failed?  ({what})")
    for name, n, seen, ok, _ in rows:
        print(f"{name:<28} {n:>5}  {seen:<8}{'' if ok else '  <-- NOT AS EXPECTED'}")
    bad = [r for r in rows if not r[3]]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} guards as expected")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
