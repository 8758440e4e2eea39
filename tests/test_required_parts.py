"""Under CI (CI=true) no test skips for a missing part the CI machine has: it fails with one line
(issue 21). Outside CI the same test skips with that line. Each case runs pytest on an existing test
of the suite with one part taken away (required_parts.py decides for all of them)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cli_helpers import REPO

CASES = {
    # the fake Immich's OpenAPI spec
    "spec": ("tests/test_immich_pass.py::test_two_passes_over_one_scope_never_run_at_once",
             {"IMMICH_OPENAPI_SPEC": "/nonexistent/immich-openapi-specs.json"}, "Immich OpenAPI spec not found"),
    # the face models, for a marked test and for a module marked as a whole
    "models (mark)": ("tests/test_scoring.py", {"PHOTO_ORGANIZER_MODELS": "/nonexistent/models"},
                      "face models not fetched"),
    "models (module)": ("tests/test_model_store.py::test_every_model_is_present_with_its_sha256",
                        {"PHOTO_ORGANIZER_MODELS": "/nonexistent/models"}, "face models not fetched"),
    # the real Immich kit
    "kit": ("tests/test_immich_real.py::test_an_unknown_album_is_one_clear_error",
            {"IMMICH_REAL_KIT": "/nonexistent/immich-real"}, "real Immich kit not found"),
}


def _pytest(node: str, ci: bool, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_")}
    full |= env | {"PYTHONPATH": str(REPO)} | ({"CI": "true"} if ci else {})
    return subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-q", "-rs", "-p", "no:cacheprovider", node],
                          cwd=REPO, env=full, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("case", list(CASES))
def test_a_missing_part_fails_under_ci_and_skips_with_one_line_outside(case):
    node, env, line = CASES[case]
    ci = _pytest(node, ci=True, **env)
    out = ci.stdout + ci.stderr
    assert ci.returncode == 1, f"CI=true with the {case} missing must fail the run:\n{out[-2000:]}"
    assert " skipped" not in out.splitlines()[-1], out[-500:]
    assert f"{line}" in out and "under CI (CI=true) this part is required" in out, out[-2000:]
    assert "Traceback" not in out, "one line, not a traceback"
    local = _pytest(node, ci=False, **env)
    out = local.stdout + local.stderr
    assert local.returncode == 0 and " skipped" in out.splitlines()[-1], out[-2000:]
    assert line in out


def test_no_test_skips_by_itself_but_through_required_parts():
    """A new ``pytest.skip`` / ``skipif`` / ``importorskip`` in a test would skip silently under CI too.
    Allowed: in required_parts.py, or right after a line that checks CI (the fetch of a labelled set
    that re-raises its error under CI)."""
    from pathlib import Path

    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.name in ("required_parts.py", Path(__file__).name):
            continue
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines):
            if any(s in line for s in ("pytest.skip(", ".skipif(", "importorskip(")):
                if not any('"CI"' in before for before in lines[max(0, n - 3):n]):
                    offenders.append(f"{path.relative_to(REPO)}:{n + 1}: {line.strip()}")
    assert not offenders, "skip through required_parts.missing() (fails under CI):\n" + "\n".join(offenders)
