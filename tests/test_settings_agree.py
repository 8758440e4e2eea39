"""`.env.example`, `--help` and the code give the same defaults (issue 20, point 1).

Following the README's `cp .env.example .env` must change nothing but the examples it is meant to be
edited for (the server's URL, secrets): THRESHOLD=10 there once split a 4-frame burst in two while the
code's default was 18. So the settings resolved from the example must equal those resolved from an
empty environment, for the pass (organizer.settings), the service (service.config) and gunicorn; and
every "($VAR, default X)" in `--help` must say the code's value.
"""

from __future__ import annotations

import dataclasses
import os
import re
import runpy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: Variables whose value in the example is an example to edit, not the default.
EXAMPLES = {"IMMICH_URL", "WEBHOOK_PUBLIC_URL"}


def _example() -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", (REPO / ".env.example").read_text(), flags=re.M))


def _fields(obj: object) -> dict[str, object]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]


def test_the_example_resolves_to_the_pass_s_defaults():
    from organizer.settings import resolve_settings

    example = {k: v for k, v in _example().items() if k not in EXAMPLES}
    got, default = _fields(resolve_settings(env=example)), _fields(resolve_settings(env={}))
    differ = {k: (got[k], default[k]) for k in got if got[k] != default[k] and k != "processes"}
    assert not differ, f".env.example changes these defaults (example, code): {differ}"


def test_the_example_resolves_to_the_service_s_defaults():
    from service.config import ServiceConfig

    example = {k: v for k, v in _example().items() if k not in EXAMPLES}
    got, default = _fields(ServiceConfig.from_env(example)), _fields(ServiceConfig.from_env({}))
    differ = {k: (got[k], default[k]) for k in got if got[k] != default[k] and k != "immich"}
    assert not differ, f".env.example changes these service defaults (example, code): {differ}"


def test_the_example_resolves_to_gunicorn_s_defaults(monkeypatch):
    def conf(env: dict[str, str]) -> dict[str, object]:
        for name in list(os.environ):
            if name in _example():
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PHOTO_ORGANIZER_ENV_FILE", "/nonexistent")
        values = runpy.run_path(str(REPO / "service" / "gunicorn.conf.py"))
        return {k: v for k, v in values.items() if k in ("bind", "workers", "threads", "timeout",
                                                         "graceful_timeout", "accesslog", "loglevel")}

    example = {k: v for k, v in _example().items() if k not in EXAMPLES}
    assert conf(example) == conf({})


def test_help_says_the_code_s_defaults():
    from batch.cli import build_parser
    from organizer.settings import resolve_settings

    resolved = resolve_settings(env={})
    defaults = _fields(resolved) | _fields(resolved.actions)  # ALBUM_PREFIX, TAG_PARENT live in actions
    example = _example()
    said = re.findall(r"\(\$([A-Z_]+), default ([^)\s]+)\)", " ".join(build_parser().format_help().split()))
    assert len(said) >= 5, said
    def same(a: object, b: str) -> bool:
        try:
            return float(str(a)) == float(b)
        except ValueError:
            return str(a) == b

    for var, value in said:
        value = value.strip("'\"")
        field = var.lower()
        assert field in defaults, var
        assert same(defaults[field], value), (var, defaults[field], value)
        assert same(example[var], value), (var, example[var], value)


@pytest.mark.parametrize("var", ["THRESHOLD", "TIME_WINDOW", "MIN_GROUP_SIZE", "PAIR_COVER", "BURST_COVER"])
def test_the_settings_reference_lists_each_grouping_setting(var):
    assert var in (REPO / "docs" / "settings.md").read_text() + (REPO / "docs" / "local.md").read_text()
