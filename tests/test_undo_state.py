"""`undo` when the shared record will not open: a clear one-line error, exit 1, nothing undone.

Undo also records the groups it reverted as undone there; if it cannot, the next pass would redo
them. Reporting success there would hide exactly that.
"""

from __future__ import annotations

from cli_helpers import run_cli
from immich_helpers import seed_bursts

from organizer.immich.run import run_immich_pass
from organizer.settings import ActionFlags, ImmichSettings


def test_undo_fails_clearly_when_the_record_will_not_open(fake_immich, tmp_path):
    bursts = seed_bursts(fake_immich, bursts=1, burst_size=3, singles=0)
    state_dir = tmp_path / "state"
    run_immich_pass(ImmichSettings(url=fake_immich.url, api_key=fake_immich.api_key, state_dir=state_dir,
                                   actions=ActionFlags(stack=True)))
    store = fake_immich.store
    stack_id = store.assets[bursts[0][0]].stack_id
    assert stack_id is not None
    (record,) = state_dir.glob("record-*.sqlite3")
    saved = record.read_bytes()
    for extra in state_dir.glob("record-*.sqlite3-*"):
        extra.unlink()
    record.write_bytes(b"this is not a database" * 50)  # damaged
    env = {"IMMICH_URL": fake_immich.url, "IMMICH_API_KEY": fake_immich.api_key, "STATE_DIR": str(state_dir)}
    proc = run_cli("undo", "--last", **env)
    assert proc.returncode == 1, proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot read the record"), proc.stderr
    assert store.assets[bursts[0][0]].stack_id == stack_id, "nothing is undone when undo cannot finish"
    record.write_bytes(saved)
    again = run_cli("undo", "--last", **env)
    assert again.returncode == 0, again.stderr
    assert store.assets[bursts[0][0]].stack_id is None
