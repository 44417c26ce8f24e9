"""The journal's vocabulary: what an actor asks it and what it answers.

  Commit(ops)  → CommitResult(results), or CommitFailed (nothing of it written)
  Read(fn)     → fn(connection), or ReadFailed (fn raised)
  JetStart     what the technical event journal's ``start`` entry says

The journal actor is actors/journal.py; its ``commit`` and ``read`` ask it and raise
the two failures, which are importable from there too (the journal's face).
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable

import msgspec

from laneserver.store.ops import Op


class Commit(msgspec.Struct, frozen=True):
    ops: tuple[Op, ...]


class JetStart(msgspec.Struct, frozen=True):
    """What the ``start`` entry says: the software's version and the digest of the
    configuration as loaded (rules/jet.py ``digest``)."""

    version: str
    config: str


class Read(msgspec.Struct, frozen=True):
    fn: Callable[[sqlite3.Connection], Any]


class CommitResult(msgspec.Struct, frozen=True):
    results: tuple[Any, ...]


class CommitFailed(Exception):
    """A unit of work was rolled back; nothing of it was written.

    ``key_reused``: it failed because its idempotency key was already used by the
    same device for another request (store/writes.py ``KeyReused``).
    ``changed``: it failed because what it was decided on changed meanwhile, another
    request written first (store/writes.py ``BooksChanged``): a conflict, not a fault.
    """

    def __init__(self, message: str, *, key_reused: bool = False, changed: bool = False) -> None:
        super().__init__(message)
        self.key_reused = key_reused
        self.changed = changed


class ReadFailed(Exception):
    """A read function raised; the journal itself is fine."""
