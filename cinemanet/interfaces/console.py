"""What every command module writes to the user outside its results."""

from __future__ import annotations

import sys


def err(msg: str) -> None:
    """One line on stderr, prefixed so it reads apart from results on stdout."""
    sys.stderr.write(f"cinemanet: {msg}\n")
    sys.stderr.flush()
