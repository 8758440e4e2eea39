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


#: organizer's rooms, lowest first: a module may import its own room and the rooms below it, never
#: one above (data flows one way: discover -> hash -> group -> verify -> score -> act -> report).
#: The last row drives passes (the local and Immich runs, the review gate's decisions): it sits
#: above the pass it starts. The longest matching prefix decides a module's row.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("organizer.models", "organizer.imaging", "organizer.progress", "organizer.model_store", "organizer.store",
     "organizer.settings_table"),  # the table imports nothing of organizer: any room may read a default
    ("organizer.camera",),
    ("organizer.candidates",),
    ("organizer.settings", "organizer.settings_docs"),
    ("organizer.judging",),
    ("organizer.report",),
    ("organizer.local", "organizer.immich"),
    ("organizer.pipeline",),
    ("organizer.local.run", "organizer.immich.run", "organizer.immich.decisions", "organizer.immich.review"),
)


def _layer(module: str) -> int | None:
    """The row of the longest room prefix that holds ``module`` (None: not organizer's)."""
    best: tuple[int, int] | None = None
    for i, rooms in enumerate(LAYERS):
        for r in rooms:
            if (module == r or module.startswith(r + ".")) and (best is None or len(r) > best[0]):
                best = (len(r), i)
    return None if best is None else best[1]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def _as_module(name: str) -> str:
    """``organizer.x.y.Name`` -> ``organizer.x.y`` when only the module is a file."""
    while name.count(".") and not ((REPO / name.replace(".", "/")).with_suffix(".py").exists()
                                   or (REPO / name.replace(".", "/")).is_dir()):
        name = name.rsplit(".", 1)[0]
    return name


def upward_imports() -> set[tuple[str, str]]:
    """(importer, imported) pairs of organizer modules where the imported one lies in a higher row."""
    out = set()
    for path in (REPO / "organizer").rglob("*.py"):
        me = _module_name(path)
        if me == "organizer" or (path.name == "__init__.py" and me.count(".") == 1):
            continue  # a room's own docstring
        mine = _layer(me)
        assert mine is not None, f"{me} is in no room of LAYERS: add it to one"
        for dep in _imports(path):
            dep = _as_module(dep)
            theirs = _layer(dep)
            if theirs is not None and theirs > mine:
                out.add((me, dep))
    return out


def test_organizer_is_in_rooms_named_after_the_stages():
    flat = sorted(p.name for p in (REPO / "organizer").glob("*.py") if p.name != "__init__.py")
    assert len(flat) <= 8, f"organizer/ holds {len(flat)} loose modules: {flat}"
    for room in ("store", "camera", "candidates", "judging", "local", "report", "immich"):
        doc = ast.get_docstring(ast.parse((REPO / "organizer" / room / "__init__.py").read_text()))
        assert doc and len(doc) > 80, f"organizer/{room}/__init__.py must say what enters and what leaves"


def test_nothing_in_organizer_imports_upward():
    assert upward_imports() == set()
