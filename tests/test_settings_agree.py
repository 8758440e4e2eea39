"""`.env.example`, `--help` and the code give the same defaults (issue 20, point 1).

Following the README's `cp .env.example .env` must change nothing but the examples it is meant to be
edited for (the server's URL, secrets): THRESHOLD=10 there once split a 4-frame burst in two while the
code's default was 18. So the settings resolved from the example must equal those resolved from an
empty environment, for the pass (organizer.settings), the service (service.config) and gunicorn; and
every "($VAR, default X)" in `--help` must say the code's value.

Since then every setting is one row of organizer/settings_table.py, and `.env.example`, the reference
table in docs/settings.md and the setting flags of `--help` are generated from it (`make settings-docs`);
the tests at the end fail when any of them, or a default in the code, differs from the table.
"""

from __future__ import annotations

import dataclasses
import difflib
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


# ------------------------------------------------------------------- the one table (issue 20, item 1)
# organizer/settings_table.py is the only place a setting's default, range and help are written;
# `.env.example`, the reference table of docs/settings.md and `--help` are made from it, and the code's
# defaults (pass, service, gunicorn) read it. Each test below fails when one of them drifts.

def _first_difference(want: str, have: str, what: str) -> str:
    """An assertion message: the first lines that differ, and how to fix it."""
    diff = [line for line in difflib.unified_diff(want.splitlines(), have.splitlines(), "table", what,
                                                  lineterm="", n=0)][2:8]
    return f"{what} differs from organizer/settings_table.py (run `make settings-docs`):\n" + "\n".join(diff)


def _example_problems(text: str) -> list[str]:
    """Variables whose value in an `.env.example` text is not the table's (its default or its example)."""
    from organizer.settings_table import SETTINGS

    values = dict(re.findall(r"^(?:# )?([A-Z_][A-Z0-9_]*)=(.*)$", text, flags=re.M))
    return [s.name for s in SETTINGS
            if values.get(s.name) != (s.example if s.example is not None else s.text())]


def test_env_example_is_generated_from_the_table():
    from organizer.settings_docs import env_example

    have = (REPO / ".env.example").read_text()
    assert not _example_problems(have), f".env.example has other values than the table: {_example_problems(have)}"
    assert have == env_example(), _first_difference(env_example(), have, ".env.example")


def test_the_generator_s_check_says_the_files_are_up_to_date(capsys):
    from organizer.settings_docs import main

    assert main(["--check"]) == 0, capsys.readouterr().err


def test_a_value_edited_by_hand_in_the_example_is_caught():
    """The check above on a scratch copy of `.env.example` whose THRESHOLD was edited to 10."""
    from organizer.settings_docs import env_example
    from organizer.settings_table import setting

    other = 10 if setting("THRESHOLD").default != 10 else 12
    edited = env_example().replace(f"\nTHRESHOLD={setting('THRESHOLD').text()}\n", f"\nTHRESHOLD={other}\n")
    assert edited != env_example()
    assert _example_problems(edited) == ["THRESHOLD"]


def test_the_settings_reference_in_docs_is_generated_from_the_table():
    from organizer.settings_docs import BEGIN, DOC, END, with_table

    have = DOC.read_text()
    assert have.count(BEGIN) == 1 and have.count(END) == 1, "docs/settings.md lost its generated-table markers"
    assert have == with_table(have), _first_difference(with_table(have), have, "docs/settings.md")
    from organizer.settings_table import SETTINGS

    rows = have.split(BEGIN)[1].split(END)[0].strip().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [s.name for s in SETTINGS]  # one row per setting, in order


def _help(monkeypatch) -> str:
    from batch.cli import build_parser

    monkeypatch.setenv("COLUMNS", "2000")  # no wrapping, so "photo-organizer" is never cut at its hyphen
    return " ".join(build_parser().format_help().split())


def test_help_shows_each_setting_flag_with_the_table_s_default_and_range(monkeypatch):
    from organizer.settings_table import SETTINGS

    text, example = _help(monkeypatch), _example()
    for s in (s for s in SETTINGS if s.flags):
        assert all(f in text for f in s.flags), s.flags
        if s.switch is not None:
            said = re.search(rf"\${s.name}=(\S+) for this run; default (\S+)\)", text)
            assert said and said.groups() == (s.text(s.switch), s.text()), (s.name, said and said.groups())
        elif s.text():
            said = re.search(rf"\(\${s.name}, default ([^)]+)\)", text)
            assert said and said.group(1) == s.text(), (s.name, said and said.group(1), s.text())
        else:
            assert f"(${s.name})" in text, s.name
        if s.example is None and s.text():
            assert said.group(said.lastindex) == example[s.name], (s.name, "--help and .env.example disagree")
        if s.kind in ("int", "float") and s.compact():
            assert f"; {s.compact()} (${s.name}" in text, (s.name, s.compact())


def test_setting_flags_are_unset_unless_given_and_checked_like_their_variable(capsys):
    from batch.cli import build_parser
    from organizer.settings_table import SETTINGS

    parser = build_parser()
    args = vars(parser.parse_args([]))
    for s in (s for s in SETTINGS if s.flags):
        dest = s.flags[-1].lstrip("-").replace("-", "_")
        assert args[dest] in (None, False), (dest, args[dest])  # a flag not given never hides a variable
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["-t", "65"])
    assert stop.value.code == 2
    assert "argument -t/--threshold: '65' is not a Hamming distance (a whole number between 0 and 64)" \
        in capsys.readouterr().err


def test_a_bad_variable_stops_the_command_with_one_line_naming_it(monkeypatch, tmp_path, capsys):
    from batch.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHOTO_ORGANIZER_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("THRESHOLD", "abc")
    assert main(["--show-settings"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: THRESHOLD='abc': 'abc' is not a Hamming distance (a whole number between 0 and 64)"]
    monkeypatch.setenv("THRESHOLD", "12")
    monkeypatch.setenv("ACTION_STACK", "maybe")
    assert main(["--show-settings"]) == 2
    assert "ACTION_STACK='maybe'" in capsys.readouterr().err


def test_the_code_s_defaults_are_the_table_s():
    from organizer.pipeline import PassSettings
    from organizer.settings import (
        ACTION_VARIABLES,
        GROUPING_VARIABLES,
        IMMICH_VARIABLES,
        ActionFlags,
        ImmichSettings,
        resolve_settings,
    )
    from organizer.settings_table import BY_NAME, default
    from service.config import FIELDS, ServiceConfig

    def field_defaults(cls: type) -> dict[str, object]:
        return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}

    for cls, variables in ((ImmichSettings, IMMICH_VARIABLES), (ActionFlags, ACTION_VARIABLES),
                           (ServiceConfig, FIELDS), (PassSettings, GROUPING_VARIABLES)):
        defaults = field_defaults(cls)
        for attr, name in variables.items():
            assert name in BY_NAME, name
            if attr in defaults and not (cls is ActionFlags and BY_NAME[name].kind == "bool"):
                assert defaults[attr] == default(name), (cls.__name__, attr, defaults[attr], default(name))
    resolved = resolve_settings(env={})
    assert {a: getattr(resolved, a) for a in IMMICH_VARIABLES} == {a: default(n) for a, n in IMMICH_VARIABLES.items()}
    assert {a: getattr(resolved.actions, a) for a in ACTION_VARIABLES} == \
        {a: default(n) for a, n in ACTION_VARIABLES.items()}
    config = ServiceConfig.from_env({})
    assert {a: getattr(config, a) for a in FIELDS} == {a: default(n) for a, n in FIELDS.items()}
    from organizer import pipeline
    from organizer.camera import burst_ids, twins
    from organizer.settings_table import setting

    assert (pipeline.DEFAULT_THRESHOLD, pipeline.DEFAULT_TIME_WINDOW) == (default("THRESHOLD"), default("TIME_WINDOW"))
    assert (twins.DEFAULT_PAIR_COVER, twins.PAIR_COVERS) == (default("PAIR_COVER"), setting("PAIR_COVER").choices)
    assert (burst_ids.DEFAULT_BURST_COVER, burst_ids.BURST_COVERS) == (default("BURST_COVER"),
                                                                       setting("BURST_COVER").choices)
    import inspect

    from service.install_webhook import install_webhook

    assert inspect.signature(install_webhook).parameters["header_name"].default == default("WEBHOOK_HEADER")


def test_gunicorn_s_settings_are_the_table_s(monkeypatch):
    from organizer.settings_table import default

    for name in ("BIND", "WEB_WORKERS", "WEB_THREADS", "WEB_TIMEOUT", "GRACEFUL_TIMEOUT", "ACCESS_LOG", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PHOTO_ORGANIZER_ENV_FILE", "/nonexistent")
    conf = runpy.run_path(str(REPO / "service" / "gunicorn.conf.py"))
    assert (conf["bind"], conf["workers"], conf["threads"], conf["timeout"], conf["graceful_timeout"],
            conf["accesslog"], conf["loglevel"]) == (
        default("BIND"), default("WEB_WORKERS"), default("WEB_THREADS"), default("WEB_TIMEOUT"),
        default("GRACEFUL_TIMEOUT"), default("ACCESS_LOG"), default("LOG_LEVEL"))


#: Read from the environment but not settings of the product (set by the system or by tests).
NOT_SETTINGS = {"HOME", "PATH", "COLUMNS", "PYTEST_XDIST_WORKER"}


def test_every_variable_the_code_reads_is_in_the_table():
    from organizer.settings_table import BY_NAME

    pattern = re.compile(r"""(?:environ|env)(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']|"""
                         r"""\b(?:read|default|getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']""")
    unknown = {}
    for folder in ("batch", "service", "organizer"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for match in pattern.finditer(path.read_text()):
                name = match.group(1) or match.group(2)
                if name not in BY_NAME and name not in NOT_SETTINGS:
                    unknown.setdefault(name, str(path.relative_to(REPO)))
    assert not unknown, f"variables read by the code but missing from organizer/settings_table.py: {unknown}"


def _mentions_of_defaults(text: str) -> list[tuple[str, str, str]]:
    """(setting, default said, line) for each "NAME … default X" or "--flag … default X" in prose."""
    from organizer.settings_table import SETTINGS

    found = []
    for s in SETTINGS:
        names = [re.escape(s.name)] + [re.escape(f) + r"\b" for f in s.flags if f.startswith("--")]
        pattern = re.compile(rf"(?<![\w-])(?:{'|'.join(names)})(?P<gap>[^\n]{{0,80}}?)\bdefault:?\s+"
                             r"(?:`(?P<code>[^`\n]+)`|(?P<value>[^\s,;)`]+))")
        for match in pattern.finditer(text):
            others = [o.name for o in SETTINGS if o is not s and re.search(rf"\b{o.name}\b", match["gap"])]
            if not others:  # the default said belongs to this setting, not to one named after it
                end = text.find("\n", match.end())
                line = text[text.rfind("\n", 0, match.start()) + 1:end if end >= 0 else len(text)]
                found.append((s.name, match["code"] or match["value"], line.strip()))
    return found


def test_docs_pages_say_the_table_s_defaults():
    """Hand-written pages may repeat a default (docs/local.md's flag table, docs/scale.md…): it must be the
    table's. The generated reference in docs/settings.md is checked above."""
    from organizer.settings_docs import BEGIN, END
    from organizer.settings_table import BY_NAME

    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    wrong, seen = [], 0
    for page in pages:
        text = page.read_text()
        if BEGIN in text:
            text = text.split(BEGIN)[0] + text.split(END)[1]
        for name, said, line in _mentions_of_defaults(text):
            seen += 1
            if said.removeprefix("./").rstrip("/") != BY_NAME[name].text():
                wrong.append(f"{page.name}: {name} default {said!r}, table {BY_NAME[name].text()!r}: {line}")
    assert not wrong, "\n".join(wrong)
    assert seen >= 5, seen  # the pattern still finds the defaults the pages give


def test_a_wrong_default_in_prose_is_caught():
    assert _mentions_of_defaults("| `-t/--threshold N` | max distance, 0–64 (default 10, see below) |") == [
        ("THRESHOLD", "10", "| `-t/--threshold N` | max distance, 0–64 (default 10, see below) |")]
    assert _mentions_of_defaults("`DOWNLOAD_CONCURRENCY`, default 8; `WEB_THREADS` (default 3)") == [
        ("DOWNLOAD_CONCURRENCY", "8", "`DOWNLOAD_CONCURRENCY`, default 8; `WEB_THREADS` (default 3)"),
        ("WEB_THREADS", "3", "`DOWNLOAD_CONCURRENCY`, default 8; `WEB_THREADS` (default 3)")]


def test_show_settings_lists_every_setting_a_pass_reads_once_and_never_the_key_itself(monkeypatch):
    from organizer.settings import ACTION_VARIABLES, describe_settings, resolve_settings
    from organizer.settings_table import SETTINGS

    monkeypatch.setenv("IMMICH_API_KEY", "secret-key-123")
    monkeypatch.setenv("WRITE_OVERLAP", "3")
    monkeypatch.delenv("FACES_WITHOUT_DETECTOR", raising=False)
    rows = describe_settings(resolve_settings({}), set())
    names = [name for name, _, _ in rows]
    switches = {ACTION_VARIABLES[k] for k in ("tag", "albums", "favorite_best", "archive_non_best", "stack")}
    read_by_a_pass = {s.name for s in SETTINGS if {"local", "immich"} & set(s.used_by)}
    assert len(names) == len(set(names))
    assert set(names) == read_by_a_pass - switches | {"ACTION_*"}  # the switches shown as one line
    shown = {name: (value, origin) for name, value, origin in rows}
    assert shown["IMMICH_API_KEY"] == ("(set)", "environment")
    assert "secret-key-123" not in repr(rows)
    assert shown["WRITE_OVERLAP"] == (3, "environment")
    assert shown["FACES_WITHOUT_DETECTOR"] == (False, "default")
