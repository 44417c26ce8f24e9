"""Files replaced whole: the fiscal anchor (store/fiscal.py) and the invoices' PDFs
(hw/invoice_pdf.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


# Files in the data folder (the anchor, the invoices): the service user's only.
PRIVATE = 0o600


def write_atomically(path: Path, data: bytes, mode: int = PRIVATE) -> None:
    """Replace ``path`` with ``data``, atomically and durably.

    The bytes go to a temporary file of a name of its own in the same folder (two
    writers of the same file never share one), fsynced, renamed over ``path``; then
    the folder is fsynced so the rename survives a power cut. A reader sees the old
    file or the new one, never a torn one; nothing is left behind on failure.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            os.fchmod(fd, mode)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
