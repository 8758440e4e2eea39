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
