"""Undo that a person can follow (issue 20, point 3), against the real Immich, through the real command.

- ``undo --last`` with nothing in its scope names the scopes that have runs, each with the command
  that undoes it — and that command, typed as printed, works.
- A pass after an undo says of each undone group "left alone: undone (redo RUN to apply)", not
  "unchanged since the last pass".
- A run that wrote nothing to Immich (a second pass with nothing to do, a download) is not a run to
  undo: no undo hint, not in ``undo --list``, and ``undo --last`` still finds the run that wrote.
- ``undo`` prints one line per group in words and a total; ``--json`` the JSON lines.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from datetime import timedelta

from cli_helpers import REPO, run_cli
from cli_helpers import cli_env as cli_env_base
from test_immich_real import START, cli_env, upload_burst

PASS = ("--source-type", "immich", "--no-progress")


def _printed_command(text: str, start: str) -> list[str]:
    """The words after ``start`` on the line that holds it, as a shell would split them."""
    line = next(line for line in text.splitlines() if start in line)
    words = shlex.split(line.rsplit(start, 1)[1].split("   (")[0])
    assert words[:2] == ["photo-organizer", "undo"], line
    return words[1:]


def test_undo_last_in_an_empty_scope_names_the_album_that_has_runs(immich, tmp_path):
    burst = upload_burst(immich, 61, range(3))
    immich.make_album("Vacation 2024", burst)
    before = immich.snapshot()
    env = cli_env(immich, tmp_path)
    done = run_cli(*PASS, "--immich-album", "Vacation 2024", "--stack", **env)
    assert done.returncode == 0, done.stderr
    assert immich.stacks()
    refused = run_cli("undo", "--last", **env)
    assert refused.returncode == 1
    assert "no run of scope library left to undo" in refused.stderr
    assert "album 'Vacation 2024' has 1" in refused.stderr, refused.stderr
    words = _printed_command(refused.stderr, ": ")
    assert words == ["undo", "--last", "--immich-album", "Vacation 2024"], refused.stderr
    undone = run_cli(*words, **env)
    assert undone.returncode == 0, undone.stderr
    assert not immich.stacks() and immich.snapshot() == before


def test_a_pass_after_an_undo_says_the_groups_are_undone_with_the_redo_command(immich, tmp_path):
    upload_burst(immich, 62, range(3))
    upload_burst(immich, 63, range(3), START + timedelta(hours=3))
    env = cli_env(immich, tmp_path)
    first = run_cli(*PASS, "--stack", **env)
    assert first.returncode == 0, first.stderr
    undone = run_cli("undo", **env)
    assert undone.returncode == 0, undone.stderr
    run_id = undone.stdout.split("photo-organizer redo ", 1)[1].split()[0]
    again = run_cli(*PASS, "--stack", **env)
    assert again.returncode == 0, again.stderr
    out = again.stdout + again.stderr
    assert "unchanged since the last pass" not in out, out
    for n in (1, 2):
        assert f"Group {n}/2 left alone: undone (redo {run_id} to apply)" in out, out
    assert f"Left alone: 2 groups you undid (run {run_id}); to apply them again: photo-organizer redo {run_id}" \
        in out, out
    assert not immich.stacks()
    assert "Undo these changes" not in again.stdout, "the pass wrote nothing: nothing to undo"
    other = run_cli(*PASS, "--tag-only", **env)  # other actions: each group is looked at again, still undone
    assert other.returncode == 0, other.stderr
    for n in (1, 2):
        assert f"Group {n}/2 left alone: undone (redo {run_id} to apply)" in other.stdout + other.stderr, other.stdout
    assert not [t for t in immich.tags() if "/group-" in t["value"]], "an undone group gets no tags either"
    redone = run_cli("redo", run_id, **env)
    assert redone.returncode == 0, redone.stderr
    assert len(immich.stacks()) == 0
    applied = run_cli(*PASS, "--stack", **env)
    assert applied.returncode == 0 and len(immich.stacks()) == 2, applied.stdout + applied.stderr


def test_runs_that_wrote_nothing_are_no_runs_to_undo(immich, tmp_path):
    burst = upload_burst(immich, 64, range(3))
    before = immich.snapshot()
    env = cli_env(immich, tmp_path)
    first = run_cli(*PASS, "--stack", **env)
    assert first.returncode == 0, first.stderr
    assert "Undo these changes with" in first.stdout
    second = run_cli(*PASS, "--stack", **env)  # every group unchanged
    assert second.returncode == 0, second.stderr
    assert "Undo these changes" not in second.stdout, second.stdout
    download = run_cli(*PASS, "-o", str(tmp_path / "bursts"), **env)  # make download DEST=…
    assert download.returncode == 0, download.stderr
    assert "Undo these changes" not in download.stdout, download.stdout
    assert len(list((tmp_path / "bursts").rglob("*.jpg"))) == len(burst)
    listed = run_cli("undo", "--list", **env)
    runs = [line for line in listed.stdout.splitlines() if line.strip()]
    assert len(runs) == 1, listed.stdout
    undone = run_cli("undo", "--last", **env)  # the pass that stacked, not the download after it
    assert undone.returncode == 0, undone.stderr
    assert "later run" not in undone.stdout, undone.stdout
    assert not immich.stacks() and immich.snapshot() == before


def test_undo_prints_one_line_per_group_in_words_and_a_total(immich, tmp_path):
    upload_burst(immich, 65, range(3))
    upload_burst(immich, 66, range(4), START + timedelta(hours=3))
    env = cli_env(immich, tmp_path)
    first = run_cli(*PASS, "--stack", "--tag-only", **env)
    assert first.returncode == 0, first.stderr
    dry = run_cli("undo", "--dry-run", "--json", **env)
    assert dry.returncode == 0, dry.stderr
    json_lines = [line.strip() for line in dry.stdout.splitlines() if line.strip().startswith("{")]
    assert json_lines and all(json.loads(line)["op"] for line in json_lines), dry.stdout
    undone = run_cli("undo", **env)
    assert undone.returncode == 0, undone.stderr
    lines = undone.stdout.splitlines()
    assert not [line for line in lines if line.strip().startswith("{")], undone.stdout
    groups = [line for line in lines if line.startswith("  Group of ")]
    assert len(groups) == 2, undone.stdout
    three = next(line for line in groups if "Group of 3 photos" in line)
    four = next(line for line in groups if "Group of 4 photos" in line)
    assert "best IMG_065_0.jpg" in three and "best IMG_066_0.jpg" in four, groups
    for line in groups:
        assert "stack removed" in line, line
    assert "tags taken off 3 photos" in three and "tags taken off 4 photos" in four, groups
    assert any(line.startswith("Undone: 2 groups") for line in lines), undone.stdout
    assert not immich.stacks()


def test_off_path_the_printed_commands_name_the_program_as_it_can_be_typed(immich, tmp_path):
    """``make undo`` runs ``.venv/bin/photo-organizer``; with no activated environment the bare name is
    not on PATH, so a hint saying ``photo-organizer redo RUN`` would fail as typed."""
    upload_burst(immich, 67, range(3))
    env = cli_env(immich, tmp_path)
    assert run_cli(*PASS, "--stack", **env).returncode == 0
    shell = dict(cli_env_of_shell(), **env)
    undone = subprocess.run([".venv/bin/photo-organizer", "undo"], cwd=REPO, env=shell, capture_output=True,
                            text=True, timeout=180)
    assert undone.returncode == 0, undone.stderr
    hint = undone.stdout.split("To apply them again: ", 1)[1].strip()
    assert hint.startswith(".venv/bin/photo-organizer redo "), hint
    redone = subprocess.run(hint, shell=True, cwd=REPO, env=shell, capture_output=True, text=True, timeout=180)
    assert redone.returncode == 0 and "will be applied again" in redone.stdout, redone.stderr


def cli_env_of_shell() -> dict[str, str]:
    """A user's shell without the virtual environment on PATH (no ``activate``)."""
    env = cli_env_base()
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env.pop("VIRTUAL_ENV", None)
    return env


def test_the_make_undo_an_album_pass_prints_undoes_it_as_typed(immich, tmp_path):
    """The pass's "(or: make undo ALBUM=…)", pasted into a shell as printed, undoes the album's run,
    an apostrophe in the album's name included, and prints the groups in words."""
    album = "Summer's end 2024"
    burst = upload_burst(immich, 68, range(3))
    immich.make_album(album, burst)
    before = immich.snapshot()
    env = cli_env(immich, tmp_path)
    done = run_cli(*PASS, "--immich-album", album, "--stack", **env)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("Undo these changes with: "))
    make = line.split("(or: ", 1)[1].split(")   (journal")[0]
    assert make.startswith("make undo ALBUM="), line
    shell = dict(cli_env_of_shell(), **env)
    undone = subprocess.run(make, shell=True, cwd=REPO, env=shell, capture_output=True, text=True, timeout=300)
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert "Group of 3 photos, best IMG_068_0.jpg: stack removed" in undone.stdout, undone.stdout
    assert not immich.stacks() and immich.snapshot() == before
