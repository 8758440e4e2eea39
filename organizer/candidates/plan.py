"""The candidates stage in one place: from the hashed photos of a pass to its candidate groups.

Why one function: the evidence that two photos may be one moment comes from four places - the
hash and the time window (:mod:`organizer.candidates.grouping`), files of one shot
(:mod:`organizer.camera.twins`), the camera's burst ids and burst file names
(:mod:`organizer.camera.burst_ids`) - and they must be applied in one order, once. Before this
module the pass wove them in at three places; now the pass calls :func:`find_candidates` and gets
plain data back, and a new camera pattern is added here and in the camera room only.

Enters: the pass's photos with a usable hash, the state's hash table (capture times and hashes
in columns), the grouping settings. Leaves: :class:`Candidates` - the photos in capture order, the
candidate groups, each photo's capture time, the camera's burst ids and the twin plan that judging
and acting still need (a twin follows its representative into its group).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from organizer.camera import burst_ids as camera_bursts
from organizer.camera.twins import TwinPlan
from organizer.candidates.grouping import group_indices
from organizer.models import PhotoRef
from organizer.progress import Progress
from organizer.store.hash_table import HashedView
from organizer.store.state import ProcessingState


@dataclass
class Candidates:
    """What the candidates stage gives the judging stage."""

    groups: list[list[PhotoRef]]  # candidate groups, each in capture order, groups in capture order
    taken: dict[str, float]  # capture time (POSIX seconds) of every grouped photo, by id
    burst_ids: dict[str, str]  # the camera's burst id of a photo, where it has one
    twins: TwinPlan  # files of one shot: only a representative is grouped, its twins follow it
    outside_date_range: int  # photos left out by the pass's date range


def find_candidates(source: Any, refs: list[PhotoRef], hashed: HashedView, state: ProcessingState, *,
                    threshold: int, time_window: float, max_gap: float, min_group_size: int, pair_cover: str,
                    taken_after: float | None, taken_before: float | None,
                    should_stop: Callable[[], bool], progress: Progress) -> Candidates:
    """The candidate groups of a pass, in capture order (see the module's docstring for the order
    in which the evidence is applied)."""
    usable = [r for r in refs if r.id in hashed.ids]
    outside = 0
    rows = state.hashes.rows_of(r.id for r in usable)
    if taken_after is not None or taken_before is not None:
        taken = state.hashes.column("taken")[rows]
        inside = np.ones(len(usable), dtype=bool)
        if taken_after is not None:
            inside &= taken >= taken_after
        if taken_before is not None:
            inside &= taken < taken_before
        outside = len(usable) - int(inside.sum())
        usable = [r for r, keep in zip(usable, inside.tolist(), strict=True) if keep]
        rows = rows[inside]
        progress.message(f"{len(usable)} photos taken in the date range ({outside} outside it)")
    # Order by (capture time, id), in numpy: by id first, then a stable sort by time.
    by_id = sorted(range(len(usable)), key=[r.id for r in usable].__getitem__)
    rows = rows[by_id]
    order = np.argsort(state.hashes.column("taken")[rows], kind="stable")
    usable = [usable[by_id[i]] for i in order.tolist()]
    rows = rows[order]
    # Twins (RAW+JPEG, edits…): only one representative per shot is grouped; its twins follow it.
    twin_plan = TwinPlan.build(usable, hashed, pair_cover)
    if twin_plan:
        followers = twin_plan.followers()
        keep = np.fromiter((r.id not in followers for r in usable), dtype=bool, count=len(usable))
        usable = [r for r in usable if r.id not in followers]
        rows = rows[keep]
    times = state.hashes.column("taken")[rows].astype(np.float64)
    hashes = state.hashes.column("hash")[rows].astype(np.uint64)
    del rows, by_id, order
    # Forced links: the camera's burst ids (read once per photo, cached) and burst file names.
    taken_at = dict(zip((r.id for r in usable), times.tolist(), strict=True))
    bursts = camera_bursts.collect_burst_ids(source, usable, taken_at, state, should_stop, progress)
    bar = progress.bar("group", len(usable))
    min_size = 1 if twin_plan else min_group_size  # a twin set counts its twins (below)
    index_groups = group_indices(times, hashes, threshold, time_window, min_size=min_size,
                                 max_gap=max_gap or None)
    index_groups = camera_bursts.join_candidates(index_groups, usable, taken_at, bursts, min_size)
    if twin_plan:
        index_groups = twin_plan.candidates(index_groups, usable, min_group_size)
    bar.update(len(usable))
    bar.close()
    return Candidates(groups=[[usable[i] for i in c] for c in index_groups], taken=taken_at, burst_ids=bursts,
                      twins=twin_plan, outside_date_range=outside)
