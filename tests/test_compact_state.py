"""Issue 13: the compact state (hash columns, packed groups) and the streamed report keep every byte of meaning."""

from __future__ import annotations

import json

import pytest

from organizer.store.atomic import write_json_atomic
from organizer.store.hash_table import HashTable
from organizer.store.packed import GroupList, PackedEntries
from organizer.store.state import MAGIC, ProcessingState, StateLoadError, _frame

PARAMS = {"source": "/photos", "threshold": 10}


def _entries(n: int):
    sources = ["exif:DateTimeOriginal", "mtime", "immich:localDateTime"]
    zones = [None, "+02:00", "-05:30"]
    return {f"dir é/{i:05d}.jpg": (f"{1000 + i}:{i * 7919}", (i * 0x9E3779B97F4A7C15) % 2**64, 1.7e9 + i * 0.25,
                                   sources[i % 3], zones[i % 3], 4000 + i % 7, 3000 - i % 5)
            for i in range(n)}


def _group(i: int) -> dict:
    return {"id": f"g{i:016x}", "index": i + 1, "best": f"a{i}",
            "photos": [{"id": f"a{i}", "score": 0.5 + i / 1e4, "score_parts": {"why": "sharpest"}, "best": True},
                       {"id": f"b{i}", "score": 0.25, "score_parts": {"why": "é blur"}, "best": False}],
            "actions": {"writes": 2}, "kind": "burst", "confidence": 0.9}


def test_compact_state_round_trip_with_deltas(tmp_path):
    path = tmp_path / "s.pkl"
    st = ProcessingState(path, PARAMS)
    entries = _entries(1000)
    for k, v in list(entries.items())[:900]:
        st.hashes[k] = v
    st.complete_group("g1", _group(1))
    st.save()  # a snapshot in the compact form
    for k, v in list(entries.items())[900:]:
        st.record_hash(k, v)  # deltas
    st.record_hash("dir é/00003.jpg", ("changed", 5, 1.0, "mtime", None, 1, 2))  # an entry overwritten by a delta
    entries["dir é/00003.jpg"] = ("changed", 5, 1.0, "mtime", None, 1, 2)
    st.complete_group("g2", _group(2))
    st.set_extra("index", {"x": 1})
    st.flush()
    loaded = ProcessingState(path, PARAMS)
    assert loaded.load() == PARAMS
    assert dict(loaded.hashes.items()) == entries
    assert loaded.completed == {"g1": _group(1), "g2": _group(2)}
    assert loaded.extra == {"index": {"x": 1}}
    loaded.save()  # compacted again: same content
    again = ProcessingState(path, PARAMS)
    again.load()
    assert dict(again.hashes.items()) == entries and again.completed == loaded.completed


def test_a_format_1_state_file_is_read_and_converted(tmp_path):
    """A state file written before the compact format (dicts of tuples, plain group dicts) still resumes."""
    path = tmp_path / "s.pkl"
    entries = _entries(50)
    path.write_bytes(MAGIC + _frame({"kind": "snapshot", "format": 1, "params": PARAMS, "run_id": "r1",
                                     "started_at": 1.0, "last_saved": 2.0, "hashes": entries,
                                     "skipped": {"bad.jpg": ("fp", "unreadable")}, "completed": {"g1": _group(1)},
                                     "counters": {"photos_total": 51}, "extra": {}})
                     + _frame({"kind": "delta", "saved_at": 3.0, "hashes": {"new.jpg": entries["dir é/00001.jpg"]},
                               "skipped": {}, "completed": {"g2": _group(2)}, "counters": {}, "extra": {}}))
    st = ProcessingState(path, PARAMS)
    assert st.load() == PARAMS
    assert dict(st.hashes.items()) == entries | {"new.jpg": entries["dir é/00001.jpg"]}
    assert st.completed == {"g1": _group(1), "g2": _group(2)}
    assert st.skipped == {"bad.jpg": ("fp", "unreadable")}


def test_an_inconsistent_compact_table_is_a_clear_load_error(tmp_path):
    path = tmp_path / "s.pkl"
    st = ProcessingState(path, PARAMS)
    st.hashes.update(_entries(3))
    snap = st._snapshot()
    snap["hashes"]["ids"] = "only-one-id"
    path.write_bytes(MAGIC + _frame(snap))
    with pytest.raises(StateLoadError, match="malformed.*3 rows holds 1 ids"):
        ProcessingState(path, PARAMS).load()


def test_hash_table_behaves_as_the_dict_it_replaces():
    entries = _entries(300)
    table = HashTable(entries.items())
    assert len(table) == 300 and table == entries
    del table["dir é/00000.jpg"]
    table["late"] = ("fp", 2**64 - 1, -1.5, "mtime", None, 0, 0)  # the full 64-bit range and a negative time
    expected = {k: v for k, v in entries.items() if k != "dir é/00000.jpg"} | {
        "late": ("fp", 2**64 - 1, -1.5, "mtime", None, 0, 0)}
    assert dict(HashTable.decode(table.encode()).items()) == expected
    table.clear()
    assert len(table) == 0 and "late" not in table


def test_streamed_report_equals_the_plain_one(tmp_path):
    """Every group once, in order, with the rest of the report as before; the file stays valid JSON."""
    groups = [_group(i) for i in range(257)]
    report = {"version": 1, "summary": {"groups": len(groups), "note": "multi\nline é"}, "groups": GroupList(groups),
              "skipped": [{"id": "x", "reason": "unreadable"}]}
    plain = dict(report, groups=groups)
    write_json_atomic(tmp_path / "streamed.json", report)
    write_json_atomic(tmp_path / "plain.json", plain)
    streamed = json.loads((tmp_path / "streamed.json").read_text())
    assert streamed == json.loads((tmp_path / "plain.json").read_text())
    assert list(streamed) == list(plain)  # key order kept
    empty = {"groups": GroupList(), "summary": {}}
    write_json_atomic(tmp_path / "empty.json", empty)
    assert json.loads((tmp_path / "empty.json").read_text()) == {"groups": [], "summary": {}}


def test_group_list_hands_out_copies_and_takes_changes_back():
    groups = GroupList([_group(0), _group(1)])
    assert groups.photos == 4 and len(groups) == 2 and bool(groups)
    g = groups[1]
    g["actions"] = {"folder": "/out/group_0002"}
    assert groups[1]["actions"] == {"writes": 2}
    groups[1] = g
    assert list(groups)[1]["actions"] == {"folder": "/out/group_0002"}


def test_packed_entries_from_a_state_refuse_foreign_values():
    with pytest.raises(TypeError, match="completed group 'g' is a int"):
        PackedEntries.from_blobs({"g": 3})


def test_asset_index_round_trip_and_sorted_items():
    """The Immich scope's asset index: the same dicts back, after encoding and in id order."""
    from organizer.immich.asset_index import AssetIndex

    infos = {f"{i:04x}-id": {"name": f"IMG_{i}.HEIC", "fp": f"sum{i}=", "taken_at": 1.7e9 + i / 3,
                             "taken_source": ["immich:dateTimeOriginal", "immich:localDateTime"][i % 2],
                             "tz": [None, "+02:00"][i % 2], "size": 10**9 + i, "wh": (4032 - i, 3024),
                             "snap": {"is_favorite": i % 3 == 0, "visibility": ["timeline", "archive"][i % 2]},
                             # EXIF names a camera, names none, or (an index saved before it was kept) unknown
                             "camera": [True, False, None][i % 5 % 3]}
             for i in reversed(range(200))}
    index = AssetIndex()
    for key, info in infos.items():
        index[key] = info
    index.pop("0005-id")
    del infos["0005-id"]
    again = AssetIndex.decode(index.encode())
    assert dict(again.items()) == infos
    assert list(again.sorted_items()) == sorted(infos.items()) == list(index.sorted_items())
    assert dict(AssetIndex.decode(infos).items()) == infos  # the old form: a plain dict of dicts


def _infos(n: int) -> dict:
    return {f"{i:04x}-id": {"name": f"IMG_{i}.HEIC", "fp": f"sum{i}=", "taken_at": 1.7e9 + i / 3,
                            "taken_source": "immich:localDateTime", "tz": [None, "+02:00"][i % 2], "size": 10**9 + i,
                            "wh": (4032 - i, 3024), "snap": {"is_favorite": i % 3 == 0, "visibility": "timeline"},
                            "camera": [True, False, None][i % 3]}
            for i in range(n)}


def test_a_scope_shares_one_id_index_through_deltas_deletes_and_new_assets(tmp_path):
    """Issue 19: the asset index is saved aligned with the hash table's ids (no ids of its own);
    ids added after it was encoded (a delta, a new asset) and ids one table lacks stay aligned."""
    from organizer.immich.asset_index import AssetIndex

    path = tmp_path / "s.pkl"
    st = ProcessingState(path, PARAMS)
    infos = _infos(60)
    index = AssetIndex(st.hashes.ids)
    for i, (key, info) in enumerate(infos.items()):
        index[key] = info
        if i % 4:  # a quarter listed but not hashed yet
            st.hashes[key] = (info["fp"], i, info["taken_at"], "immich:localDateTime", info["tz"], 4032, 3024)
    index.pop("0007-id")
    del infos["0007-id"]
    del st.hashes["0009-id"]
    st.set_extra("index", index.encode(ids=st.hashes.ids))
    assert "ids" not in st.extra["index"]
    hashed = dict(st.hashes.items())
    st.save()
    st.record_hash("new-id", ("fp-new", 1, 2.0, "mtime", None, 1, 1))  # a delta after the snapshot
    st.flush()
    hashed["new-id"] = ("fp-new", 1, 2.0, "mtime", None, 1, 1)
    loaded = ProcessingState(path, PARAMS)
    loaded.load()
    again = AssetIndex.decode(loaded.extra["index"], ids=loaded.hashes.ids)
    assert again.ids is loaded.hashes.ids
    assert dict(again.items()) == infos and dict(loaded.hashes.items()) == hashed
    assert "new-id" not in again and "0007-id" in loaded.hashes and "0009-id" in again
    again["newer-id"] = infos["0001-id"]  # listed after the load: a new slot both tables see the same
    loaded.hashes["newer-id"] = hashed["0001-id"]
    loaded.set_extra("index", again.encode(ids=loaded.hashes.ids))
    loaded.save()
    third = ProcessingState(path, PARAMS)
    third.load()
    assert AssetIndex.decode(third.extra["index"], ids=third.hashes.ids)["newer-id"] == infos["0001-id"]
    assert third.hashes["newer-id"] == hashed["0001-id"]
    with pytest.raises(ValueError, match="read without them"):
        AssetIndex.decode(third.extra["index"])


def test_a_format_2_scope_state_is_read_and_its_asset_index_joins_the_shared_ids(tmp_path):
    """A state saved before issue 19: the hash table as count/ids columns, the asset index with its own ids."""
    import numpy as np

    from organizer.immich.asset_index import AssetIndex
    from organizer.store.hash_table import ROW

    infos = _infos(30)
    keys = list(infos)[:20]  # ten assets listed but not hashed
    rows = np.zeros(len(keys), dtype=ROW)
    rows["hash"] = np.arange(len(keys))
    rows["taken"] = [infos[k]["taken_at"] for k in keys]
    own = AssetIndex()  # format 1 of the index: its own ids
    for key, info in reversed(list(infos.items())):
        own[key] = info
    snap = {"kind": "snapshot", "format": 2, "params": PARAMS, "run_id": "r", "started_at": 1.0, "last_saved": None,
            "hashes": {"count": len(keys), "ids": "\0".join(keys), "fp": "\0".join(infos[k]["fp"] for k in keys),
                       "rows": rows.tobytes(), "texts": ["immich:localDateTime"]},
            "skipped": {}, "completed": {}, "counters": {}, "extra": {"index": own.encode()}}
    path = tmp_path / "old.pkl"
    path.write_bytes(MAGIC + _frame(snap))
    st = ProcessingState(path, PARAMS)
    assert st.load() == PARAMS
    index = AssetIndex.decode(st.extra["index"], ids=st.hashes.ids)
    assert index.ids is st.hashes.ids and len(st.hashes.ids) == 30
    assert dict(index.items()) == infos
    assert st.hashes[keys[3]] == (infos[keys[3]]["fp"], 3, infos[keys[3]]["taken_at"], "immich:localDateTime",
                                  "immich:localDateTime", 0, 0)
    assert list(index.sorted_items()) == sorted(infos.items())


def test_adding_many_new_entries_at_once_equals_adding_them_one_by_one():
    """HashTable.add_new (a local hash cache seeding a pass) in bulk, and its one-by-one fallback."""
    entries = list(_entries(300).items())
    one = HashTable()
    for key, entry in entries:
        one[key] = entry
    bulk = HashTable()
    bulk.add_new(entries[:100])
    bulk.add_new(entries[100:])
    assert bulk == one and list(bulk) == list(one)
    again = HashTable(entries[:2])
    again.add_new([entries[1], entries[5], entries[5]])  # one held already, one twice: one by one
    assert dict(again.items()) == dict([entries[0], entries[1], entries[5]])
    loaded = HashTable.decode(bulk.encode())
    assert loaded == one
