"""The guard list (tests/guards.toml) stays true to today's code: every break still applies (its text
is found exactly once) and every test it names exists. Whether each break makes its tests fail is
what ``scripts/check_breaks.py`` proves (minutes; not part of ``make test``)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("check_breaks", REPO / "scripts" / "check_breaks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GUARDS = _script().load_guards()


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_the_list_is_well_formed():
    names = [g["name"] for g in GUARDS]
    assert len(names) == len(set(names)), "guard names must be unique"
    for guard in GUARDS:
        assert set(guard) == {"name", "claim", "file", "old", "new", "tests"}, guard["name"]
        assert guard["claim"].strip() and guard["tests"], guard["name"]
        assert guard["old"] != guard["new"], guard["name"]


@pytest.mark.parametrize("guard", GUARDS, ids=[g["name"] for g in GUARDS])
def test_each_break_applies_to_todays_code_and_its_tests_exist(guard, tmp_path):
    target = REPO / guard["file"]
    assert target.is_file(), guard["file"]
    assert target.read_text().count(guard["old"]) == 1, \
        f"{guard['name']}: the break's text must occur exactly once in {guard['file']}: the code changed, so " \
        "update the guard's `old`/`new` in tests/guards.toml (and docs/test-breaks.md) to break it again"
    copy = tmp_path / guard["file"]
    copy.parent.mkdir(parents=True)
    copy.write_text(target.read_text())
    _script().apply_break(tmp_path, guard)
    broken = copy.read_text()
    assert guard["new"] in broken and broken != target.read_text()
    if copy.suffix == ".py":
        ast.parse(broken)  # the break is still Python: the tests fail on behaviour, not on a syntax error
    for node in guard["tests"]:
        path, _, name = node.partition("::")
        assert (REPO / path).is_file(), node
        assert name.split("[")[0] in _test_functions(REPO / path), f"{guard['name']}: no test {node}"


def test_a_break_whose_text_is_not_found_once_is_refused(tmp_path):
    (tmp_path / "m.py").write_text("x = 1\nx = 1\n")
    with pytest.raises(ValueError, match="2 times"):
        _script().apply_break(tmp_path, {"name": "twice", "file": "m.py", "old": "x = 1", "new": "x = 2"})
