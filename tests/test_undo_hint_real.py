"""The undo command a pass prints works as printed, an album pass's included (issue 20, point 3).

Before, an album pass printed ``photo-organizer undo --last``, which looks in the library's scope and
answered "no run of scope library left to undo".
"""

from __future__ import annotations

import shlex

from cli_helpers import run_cli
from test_immich_real import cli_env, upload_burst


def _printed_undo(stdout: str) -> list[str]:
    line = next(line for line in stdout.splitlines() if line.startswith("Undo these changes with: "))
    command = line.split(": ", 1)[1].split("   (")[0]
    words = shlex.split(command)
    assert words[:2] == ["photo-organizer", "undo"], line
    assert "(or: make undo" in line
    return words[1:]


def test_the_undo_an_album_pass_prints_undoes_it(immich, tmp_path):
    burst = upload_burst(immich, 4, range(3))
    immich.make_album("Summer's end 2024", burst)
    before = immich.snapshot()
    env = cli_env(immich, tmp_path)
    done = run_cli("--source-type", "immich", "--immich-album", "Summer's end 2024", "--stack", "--no-progress", **env)
    assert done.returncode == 0, done.stderr
    assert immich.stacks(), "the pass stacked the burst"
    words = _printed_undo(done.stdout)
    assert "make undo ALBUM=" in done.stdout
    undone = run_cli(*words, **env)
    assert undone.returncode == 0, undone.stderr
    assert "Reverted" in undone.stdout
    assert not immich.stacks() and immich.snapshot() == before
