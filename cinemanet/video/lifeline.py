"""Worker processes end with the process that started them.

A ``kill -9`` of ``cinemanet analyze`` runs no clean-up, so its tagging process and pool
workers (each holding a model, hundreds of MB) would otherwise live on, and with them
multiprocessing's resource tracker. Each worker calls :func:`watch_parent` first.
"""

from __future__ import annotations

import os
import threading

POLL_S = 0.5


def watch_parent(poll_s: float = POLL_S) -> None:
    """Exit this process soon after its parent is gone (it is re-parented: the pid changes)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)  # nobody is left to read results; skip clean-up that could block
            threading.Event().wait(poll_s)

    threading.Thread(target=watch, name="cinemanet-lifeline", daemon=True).start()
