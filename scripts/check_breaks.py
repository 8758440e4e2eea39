#!/usr/bin/env python3
"""Prove the guard list (tests/guards.toml): each break must make its tests fail.

For each guard: copy the working tree (tracked and untracked, not ignored files; or a commit with
``--commit``) into a scratch folder, run the guard's tests there unbroken (they must pass: a test
that fails anyway proves nothing about the break), then apply the guard's break (its ``old`` text,
found exactly once in ``file``, replaced by ``new``), run only its tests again and expect them to FAIL
(pytest exit 1: tests ran and failed; a collection error or a skip does not count). The working tree
itself is never changed. Prints a table "guard / tests / failed?" and exits 1 when any guard's tests
still passed with the break, or did not pass without it; 0 when every break was caught.

    .venv/bin/python scripts/check_breaks.py                  # every guard
    .venv/bin/python scripts/check_breaks.py burst-id-span    # some, by name
    .venv/bin/python scripts/check_breaks.py --commit HEAD    # the committed code, not the working tree
    .venv/bin/python scripts/check_breaks.py --no-control     # skip the unbroken run (half the time)

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


def copy_tree(dest: Path, commit: str | None = None) -> Path:
    """The working tree as git sees it (tracked + untracked, not ignored), or ``commit``'s files,
    beside a link to ../shared."""
    root = dest / "repo"
    shared = REPO.parent / "shared"
    if shared.exists():
        (dest / "shared").symlink_to(shared)
    if commit:
        root.mkdir()
        archive = subprocess.run(["git", "archive", commit], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
        return root
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if not src.is_file():
            continue  # deleted in the working tree but still in the index
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)
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
    parser.add_argument("--commit", help="check this commit's files instead of the working tree")
    parser.add_argument("--no-control", action="store_true", help="skip the run without the break")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run of a guard's tests")
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
            root = copy_tree(Path(scratch), args.commit)
            control = "-"
            if not args.no_control:
                rc, output = run_tests(root, guard["tests"], args.timeout)
                control = "passed" if rc == 0 else f"FAILED ({first_failure(output)})" if rc == 1 else f"exit {rc}"
                if args.verbose:
                    print(output)
            if control in ("-", "passed"):
                apply_break(root, guard)
                rc, output = run_tests(root, guard["tests"], args.timeout)
                if args.verbose:
                    print(output)
                seen = "passed" if rc == 0 else ("FAILED" if rc == 1 else f"did not run (exit {rc})")
                why = first_failure(output) if rc else ""
            else:
                seen, why = "not run", "the tests do not pass without the break"
        ok = seen == "FAILED"
        rows.append((guard["name"], len(guard["tests"]), control, seen, ok))
        print(f"{guard['name']}: without the break {control}; with it {seen} "
              f"({time.monotonic() - started:.0f} s){' -- ' + why if why else ''}", flush=True)
    print()
    print(f"{'guard':<28} {'tests':>5}  {'unbroken':<9} failed?")
    for name, n, control, seen, ok in rows:
        print(f"{name:<28} {n:>5}  {control.split(' ')[0]:<9} {seen:<8}{'' if ok else '  <-- NOT CAUGHT'}")
    bad = [r for r in rows if not r[4]]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} breaks caught by their tests")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
