"""Grouping photos whose perceptual hashes are close and whose capture times are near.

Input is plain arrays (capture seconds, uint64 hashes); output is lists of indices. Distances are
computed with numpy on packed 64-bit hashes (``np.bitwise_count`` of the XOR), never pair by pair
in Python, and matches are joined with union-find, so the groups depend only on the data — not on
file order, worker timing or which pair was seen first.

Chaining guard. Union-find alone joins A~B and B~C even when A and C differ a lot, so a slow pan
or a long series of small changes can collapse into one huge "burst". Every component whose
diameter (largest pairwise distance) exceeds ``max_diameter`` (default 2 × threshold) is split by
leader clustering in time order: the earliest unassigned photo leads a new group and takes every
unassigned member within ``threshold`` bits and ``time_window`` seconds of it. Each resulting group
therefore has a photo that all of its members are close to, which bounds its diameter by
2 × threshold and its time span by the window, and the split is deterministic.

Time guard. The chaining guard only looks at hash distance, so a view that comes back every minute
(a window, a webcam, a product shoot) chains through the window into one "burst" spanning a day.
A burst is compact in time, whatever the hashes say: after the chaining guard every group is cut
where two consecutive members are more than ``max_gap`` seconds apart, and a group longer than the
window is cut greedily in time order (a new group starts at the first member more than ``window``
seconds after the current group's first member). So with a window, span ≤ window always holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Default largest gap (seconds) between consecutive shots of one group: a burst, a bracket or a
#: re-shot is seconds apart; a minute of silence starts a new moment.
DEFAULT_MAX_GAP = 60.0
#: Rows per block in the all-pairs (no time window) comparison: a 512 × N uint8 matrix.
BLOCK_ROWS = 512


def union_find(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Vectorized union-find: the root (smallest member index) of every element 0..n-1.

    Each round hooks the larger root of every matching pair under the smaller one
    (``np.minimum.at``), then compresses paths by pointer jumping; rounds repeat until no pair
    spans two sets. The result depends only on the set of pairs, never on their order.
    """
    parent = np.arange(n, dtype=np.int64)
    while True:
        ra, rb = parent[a], parent[b]
        lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
        spans = lo != hi
        if not spans.any():
            return parent
        np.minimum.at(parent, hi[spans], lo[spans])
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bit differences between packed uint64 hashes (broadcasting)."""
    return np.bitwise_count(np.bitwise_xor(a, b))


def windowed_pairs(times: np.ndarray, hashes: np.ndarray, threshold: int, window: float,
                   progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Matching pairs (i < j, indices into the time-sorted arrays) within ``window`` seconds.

    Compares each photo with its k-th successor for k = 1, 2, … as one vectorized step per k; the
    set of photos still having a successor inside the window only shrinks, so the total work is the
    number of pairs inside the window, not n².
    """
    n = len(times)
    found_a: list[np.ndarray] = []
    found_b: list[np.ndarray] = []
    active = np.arange(n - 1, dtype=np.int64)
    k = 1
    while active.size:
        partner = active + k
        in_range = partner < n
        active, partner = active[in_range], partner[in_range]
        in_window = (times[partner] - times[active]) <= window
        active, partner = active[in_window], partner[in_window]
        if not active.size:
            break
        close = hamming(hashes[active], hashes[partner]) <= threshold
        if close.any():
            found_a.append(active[close])
            found_b.append(partner[close])
        if progress:
            progress(k)
        k += 1
    if not found_a:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(found_a), np.concatenate(found_b)


def _block_pairs(hashes: np.ndarray, start: int, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    stop = min(len(hashes), start + BLOCK_ROWS)
    dist = hamming(hashes[start:stop, None], hashes[None, start + 1:])  # (rows, n-start-1) uint8
    r, c = np.nonzero(dist <= threshold)
    i, j = r + start, c + start + 1
    keep = j > i
    return i[keep], j[keep]


def all_pairs(hashes: np.ndarray, threshold: int, progress: Callable[[int], None] | None = None,
              workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Matching pairs (i < j) over every pair, block by block so memory stays bounded.

    numpy releases the GIL inside the XOR / popcount / compare kernels, so blocks run on a thread
    pool across cores without copying the hashes into other processes.
    """
    n = len(hashes)
    starts = range(0, n, BLOCK_ROWS)
    workers = workers or min(8, os.cpu_count() or 1)
    found_a: list[np.ndarray] = []
    found_b: list[np.ndarray] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for a, b in pool.map(lambda s: _block_pairs(hashes, s, threshold), starts):
            if a.size:
                found_a.append(a)
                found_b.append(b)
            if progress:
                progress(BLOCK_ROWS)
    if not found_a:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(found_a), np.concatenate(found_b)


def _diameter(hashes: np.ndarray) -> int:
    return int(hamming(hashes[:, None], hashes[None, :]).max()) if len(hashes) > 1 else 0


def _chained(flat: np.ndarray, bounds: np.ndarray, hashes: np.ndarray, threshold: int,
             limit: int) -> np.ndarray:
    """Which components are wider than ``limit`` (first and last photo too far apart).

    Members of a component are linked by paths of matches, so by the triangle inequality two of
    them are at most (size - 1) * threshold apart: small components cannot exceed the limit and
    are not measured. The others are measured together, one batch per component size, so a
    library of many bursts costs a few numpy calls instead of one per burst.
    """
    sizes = np.diff(bounds)
    starts = bounds[:-1]
    safe_size = limit // threshold + 1 if threshold > 0 else int(sizes.max(initial=0))
    out = np.zeros(len(sizes), dtype=bool)
    check = sizes > safe_size
    for k in np.unique(sizes[check]).tolist():
        sel = np.flatnonzero(check & (sizes == k))
        if k > 128:  # rare, wide components: one at a time
            for c in sel.tolist():
                out[c] = _diameter(hashes[flat[starts[c]:starts[c] + k]]) > limit
            continue
        step = max(1, (1 << 22) // (k * k))  # bound the temporary to ~4M distances
        for i in range(0, len(sel), step):
            part = sel[i:i + step]
            h = hashes[flat[starts[part][:, None] + np.arange(k)]]
            widest = np.bitwise_count(h[:, :, None] ^ h[:, None, :]).max(axis=(1, 2))
            out[part] = widest > limit
    return out


def _leader_split(members: list[int], times: np.ndarray, hashes: np.ndarray, threshold: int,
                  window: float) -> list[list[int]]:
    remaining = list(members)  # already in time order
    groups: list[list[int]] = []
    while remaining:
        leader = remaining[0]
        idx = np.asarray(remaining)
        close = hamming(hashes[idx], hashes[leader]) <= threshold
        if window > 0:
            close &= (times[idx] - times[leader]) <= window
        groups.append(idx[close].tolist())
        remaining = idx[~close].tolist()
    return groups


def split_in_time(groups: list[list[int]], times: np.ndarray, window: float,
                  max_gap: float | None) -> list[list[int]]:
    """Cut groups (members in time order) at gaps > ``max_gap`` and to a span ≤ ``window``.

    Gaps are found for all groups in one numpy pass; the greedy span cut runs in Python only for
    the rare segments still longer than the window.
    """
    if not groups or (window <= 0 and not max_gap):
        return groups
    flat = np.fromiter((i for g in groups for i in g), dtype=np.int64)
    sizes = np.fromiter((len(g) for g in groups), dtype=np.int64, count=len(groups))
    starts = np.zeros(len(flat), dtype=bool)
    starts[np.concatenate([[0], np.cumsum(sizes)[:-1]])] = True
    t = times[flat]
    if max_gap:
        starts[1:] |= np.diff(t) > max_gap
    bounds = np.concatenate([np.flatnonzero(starts), [len(flat)]])
    out: list[list[int]] = []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if window <= 0 or t[hi - 1] - t[lo] <= window:
            out.append(flat[lo:hi].tolist())
            continue
        first = lo
        for k in range(lo + 1, hi):
            if t[k] - t[first] > window:
                out.append(flat[first:k].tolist())
                first = k
        out.append(flat[first:hi].tolist())
    return out


def group_indices(times: np.ndarray, hashes: np.ndarray, threshold: int, window: float,
                  min_size: int = 2, max_diameter: int | None = None,
                  progress: Callable[[int], None] | None = None,
                  max_gap: float | None = DEFAULT_MAX_GAP) -> list[list[int]]:
    """Group photos; inputs must be sorted by (time, id). Returns index lists in time order.

    ``window`` <= 0 means visual similarity only (every pair compared, no time guard unless
    ``max_gap`` is given explicitly with a window). ``max_gap`` None or 0 disables the gap cut.
    """
    n = len(hashes)
    if n < 2:
        return []
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    times = np.ascontiguousarray(times, dtype=np.float64)
    if window > 0:
        a, b = windowed_pairs(times, hashes, threshold, window, progress)
    else:
        a, b = all_pairs(hashes, threshold, progress)
    if not a.size:
        return []
    # Union-find only over photos that matched something: singletons never form a group.
    touched = np.unique(np.concatenate([a, b]))
    local = np.searchsorted(touched, np.stack([a, b]))
    roots = union_find(len(touched), local[0], local[1])
    # A stable sort keeps each component's members ascending (``touched`` is sorted).
    order = np.argsort(roots, kind="stable")
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(roots[order])) + 1, [len(order)]])
    flat_arr = touched[order]
    limit = max_diameter if max_diameter is not None else 2 * threshold
    chained = _chained(flat_arr, bounds, hashes, threshold, limit)
    flat, cut = flat_arr.tolist(), bounds.tolist()
    groups: list[list[int]] = []
    for c, (lo, hi) in enumerate(zip(cut[:-1], cut[1:], strict=True)):
        members = flat[lo:hi]
        if chained[c]:
            groups.extend(_leader_split(members, times, hashes, threshold, window))
        else:
            groups.append(members)
    if window > 0:
        groups = split_in_time(groups, times, window, max_gap)
    groups = [g for g in groups if len(g) >= min_size]
    groups.sort(key=lambda g: g[0])
    return groups
