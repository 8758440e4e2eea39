"""The shape of the code that the guide asks for and that no behaviour test would notice breaking."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    """Modules a file imports at any depth (relative imports resolved inside its package)."""
    out: set[str] = set()
    package = path.parent.name
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = f"{package}.{node.module or ''}".rstrip(".") if node.level else (node.module or "")
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_batch_has_no_import_circle():
    """cli dispatches to immich_cli and commands; they share batch.common and never import cli."""
    graph = {p.stem: {m.split(".")[1] for m in _imports(p) if m.startswith("batch.") and len(m.split(".")) > 1}
             for p in (REPO / "batch").glob("*.py")}
    for module, deps in graph.items():
        for dep in deps:
            assert module not in graph.get(dep, set()), f"batch.{module} and batch.{dep} import each other"
    assert "cli" not in graph["immich_cli"] and "cli" not in graph["commands"]
    assert graph["common"] <= set(), graph["common"]
