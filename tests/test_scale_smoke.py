"""A small scale smoke (issue 21): 100k synthetic hash entries through the resume state, so the
compact formats cannot regress silently between bench runs (README "Scale": the 1M figures come from
``make bench``). Measured on 4 Dec 2026: 263 bytes per entry held (ids, fingerprints and a 28-byte
row), 258 after a load (peak 341), 61 bytes per entry on disk; a plain dict of the same tuples holds
410. The limits leave room for the interpreter and numpy, not for a second copy of the entries."""

from __future__ import annotations

import gc
import tracemalloc

from organizer.store.state import ProcessingState

N = 100_000
PARAMS = {"source": "/photos", "threshold": 18}
HELD_PER_ENTRY = 320  # bytes; a dict of tuples: ~410
LOAD_PEAK_PER_ENTRY = 480
FILE_PER_ENTRY = 100


def _entries():
    sources = ["exif:DateTimeOriginal", "mtime", "immich:localDateTime"]
    zones = [None, "+02:00", "-05:30"]
    for i in range(N):  # made here, one at a time: every byte the state keeps is counted
        yield (f"2024/07/{i % 28 + 1:02d}/IMG_{i:06d}.jpg",
               (f"{1000 + i}:{i * 7919}", (i * 0x9E3779B97F4A7C15) % 2**64, 1.7e9 + i * 0.25, sources[i % 3],
                zones[i % 3], 4000 + i % 7, 3000 - i % 5))


def _measure(build):  # noqa: ANN001, ANN202
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return kept, (now - base) / N, (peak - base) / N


def test_100k_entries_round_trip_through_the_state_in_compact_form(tmp_path):
    path = tmp_path / "state.pkl"

    def fill() -> ProcessingState:
        st = ProcessingState(path, PARAMS)
        for key, entry in _entries():
            st.hashes[key] = entry
        return st

    state, held, _ = _measure(fill)
    assert held <= HELD_PER_ENTRY, f"{held:.0f} bytes per entry held (limit {HELD_PER_ENTRY})"
    state.save()
    on_disk = path.stat().st_size / N
    assert on_disk <= FILE_PER_ENTRY, f"{on_disk:.0f} bytes per entry on disk (limit {FILE_PER_ENTRY})"
    del state
    gc.collect()

    def load() -> ProcessingState:
        st = ProcessingState(path, PARAMS)
        assert st.load() == PARAMS
        return st

    loaded, held, peak = _measure(load)
    assert held <= HELD_PER_ENTRY, f"{held:.0f} bytes per entry after a load (limit {HELD_PER_ENTRY})"
    assert peak <= LOAD_PEAK_PER_ENTRY, f"{peak:.0f} bytes per entry at the load's peak (limit {LOAD_PEAK_PER_ENTRY})"
    assert len(loaded.hashes) == N
    for key, entry in _entries():  # every entry back, exactly
        assert loaded.hashes[key] == entry, key


# ---- issue 19 item 6: one index of ids, nothing per photo rebuilt at save time ----------------------------
SCOPE_HELD_PER_ENTRY = 620  # hashes + asset index after a load; measured 541 (a second id index: 715)
SAVE_PEAK_PER_FILE_BYTE = 2.6  # measured 2.0 (the payload and its joined texts); a dict of tuples: > 4


def _scope_ids():
    return [f"{(i * 0x9E3779B97F4A7C15) % 2**128:032x}" for i in range(N)]


def _scope(path):
    from organizer.immich.asset_index import AssetIndex

    st = ProcessingState(path, PARAMS)
    index = AssetIndex(st.hashes.ids)
    for i, key in enumerate(_scope_ids()):
        st.hashes[key] = (f"fp{i:025d}=", i, 1.7e9 + i, "immich:dateTimeOriginal", "+02:00", 4032, 3024)
        index[key] = {"name": f"IMG_{i:07d}.HEIC", "fp": f"fp{i:025d}=", "taken_at": 1.7e9 + i,
                      "taken_source": "immich:dateTimeOriginal", "tz": "+02:00", "size": 1000 + i, "wh": (4032, 3024),
                      "snap": {"is_favorite": i % 7 == 0, "visibility": "timeline"}}
    return st, index


class _Counting:
    """Counts the per-photo entries built by a HashTable / AssetIndex while it is active."""

    def __init__(self, monkeypatch):
        from organizer.immich.asset_index import AssetIndex
        from organizer.store.hash_table import HashTable

        self.calls = 0
        for cls in (HashTable, AssetIndex):
            original = cls.__getitem__

            def counted(table, key, _original=original):
                self.calls += 1
                return _original(table, key)

            monkeypatch.setattr(cls, "__getitem__", counted)


def test_a_scope_indexes_its_ids_once_and_saves_without_an_entry_per_photo(tmp_path, monkeypatch):
    from organizer.immich.asset_index import AssetIndex

    path = tmp_path / "scope.pkl"
    state, index = _scope(path)
    assert index.ids is state.hashes.ids
    counting = _Counting(monkeypatch)
    encoded = index.encode(ids=state.hashes.ids)
    assert "ids" not in encoded, "the asset index saved its own copy of the ids"
    state.extra["index"] = encoded
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        state.save()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert counting.calls == 0, f"saving built {counting.calls} entries one by one"
    size = path.stat().st_size
    assert peak <= SAVE_PEAK_PER_FILE_BYTE * size, f"a save peaked at {peak / size:.1f}x the file's size"
    del state, index, encoded
    gc.collect()

    def load():
        st = ProcessingState(path, PARAMS)
        assert st.load() == PARAMS
        return st, AssetIndex.decode(st.extra["index"], ids=st.hashes.ids)

    (loaded, again), held, _ = _measure(load)
    assert again.ids is loaded.hashes.ids, "the asset index has an id index of its own"
    assert held <= SCOPE_HELD_PER_ENTRY, f"{held:.0f} bytes per photo held after a load (limit {SCOPE_HELD_PER_ENTRY})"
    assert counting.calls == 0
    keys = _scope_ids()
    assert len(loaded.hashes) == len(again) == N
    for i in (0, 1, N // 2, N - 1):
        assert loaded.hashes[keys[i]][:2] == (f"fp{i:025d}=", i)
        assert again[keys[i]]["name"] == f"IMG_{i:07d}.HEIC" and again[keys[i]]["snap"]["is_favorite"] == (i % 7 == 0)


def test_a_no_change_hash_stage_and_the_local_cache_save_build_no_entry_per_photo(tmp_path, monkeypatch):
    from organizer.local.hash_cache import HashCache, decode
    from organizer.models import PhotoRef
    from organizer.pipeline import PassSettings, _hash
    from organizer.progress import SilentProgress, StopToken

    state = ProcessingState(tmp_path / "s.pkl", PARAMS)
    state.enabled = False
    refs = []
    for key, entry in _entries():
        state.hashes[key] = entry
        refs.append(PhotoRef(id=key, name=key.rsplit("/", 1)[-1], fingerprint=entry[0]))

    class _Source:
        def hash_photos(self, todo, processes, should_stop):
            raise AssertionError(f"a no-change pass hashed {len(todo)} photos")

    counting = _Counting(monkeypatch)
    hashed, skipped = _hash(_Source(), refs, PassSettings(processes=1), state, SilentProgress(), StopToken())
    assert len(hashed) == N and not skipped
    assert counting.calls == 0, f"the hash stage built {counting.calls} cached entries one by one"

    cache = HashCache(tmp_path / "cache.npz")
    root = tmp_path / "photos"
    cache.update(state.hashes, {r.id: r.fingerprint for r in refs}, root)
    assert cache.entries == {}, "the cache copied the pass's table into a dict"
    cache.save()
    assert counting.calls == 0, f"saving the local cache built {counting.calls} entries one by one"
    monkeypatch.undo()
    back = decode(cache.path.read_bytes())
    assert len(back) == N
    for key, entry in list(_entries())[:: N // 7]:
        assert back[f"{root}/{key}"] == entry
