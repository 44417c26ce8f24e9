"""A real PostgreSQL cluster for the head-office tests and the bench: Debian's
``postgresql`` binaries (a declared system package: README, .ci/run), a cluster made
with ``initdb`` in a temporary folder, run as the ``postgres`` user (PostgreSQL refuses
to run as root), listening on a free loopback port with its unix socket in that folder.

``Cluster.start()`` / ``stop()`` (``pg_ctl``), ``dsn(db)``, ``create_database(name)``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class MissingPostgres(RuntimeError):
    pass


def _bin(name: str) -> str:
    for folder in BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise MissingPostgres(
            f"PostgreSQL's {name} is not installed: the head-office tests need Debian's postgresql package "
            "(apt-get install postgresql; README, \"Set up\")")
    return found


def _as_postgres(*cmd: str) -> list[str]:
    if os.geteuid() != 0:
        return list(cmd)  # already an ordinary user: run as ourselves
    return ["runuser", "-u", "postgres", "--", *cmd]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, fsync: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="laneserver-pg-"))
        self.data = self.root / "data"
        self.socket = self.root / "sock"
        self.port = free_port()
        self.fsync = fsync
        self.log = self.root / "postgres.log"

    def _own(self) -> None:
        if os.geteuid() == 0:
            self.root.chmod(0o755)
            for path in (self.root, self.socket):
                path.mkdir(exist_ok=True)
                shutil.chown(path, "postgres", "postgres")
            self.log.touch()
            shutil.chown(self.log, "postgres", "postgres")

    def init(self) -> Cluster:
        self.socket.mkdir(exist_ok=True)
        self._own()
        subprocess.run(_as_postgres(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                                    "-E", "UTF8", "--no-instructions"),
                       check=True, capture_output=True, timeout=120)
        return self

    def start(self) -> Cluster:
        options = (f"-p {self.port} -k {self.socket} -h 127.0.0.1 -c max_connections=200"
                   + ("" if self.fsync else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"))
        subprocess.run(_as_postgres(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                                    "-o", options, "start"), check=True, capture_output=True, timeout=90)
        return self

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(_as_postgres(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"),
                       check=False, capture_output=True, timeout=90)

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
