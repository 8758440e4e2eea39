"""The spool hands events to the leader; a file it cannot read is kept aside, never deleted."""

from __future__ import annotations

import logging

from service.spool import QUARANTINE, Spool


def test_an_unreadable_event_file_is_quarantined_and_logged(tmp_path, caplog):
    spool = Spool(tmp_path / "spool")
    (spool.folder / "00000000000000000001-bad00000.json").write_bytes(b'{"kind": "asset", "asset_')
    (spool.folder / "00000000000000000002-list0000.json").write_text("[1, 2]")
    spool.put("asset", asset_id="a1", trigger="AssetCreate")
    with caplog.at_level(logging.WARNING, logger="service.spool"):
        items, paths = spool.drain()
    assert [i["asset_id"] for i in items] == ["a1"] and len(paths) == 1
    spool.ack(paths)
    assert len(spool) == 0
    kept = sorted(p.name for p in (spool.folder / QUARANTINE).iterdir())
    assert kept == ["00000000000000000001-bad00000.json", "00000000000000000002-list0000.json"]
    assert (spool.folder / QUARANTINE / kept[0]).read_bytes() == b'{"kind": "asset", "asset_'
    assert sum("not a readable event" in r.getMessage() for r in caplog.records) == 2
    assert spool.drain() == ([], []), "a quarantined file is not read again"
