"""The candidate prefetch fetches exactly the photos the pass will want next, however many candidates there are.

Issue 13: the window used to be found by walking every later candidate for each one (O(n²) when
none is wanted: an unchanged library of 75k candidates). It now comes from a cumulative sum; this
checks it against the walk it replaced, on random candidate lists.
"""

from __future__ import annotations

import random

from organizer import pipeline
from organizer.models import PhotoRef


class _Source:
    def load_for_scoring(self, ref):
        return None


def _walk(candidates, wanted):
    """The window as the pass found it before: (candidate being judged, candidate fetched)."""
    nxt, fetched = 0, []
    for k in range(len(candidates)):
        ahead = 0
        nxt = max(nxt, k + 1)
        for j in range(k + 1, len(candidates)):
            ahead += len(candidates[j]) if wanted[j] else 0
            if ahead > pipeline.PREFETCH_PHOTOS:
                break
            if j >= nxt:
                nxt = j + 1
                if wanted[j]:
                    fetched.append((k, j))
    return fetched


def test_prefetch_window_matches_the_walk_it_replaced(monkeypatch):
    for trial in range(60):
        rng = random.Random(trial)
        candidates = [[PhotoRef(id=f"{i}-{x}", name="", fingerprint="") for x in range(rng.randint(2, 30))]
                      for i in range(rng.randint(0, 50))]
        wanted = [rng.random() < 0.6 for _ in candidates]
        is_wanted = {id(c): w for c, w in zip(candidates, wanted, strict=True)}
        monkeypatch.setattr(pipeline, "_verify_key", lambda c, w=is_wanted: "new" if w[id(c)] else "cached")
        state = type("S", (), {"extra": {"cached": 1}})()
        prefetch = pipeline._Prefetch(_Source(), candidates, state, 1)  # type: ignore[arg-type]
        assert prefetch.wanted == wanted
        fetched = []
        for k in range(len(candidates)):
            before = set(prefetch.pending)
            prefetch.loader(k)
            fetched += [(k, j) for j in sorted(set(prefetch.pending) - before)]
        prefetch.close()
        assert fetched == _walk(candidates, wanted), trial
