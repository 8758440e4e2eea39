"""One local-folder pass: the pipeline plus what only local folders need around it.

Around :func:`organizer.pipeline.run_pass` this adds the hash cache that outlives completed runs
(organizer.local.hash_cache, which also keeps the camera burst ids read from the files) — the resume state is removed on completion, as the resume specification
says, and must not be the only place hashes live. Kept out of the pipeline so the pipeline stays
the same for Immich scopes, which keep their own index.
"""

from __future__ import annotations

import logging
from pathlib import Path

from organizer.camera import burst_ids as camera_bursts
from organizer.judging.taste import TasteStore, describe, local_taste_path
from organizer.local.hash_cache import CACHE_NAME, HashCache
from organizer.local.output import LocalOutput
from organizer.local.sources import LocalSource
from organizer.pipeline import PassResult, PassSettings, run_pass
from organizer.progress import Progress, StopToken
from organizer.store.state import ProcessingState

log = logging.getLogger(__name__)


def run_local_pass(source: LocalSource, output: Path, settings: PassSettings, state_file: Path,
                   progress: Progress, stop: StopToken | None = None,
                   cache_path: Path | None = None) -> PassResult:
    """Organize ``source`` into ``output``; raises like run_pass (PassInterrupted, OSError…).

    The cache is read before the pass and written after it, whether the pass completed or was
    interrupted (a SIGKILL skips this; the resume state covers that case). A dry run only reads it.
    """
    cache = HashCache(cache_path or output / CACHE_NAME)
    warning = cache.load()
    if warning:
        log.warning("%s", warning)
        progress.message(f"Warning: {warning}")
    opened: list[ProcessingState] = []

    def prepare(state: ProcessingState) -> None:
        opened.append(state)
        # burst ids first: seeding the hashes moves the cache's entries into the pass's table
        cache.seed_bursts(state.extra.setdefault(camera_bursts.CACHE_KEY, {}), source.root)
        if cache.seed(state.hashes, source.root):
            progress.message(f"Hash cache: {cache.loaded} photos known from earlier runs")

    actions = LocalOutput(output, dry_run=settings.dry_run, reuse=True)
    taste_store = TasteStore(local_taste_path(output))
    actions.taste = taste_store.ranker()  # the output folder's learned taste (photo-organizer taste --choose)
    try:
        result = run_pass(source, actions, settings, state_file, progress, stop, prepare=prepare)
        if taste_store.path.exists():
            result.report["taste"] = describe(taste_store)
        return result
    finally:
        if opened and not settings.dry_run and source.discovered is not None:
            try:
                cache.update(opened[0].hashes, source.discovered, source.root)
                cache.update_bursts(opened[0].extra.get(camera_bursts.CACHE_KEY) or {}, source.root)
                cache.save()
            except OSError as exc:  # the organized output matters more than a faster next run
                log.warning("Could not write the hash cache %s: %s", cache.path, exc.strerror or exc)
