"""Grouping: vectorized Hamming comparisons, union-find, time window, chaining guard."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from organizer.candidates.grouping import all_pairs, group_indices, windowed_pairs


def _python_pairs(times, hashes, threshold, window):
    out = set()
    for i, j in itertools.combinations(range(len(hashes)), 2):
        if window > 0 and abs(times[j] - times[i]) > window:
            continue
        if bin(int(hashes[i]) ^ int(hashes[j])).count("1") <= threshold:
            out.add((i, j))
    return out


@pytest.mark.parametrize("window", [0.0, 30.0, 300.0])
def test_vectorized_pairs_equal_the_python_loop(window):
    rng = np.random.default_rng(7)
    n = 400
    times = np.sort(rng.uniform(0, 3000, n))
    hashes = rng.integers(0, 2**63, n, dtype=np.uint64)
    for i in range(0, n - 1, 3):  # plant near-duplicates with 0-6 flipped bits
        hashes[i + 1] = hashes[i] ^ np.uint64((1 << int(rng.integers(0, 7))) - 1)
    a, b = (windowed_pairs(times, hashes, 8, window) if window > 0 else all_pairs(hashes, 8))
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == _python_pairs(times, hashes, 8, window)


def test_groups_do_not_depend_on_input_order():
    rng = np.random.default_rng(3)
    n = 300
    times = np.sort(rng.uniform(0, 2000, n))
    base = rng.integers(0, 2**63, n // 3, dtype=np.uint64)
    hashes = np.repeat(base, 3) ^ rng.integers(0, 4, n).astype(np.uint64)
    ids = [f"p{i:04d}" for i in range(n)]
    ref = {frozenset(ids[i] for i in g) for g in group_indices(times, hashes, 6, 300)}
    assert ref
    perm = rng.permutation(n)
    t2, h2, ids2 = times[perm], hashes[perm], [ids[i] for i in perm]
    order = sorted(range(n), key=lambda i: (t2[i], ids2[i]))
    groups = group_indices(t2[order], h2[order], 6, 300)
    assert {frozenset(ids2[order[i]] for i in g) for g in groups} == ref


def test_time_window_separates_identical_looking_photos_far_apart_in_time():
    hashes = np.array([5, 5, 5, 5], dtype=np.uint64)
    times = np.array([0, 10, 5000, 5010], dtype=np.float64)
    assert group_indices(times, hashes, 4, 300) == [[0, 1], [2, 3]]
    assert group_indices(times, hashes, 4, 0) == [[0, 1, 2, 3]]


def test_chaining_is_split_so_first_and_last_are_never_far_apart():
    # 0 -> 1 -> 2 ... each step flips 3 new bits: neighbours match, the ends are 27 bits apart.
    steps = [0]
    for k in range(1, 10):
        steps.append(steps[-1] | (0b111 << (3 * k)))
    hashes = np.array(steps, dtype=np.uint64)
    times = np.arange(len(steps), dtype=np.float64)
    groups = group_indices(times, hashes, 4, 300)
    assert len(groups) > 1
    for g in groups:
        sub = hashes[g]
        diam = max(bin(int(x) ^ int(y)).count("1") for x in sub for y in sub)
        assert diam <= 8


def test_min_group_size_and_empty_inputs():
    assert group_indices(np.zeros(0), np.zeros(0, dtype=np.uint64), 8, 300) == []
    hashes = np.array([1, 1, 1, 99999999999], dtype=np.uint64)
    times = np.zeros(4)
    assert group_indices(times, hashes, 2, 300, min_size=3) == [[0, 1, 2]]
    assert group_indices(times, hashes, 2, 300, min_size=4) == []


def test_batched_chaining_check_matches_measuring_each_component():
    from organizer.candidates.grouping import _chained, _diameter

    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 2**63, 3000, dtype=np.uint64)
    # components of many sizes, some made of near-identical hashes (not chained), some random
    sizes = rng.integers(4, 200, 60)  # real components are connected: sizes <= 3 cannot chain past 2x
    sizes = sizes[np.cumsum(sizes) <= 3000]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    for c in range(0, len(sizes), 2):  # every other component: one hash with a few bits flipped
        lo, hi = bounds[c], bounds[c + 1]
        flips = rng.integers(0, 64, (hi - lo, 2))
        hashes[lo:hi] = hashes[lo] ^ (np.uint64(1) << flips[:, 0].astype(np.uint64)) ^ (
            np.uint64(1) << flips[:, 1].astype(np.uint64))
    flat = np.arange(bounds[-1])
    got = _chained(flat, bounds, hashes, threshold=10, limit=20)
    want = [_diameter(hashes[flat[lo:hi]]) > 20
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    assert got.tolist() == want
    assert any(want) and not all(want)


def test_a_view_that_comes_back_every_minute_never_makes_a_group_longer_than_the_window():
    # one photo every 3 s for 2 hours; every 20th photo (once a minute) shows the same view
    rng = np.random.default_rng(11)
    n = 2400
    times = np.arange(n, dtype=np.float64) * 3.0
    hashes = rng.integers(0, 2**63, n, dtype=np.uint64)
    hashes[::20] = np.uint64(0x5A5A5A5A5A5A5A5A)
    groups = group_indices(times, hashes, 10, 300)
    assert groups
    for g in groups:
        assert times[g[-1]] - times[g[0]] <= 300
    assert max(len(g) for g in groups) <= 6


def test_chains_are_cut_at_time_gaps():
    hashes = np.array([7, 7, 7, 7, 7], dtype=np.uint64)
    times = np.array([0, 1, 2, 200, 201], dtype=np.float64)
    assert group_indices(times, hashes, 4, 300) == [[0, 1, 2], [3, 4]]
    assert group_indices(times, hashes, 4, 300, max_gap=None) == [[0, 1, 2, 3, 4]]
