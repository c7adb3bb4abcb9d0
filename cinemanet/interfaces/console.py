"""What every command module writes to the user outside its results."""

from __future__ import annotations

import sys


def err(msg: str) -> None:
    """One line on stderr, prefixed so it reads apart from results on stdout."""
    sys.stderr.write(f"cinemanet: {msg}\n")
    sys.stderr.flush()


WIDE_TABLE = 120  # narrower than this, many-column tables switch to a block per row


def table_width(out=None) -> int:
    """Columns to lay a table out in: the terminal's, else $COLUMNS, else 80."""
    import os
    import shutil

    out = out or sys.stdout
    if out.isatty():
        return shutil.get_terminal_size().columns
    try:
        return max(40, int(os.environ.get("COLUMNS") or 80))
    except ValueError:
        return 80


def print_table(table, out=None) -> None:
    """A rich table on ``out`` (stdout), :func:`table_width` wide."""
    from rich.console import Console

    out = out or sys.stdout
    Console(file=out, width=table_width(out)).print(table)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``count(1, "shot")`` is "1 shot", ``count(3, "shot")`` "3 shots"."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"
