"""With overlapped writes, "left alone: undone" names the group it is about (issue 19, WRITE_OVERLAP).

A group's writes may end after later groups' "Processing group" lines were printed; the line that
says an undo holds the group back must name that group's own number, not the last one printed.
"""

from __future__ import annotations

from types import SimpleNamespace

from organizer.immich.run import _UndoneSaid


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def message(self, text: str) -> None:
        self.lines.append(text)


class _Record:
    """Every group was undone by run R1 (the record's 'declined' answer for an undone group)."""

    def declined(self, key: str) -> dict[str, str]:
        return {"reason": "undone", "run_id": "R1"}


def test_the_undone_line_names_the_group_whose_writes_ended_not_the_last_printed():
    lines = _Lines()
    said = _UndoneSaid(lines, SimpleNamespace(on_left_alone=None, left_alone=None), _Record())  # type: ignore[arg-type]
    said.message("Processing group 3/9 (4 photos)...")
    said.message("Processing group 4/9 (3 photos)...")  # group 4 submitted while 3's writes are in flight
    said.applied(["a", "b", "c", "d"], 3)
    said.applied(["e", "f", "g"], 4)
    assert lines.lines[-2:] == ["Group 3/9 left alone: undone (redo R1 to apply)",
                                "Group 4/9 left alone: undone (redo R1 to apply)"]


def test_one_group_at_a_time_still_names_the_group_being_processed():
    lines = _Lines()
    said = _UndoneSaid(lines, SimpleNamespace(on_left_alone=None, left_alone=None), _Record())  # type: ignore[arg-type]
    said.message("Processing group 1/2 (2 photos)...")
    said.applied(["a", "b"])  # no number given: the group just printed
    assert lines.lines[-1] == "Group 1/2 left alone: undone (redo R1 to apply)"
    for n in range(2, 200):  # the numbers kept stay few on a long pass
        said.message(f"Processing group {n}/200 (2 photos)...")
    assert len(said.labels) <= 64
