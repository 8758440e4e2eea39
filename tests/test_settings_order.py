"""One order of settings everywhere: defaults < .env < real environment < flags the user gave.

Each grouping setting (THRESHOLD, TIME_WINDOW, MIN_GROUP_SIZE) and the names TAG_PARENT and
ALBUM_PREFIX is checked at every layer, for the command line (local and Immich), a Make target and
the service's configuration. The values differ per layer, so a wrong order shows which layer won.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_helpers import REPO, load_report
from photo_factory import save_jpeg, scene, variant

from organizer.pipeline import DEFAULT_THRESHOLD

SETTINGS = ("THRESHOLD", "TIME_WINDOW", "MIN_GROUP_SIZE", "TAG_PARENT", "ALBUM_PREFIX")
DEFAULTS = {"THRESHOLD": str(DEFAULT_THRESHOLD), "TIME_WINDOW": "300.0", "MIN_GROUP_SIZE": "2", "TAG_PARENT": "photo-organizer",
            "ALBUM_PREFIX": "Burst"}
ENV_FILE = {"THRESHOLD": "7", "TIME_WINDOW": "100", "MIN_GROUP_SIZE": "3", "TAG_PARENT": "from-file",
            "ALBUM_PREFIX": "FileBurst"}
ENVIRONMENT = {"THRESHOLD": "8", "TIME_WINDOW": "50", "MIN_GROUP_SIZE": "4", "TAG_PARENT": "from-env",
               "ALBUM_PREFIX": "EnvBurst"}
FLAGS = {"THRESHOLD": ("-t", "9"), "TIME_WINDOW": ("--time-window", "20"), "MIN_GROUP_SIZE": ("--min-group-size", "5"),
         "TAG_PARENT": ("--tag-parent", "from-flag"), "ALBUM_PREFIX": ("--album-prefix", "FlagBurst")}


def _clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any setting this test varies (and without .env redirects)."""
    env = {k: v for k, v in os.environ.items()
           if k not in SETTINGS and not k.startswith(("ACTION_", "MAKE", "MFLAGS")) and k != "PHOTO_ORGANIZER_ENV_FILE"}
    env |= {"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"} | extra
    return env


def _write_env_file(folder: Path, values: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def _shown(stdout: str) -> dict[str, tuple[str, str]]:
    """`--show-settings` lines 'NAME=value<TAB>(origin)' -> {NAME: (value, origin)}."""
    out = {}
    for line in stdout.splitlines():
        if "=" in line and "\t(" in line:
            name, rest = line.split("=", 1)
            value, origin = rest.rsplit("\t(", 1)
            out[name] = (value, origin.rstrip(")"))
    return out


def _normal(name: str, value: str) -> str:
    return str(float(value)) if name == "TIME_WINDOW" else value


@pytest.mark.parametrize("layers", ["defaults", ".env", "environment", "flags"])
def test_the_cli_takes_each_setting_from_the_highest_layer_given(tmp_path, layers):
    """Runs the real command in a folder holding a .env; each layer adds on top of the ones below."""
    env = _clean_env()
    args = [sys.executable, "-m", "batch", "--show-settings"]
    expected = dict(DEFAULTS)
    origin = "default"
    if layers in (".env", "environment", "flags"):
        _write_env_file(tmp_path, ENV_FILE)
        expected, origin = dict(ENV_FILE), ".env"
    if layers in ("environment", "flags"):
        env |= ENVIRONMENT
        expected, origin = dict(ENVIRONMENT), "environment"
    if layers == "flags":
        for flag, value in FLAGS.values():
            args += [flag, value]
        expected, origin = {k: v for k, (_, v) in FLAGS.items()}, "flag"
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    shown = _shown(proc.stdout)
    for name in SETTINGS:
        assert shown[name] == (_normal(name, expected[name]), origin), (name, proc.stdout)


def test_an_action_flag_does_not_reset_the_names_from_env(tmp_path):
    """--stack (or any action flag) replaces the ACTION_* set, not TAG_PARENT/ALBUM_PREFIX."""
    _write_env_file(tmp_path, ENV_FILE | {"ACTION_TAG": "1", "ACTION_STACK": "1"})
    proc = subprocess.run([sys.executable, "-m", "batch", "--show-settings", "--create-albums"], cwd=tmp_path,
                          env=_clean_env(ALBUM_PREFIX="EnvBurst"), capture_output=True, text=True, timeout=60)
    shown = _shown(proc.stdout)
    assert shown["ACTION_*"] == ("albums", "flag")
    assert shown["TAG_PARENT"] == ("from-file", ".env") and shown["ALBUM_PREFIX"] == ("EnvBurst", "environment")


def test_a_bad_value_is_one_clear_line_naming_the_variable(tmp_path):
    _write_env_file(tmp_path, {"TIME_WINDOW": "soon"})
    proc = subprocess.run([sys.executable, "-m", "batch", "--show-settings"], cwd=tmp_path, env=_clean_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: TIME_WINDOW='soon': 'soon' is not a number of seconds "
                                                "(0 or more)"]


# ------------------------------------------------------------------------------------- Make
def _make(folder: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The repository's Makefile run from ``folder`` (which holds the .env), with this checkout's venv."""
    return subprocess.run(["make", "--no-print-directory", "-f", str(REPO / "Makefile"), "-o", "setup",
                           f"VENV={REPO / '.venv'}", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


def _tiny_library(root: Path) -> None:
    """Three shots 55 s apart (one group of three only when TIME_WINDOW >= 110) and one far-away single."""
    base = scene(77, (320, 240))
    save_jpeg(base, root / "a.jpg", datetime(2024, 7, 14, 9, 0, 0))
    save_jpeg(variant(base, 1, 0.5), root / "b.jpg", datetime(2024, 7, 14, 9, 0, 55))
    save_jpeg(variant(base, 2, 0.5), root / "c.jpg", datetime(2024, 7, 14, 9, 1, 50))
    save_jpeg(scene(78, (320, 240)), root / "d.jpg", datetime(2024, 8, 1, 12, 0, 0))


def test_make_targets_do_not_let_env_beat_the_environment(tmp_path):
    """`make settings` and a real `make organize-local` in a folder whose .env says otherwise."""
    work = tmp_path / "work"
    _write_env_file(work, ENV_FILE)
    env = _clean_env(THRESHOLD=ENVIRONMENT["THRESHOLD"], TAG_PARENT=ENVIRONMENT["TAG_PARENT"])
    proc = _make(work, "settings", env=env)
    assert proc.returncode == 0, proc.stderr
    shown = _shown(proc.stdout)
    assert shown["THRESHOLD"] == ("8", "environment") and shown["TAG_PARENT"] == ("from-env", "environment")
    assert shown["TIME_WINDOW"] == ("100.0", ".env") and shown["ALBUM_PREFIX"] == ("FileBurst", ".env")
    # A variable on make's command line is the environment of the command (above .env, below flags).
    shown = _shown(_make(work, "settings", "MIN_GROUP_SIZE=4", env=env).stdout)
    assert shown["MIN_GROUP_SIZE"] == ("4", "environment")

    _tiny_library(tmp_path / "photos")
    out = tmp_path / "out"
    proc = _make(work, "organize-local", f"SOURCE={tmp_path / 'photos'}", f"OUTPUT={out}", "MIN_GROUP_SIZE=2",
                 "SINCE=2024-07-01", "UNTIL=2024-07-31", env=env | {"TIME_WINDOW": "250"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = load_report(out / "reports" / "latest.json")
    s = report["settings"]
    assert (s["threshold"], s["time_window"], s["min_group_size"]) == (8, 250.0, 2)
    assert [sorted(p["id"] for p in g["photos"]) for g in report["groups"]] == [["a.jpg", "b.jpg", "c.jpg"]]
    assert report["summary"]["outside_date_range"] == 1, "SINCE/UNTIL reach the command"


# ----------------------------------------------------------------------------------- service
def test_the_service_config_follows_the_same_order(tmp_path):
    """The service's start-up path (create_app loads .env, then ServiceConfig) in a fresh process."""
    _write_env_file(tmp_path, ENV_FILE)
    code = ("import json, os; from service.app import create_app; "
            "from service.config import ServiceConfig; from organizer.settings import load_env_file; "
            "app = create_app(); c = app.extensions['photo_organizer'].config.immich; "
            "print(json.dumps({'THRESHOLD': c.threshold, 'TIME_WINDOW': c.time_window, "
            "'MIN_GROUP_SIZE': c.min_group_size, 'TAG_PARENT': c.actions.tag_parent, "
            "'ALBUM_PREFIX': c.actions.album_prefix}), flush=True); os._exit(0)")
    env = _clean_env(STATE_DIR=str(tmp_path / "state"), NIGHTLY_CRON="", FULL_CRON="",
                     MIN_GROUP_SIZE=ENVIRONMENT["MIN_GROUP_SIZE"], ALBUM_PREFIX=ENVIRONMENT["ALBUM_PREFIX"])
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"THRESHOLD": 7, "TIME_WINDOW": 100.0, "MIN_GROUP_SIZE": 4, "TAG_PARENT": "from-file",
                   "ALBUM_PREFIX": "EnvBurst"}


# ------------------------------------------------------------------------------------ Immich
def test_an_immich_pass_acts_with_the_resolved_names_and_grouping(immich_target, tmp_path):
    """A real pass with action flags: the tags and albums it makes carry TAG_PARENT/ALBUM_PREFIX from .env
    and the environment (an action flag used to reset them to the defaults)."""
    base = scene(91, (320, 240))
    t0 = datetime(2024, 7, 14, 9, 0, tzinfo=UTC)
    for k in range(2):
        immich_target.upload(variant(base, k, 0.0 if k == 0 else 2.0), f"SET_{k}.jpg", t0.replace(second=2 * k))
    _write_env_file(tmp_path, ENV_FILE | {"MIN_GROUP_SIZE": "3"})
    env = _clean_env(IMMICH_URL=immich_target.url, IMMICH_API_KEY=immich_target.api_key,
                     STATE_DIR=str(tmp_path / "state"), MIN_GROUP_SIZE="2", ALBUM_PREFIX="EnvBurst")
    proc = subprocess.run([sys.executable, "-m", "batch", "--source-type", "immich", "--tag-only", "--create-albums",
                           "--no-progress"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = load_report(tmp_path / "state" / "reports" / "library-latest.json")
    assert (report["settings"]["threshold"], report["settings"]["min_group_size"]) == (7, 2)
    assert report["summary"]["groups"] == 1
    client = immich_target.client()
    tags = {t.value for t in client.tags.list()}
    assert "from-file/best" in tags and not any(v.startswith("photo-organizer") for v in tags), tags
    albums = [a.name for a in client.albums.list()]
    assert albums and all(name.startswith("EnvBurst ") for name in albums), albums


def test_burst_id_reads_follow_the_settings_order(tmp_path):
    """BURST_ID_READS: on by default, off from .env, on again from the environment, off by the flag."""
    def shown(env: dict[str, str], *flags: str) -> tuple[str, str]:
        proc = subprocess.run([sys.executable, "-m", "batch", "--show-settings", *flags], cwd=tmp_path,
                              env=_clean_env(**env), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return _shown(proc.stdout)["BURST_ID_READS"]

    assert shown({}) == ("True", "default")
    _write_env_file(tmp_path, {"BURST_ID_READS": "0"})
    assert shown({}) == ("False", ".env")
    assert shown({"BURST_ID_READS": "1"}) == ("True", "environment")
    assert shown({"BURST_ID_READS": "1"}, "--no-burst-id-reads") == ("False", "flag")


@pytest.mark.parametrize("name,text", [("IMMICH_MAX_REQUESTS_PER_SECOND", "abc"), ("DOWNLOAD_CONCURRENCY", "2.5"),
                                       ("IMMICH_READ_TIMEOUT_SECONDS", "-1"), ("IMMICH_MAX_RETRY_SECONDS", "nan")])
def test_a_bad_number_setting_is_one_line_naming_it(name, text):
    from organizer.settings import ImmichSettings, SettingsError

    with pytest.raises(SettingsError, match=f"^{name}="):
        ImmichSettings.from_env({"IMMICH_URL": "http://x", "IMMICH_API_KEY": "k", name: text})
    assert ImmichSettings.from_env({name: "7"}) is not None
