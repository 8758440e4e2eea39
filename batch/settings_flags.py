"""The pass's setting flags (-t, --time-window, --stack…) and their --help, built from the settings table.

Why: each flag's default, range and variable in `--help` must be what the code does; writing them
by hand here once let `--help`, `.env.example` and the code disagree. Every flag that sets a variable
of organizer/settings_table.py is made here from its row: its checks (the same as for the variable),
and a help text ending in "($THRESHOLD, default 18)". Argparse defaults stay None, so a flag that
was not given never hides the variable (defaults < .env < environment < flags).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from organizer.settings_table import SETTINGS, Setting, SettingsError


def checked(s: Setting) -> Callable[[str], Any]:
    """An argparse type from a table row: the same checks for a flag and for its variable."""
    def convert(text: str) -> Any:
        try:
            return s.parse(text)
        except SettingsError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = s.name.lower()  # argparse names it in "invalid <name> value"
    return convert


def help_text(s: Setting) -> str:
    """ "max Hamming distance between 64-bit hashes, 0-64 ($THRESHOLD, default 18)"."""
    text = s.flag_help or s.help
    if s.compact() and s.kind in ("int", "float"):
        text += f"; {s.compact()}"
    if s.switch is not None:
        return f"{text} (${s.name}={s.text(s.switch)} for this run; default {s.text()})"
    return f"{text} (${s.name}, default {s.text()})" if s.text() else f"{text} (${s.name})"


def names(cli_group: str) -> list[str]:
    """The variables whose flags are in ``cli_group``, for the group's title."""
    return [s.name for s in SETTINGS if s.cli_group == cli_group and s.flags]


def add_setting_flags(group: argparse._ArgumentGroup, cli_group: str) -> None:
    """Add the flags of every table row in ``cli_group`` (grouping, run or immich) to ``group``."""
    for s in SETTINGS:
        if s.cli_group != cli_group or not s.flags:
            continue
        help_ = help_text(s).replace("%", "%%")
        if s.switch is not None:
            group.add_argument(*s.flags, action="store_true", help=help_)
        else:
            metavar = "{" + ",".join(s.choices) + "}" if s.choices else None
            group.add_argument(*s.flags, type=checked(s), default=None, metavar=metavar, help=help_)
