"""A throwaway PostgreSQL server for the catalog tests (or the one named by $CINEMANET_TEST_POSTGRES).

``.ci/run`` starts Debian's cluster and exports ``CINEMANET_TEST_POSTGRES=postgresql://...``;
elsewhere the tests start their own cluster in a temporary folder with ``initdb``/``pg_ctl``
(as the ``postgres`` user when run as root), on a Unix socket only, and stop it afterwards.
Where neither works the PostgreSQL tests skip with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

ENV = "CINEMANET_TEST_POSTGRES"


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class Server:
    """A running server: ``url(db)`` names a database on it; ``stop()`` ends a server we started."""

    def __init__(self, base_url: str, stop=None):
        self.base_url = base_url
        self._stop = stop
        self.created: list[str] = []

    def url(self, db: str) -> str:
        head, _, query = self.base_url.partition("?")
        head = head.rsplit("/", 1)[0] if head.count("/") > 2 else head
        return f"{head}/{db}" + (f"?{query}" if query else "")

    def create_db(self) -> str:
        import psycopg

        name = "cn_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url("postgres"), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        self.created.append(name)
        return self.url(name)

    def terminate(self, url: str) -> None:
        """Drop every connection to ``url``'s database (a network failure, seen from the client)."""
        import psycopg

        db = url.split("?")[0].rsplit("/", 1)[1]
        with psycopg.connect(self.url("postgres"), autocommit=True) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (db,),
            )

    def stop(self) -> None:
        if not self._stop and self.created:  # a server we did not start: drop what the tests made
            import psycopg

            with psycopg.connect(self.url("postgres"), autocommit=True) as c:
                for name in self.created:
                    c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            self.created.clear()
        if self._stop:
            self._stop()
            self._stop = None


def start(durable: bool = False) -> Server:
    """The server of $CINEMANET_TEST_POSTGRES, or a new throwaway one (``durable``: fsync and
    synchronous commit on, as a real server runs; else off, for speed). Raises RuntimeError with the reason."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise RuntimeError("psycopg is not installed") from None
    if os.environ.get(ENV):
        return Server(os.environ[ENV])
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError(f"no PostgreSQL server binaries (initdb, pg_ctl) found and ${ENV} is not set")
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if not shutil.which("runuser"):
            raise RuntimeError("running as root without runuser: cannot start PostgreSQL as another user")
        run_as = ["runuser", "-u", "postgres", "--"]
    d = Path(tempfile.mkdtemp(prefix="cnpg-"))
    if run_as:
        shutil.chown(d, "postgres")
    data, port = d / "data", 40000 + os.getpid() % 20000

    def sh(*cmd: str) -> None:
        r = subprocess.run([*run_as, *cmd], capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")

    try:
        sh(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        sh(
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(d / "log"),
            "-w",
            "-o",
            f"-c listen_addresses='' -k {d} -p {port} -c max_connections=60"
            + ("" if durable else " -c fsync=off -c synchronous_commit=off"),
            "start",
        )
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        shutil.rmtree(d, ignore_errors=True)
        raise RuntimeError(f"cannot start a throwaway PostgreSQL: {e}") from None

    def stop() -> None:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60
        )
        shutil.rmtree(d, ignore_errors=True)

    return Server(f"postgresql://postgres@/postgres?host={d}&port={port}", stop)
