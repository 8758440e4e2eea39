"""The README is read in five minutes and every page of docs/ is reachable from it (issue 20, point 6);
no link in them leads nowhere."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


def _links(path: Path) -> list[tuple[Path, str]]:
    out = []
    for target in LINK.findall(path.read_text()):
        if re.match(r"[a-z]+:", target):  # http(s), mailto
            continue
        file, _, anchor = target.partition("#")
        out.append(((path.parent / file).resolve() if file else path, anchor))
    return out


def test_the_readme_is_short():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250


def test_every_link_in_the_readme_and_docs_leads_somewhere():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for page in pages:
        for target, anchor in _links(page):
            assert target.exists(), f"{page.name}: link to missing {target}"
            if anchor and target.suffix == ".md":
                assert anchor in _anchors(target), f"{page.name}: no heading #{anchor} in {target.name}"


def test_every_docs_page_is_reachable_from_the_readme():
    seen, todo = set(), [REPO / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        todo += [t for t, _ in _links(page) if t.suffix == ".md" and t.exists()]
    unreachable = [p.name for p in (REPO / "docs").glob("*.md") if p.resolve() not in seen]
    assert not unreachable, f"docs pages no link leads to: {unreachable}"
