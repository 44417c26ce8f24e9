"""The data folder's lock: a running server holds it, so ``laneserver restore`` (and a
second server) can tell that the folder is in use.

``laneserver.lock`` in the data folder, locked with ``flock`` (exclusive, non-blocking)
for as long as the server runs; the kernel lets go of it when the process ends, however
it ends (kill -9, a power cut), so a stale file never blocks anything. The file holds the
holder's pid, for the messages.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from laneserver.store.schema import DATA_FOLDER_MODE

LOCK_NAME = "laneserver.lock"


class DataFolderBusy(OSError):
    """Another process holds the data folder's lock (a server runs on it)."""


class DataFolderLock:
    """The data folder's lock, held from ``acquire`` until ``release``."""

    def __init__(self, data: Path) -> None:
        self.path = data / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, what: str = "a server") -> "DataFolderLock":
        """Take the lock without waiting.

        Raises:
            DataFolderBusy: another process holds it (the message names its pid).
        """
        self.path.parent.mkdir(mode=DATA_FOLDER_MODE, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DataFolderBusy(
                f"{self.path.parent} is in use by a running server{f' (pid {holder})' if holder else ''}: "
                f"stop it first (systemctl stop laneserver) to run {what}") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file lets go of the flock
            self._fd = None

    def __enter__(self) -> "DataFolderLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
