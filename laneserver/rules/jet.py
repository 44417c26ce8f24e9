"""The technical event journal (JET): what each entry says, and the clock watch.

Every JET entry is a record of the fiscal chain ``jet`` (store/fiscal.py, written by
the journal's ``ChainRecord`` op): a dict of business content — device, seller and
lane names, amounts as strings, ISO timestamps, the numbers of other chains' records;
never a database id — with its ``kind``. The writer adds ``number`` and ``at``.

``jet_record(kind, **fields)`` builds one and checks it against ``KINDS``: the kind is
known, its required fields are there, no field is unknown, every value is a plain
string, integer or boolean (a Decimal becomes its string, a datetime its ISO form, and
a field left None is left out). A wrong record is a bug of its caller: ValueError.

``ClockWatch`` tells a wall-clock jump (the wall clock moved back, or forward, by more
than ``CLOCK_JUMP_SECONDS`` relative to the monotonic clock between two entries).

Pure: no trio, no I/O (docs/fiscal.md, "The technical event journal (JET)").
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

import msgspec

START = "start"
STOP = "stop"
SIGN_IN = "sign_in"
SIGN_OUT = "sign_out"
PIN_FAILED = "pin_failed"
PIN_LOCKED = "pin_locked"
APPROVAL = "approval"
NO_SALE = "no_sale"
CASH_MOVEMENT = "cash_movement"
CONFIG = "config"
DEVICE_FAILURE = "device_failure"
ARCHIVE_EXPORT = "archive_export"
RECOVERY = "recovery"
CLOCK_JUMP = "clock_jump"
AUTO_CLOSE = "auto_close"
CLOSE = "close"


class Fields(msgspec.Struct, frozen=True):
    """The fields of one kind: those it must have, and those it may have."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()


# Each kind with its fields (docs/fiscal.md explains them; keep the two in step).
KINDS: dict[str, Fields] = {
    START: Fields(("version", "config")),
    STOP: Fields(("version",)),
    SIGN_IN: Fields(("device", "seller")),
    SIGN_OUT: Fields(("device", "seller")),
    PIN_FAILED: Fields(("device", "purpose"), ("seller",)),
    PIN_LOCKED: Fields(("device", "scope", "name", "seconds")),
    APPROVAL: Fields(("device", "supervisor", "request"), ("seller",)),
    NO_SALE: Fields(("lane", "seller", "approved_by", "reason"), ("device",)),
    CASH_MOVEMENT: Fields(("lane", "seller", "movement", "amount"), ("reason", "approved_by", "device")),
    CONFIG: Fields(("config",), ("previous",)),
    DEVICE_FAILURE: Fields(("device", "reason"), ("lanes",)),
    ARCHIVE_EXPORT: Fields(("period", "file"), ("records", "partial", "sha256")),
    RECOVERY: Fields((), ("previous_start", "last_entry_at")),
    CLOCK_JUMP: Fields(("seconds", "expected", "found"), ("across_restart",)),
    # Written by the fiscal actor (actors/fiscal.py) with the closure it records: ``period``
    # the closed day, month or year, ``closure`` its number in the chain ``closure``.
    AUTO_CLOSE: Fields(("period", "closure"), ("closure_kind",)),
    CLOSE: Fields(("period", "closure_kind", "closure"), ("seller", "approved_by", "device")),
}

# Every kind, in the order docs/fiscal.md explains them (the ``events`` verb's ``kind``).
KIND_NAMES: tuple[str, ...] = tuple(KINDS)

# A wall-clock move, relative to the monotonic clock, larger than this is a jump.
CLOCK_JUMP_SECONDS = 60.0


class BadJetRecord(ValueError):
    """A JET record its caller built wrong (an unknown kind or field, a missing one)."""


def _plain(name: str, value: Any) -> str | int | bool | list[str]:
    match value:
        case bool() | int() | str():
            return value
        case Decimal():
            return str(value)
        case dt.datetime():
            if value.tzinfo is None:
                raise BadJetRecord(f"{name}: a naive datetime (an aware one is needed)")
            return value.isoformat()
        case dt.date():
            return value.isoformat()
        case list() | tuple() if all(isinstance(item, str) for item in value):
            return list(value)
    raise BadJetRecord(f"{name}: {type(value).__name__} is not a JET value (a string, integer or boolean)")


def jet_record(kind: str, **fields: Any) -> dict[str, Any]:
    """The content of one JET entry of ``kind`` (its ``number`` and ``at`` are the writer's).

    Raises:
        BadJetRecord: an unknown kind, a required field missing (or None), a field the
            kind does not have, or a value that is not plain.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise BadJetRecord(f"no JET kind {kind!r} (kinds: {', '.join(KIND_NAMES)})")
    unknown = sorted(set(fields) - set(spec.required) - set(spec.optional))
    if unknown:
        raise BadJetRecord(f"{kind}: no field {', '.join(unknown)}")
    missing = [name for name in spec.required if fields.get(name) is None]
    if missing:
        raise BadJetRecord(f"{kind}: {', '.join(missing)} missing")
    record: dict[str, Any] = {"kind": kind}
    record.update((name, _plain(name, value)) for name, value in fields.items() if value is not None)
    return record


def digest(value: Any) -> str:
    """SHA-256 (hex) of ``value``'s canonical JSON (sorted keys, decimals as strings):
    the ``config`` of a ``start`` is the digest of the configuration as loaded, so a
    changed setting changes it and a comment or a blank line in the file does not."""
    return hashlib.sha256(msgspec.json.encode(value, order="sorted")).hexdigest()


# --- clock jumps ------------------------------------------------------------------------


class ClockJump(msgspec.Struct, frozen=True):
    """The wall clock read ``found`` where the monotonic clock said ``expected``:
    ``seconds`` > 0 it moved forward, < 0 back."""

    expected: dt.datetime
    found: dt.datetime
    seconds: int

    def record(self, *, across_restart: bool = False) -> dict[str, Any]:
        return jet_record(CLOCK_JUMP, seconds=self.seconds, expected=self.expected, found=self.found,
                          across_restart=across_restart or None)


class ClockWatch:
    """Watches the wall clock against the monotonic one, entry after entry.

    ``observe(wall, mono)`` at each entry: the wall clock should have moved as much as
    the monotonic clock since the last entry; when they differ by more than
    ``threshold`` seconds, the jump (and the watch starts again from this reading).
    """

    def __init__(self, threshold: float = CLOCK_JUMP_SECONDS) -> None:
        self.threshold = threshold
        self._last: tuple[dt.datetime, float] | None = None

    def observe(self, wall: dt.datetime, mono: float) -> ClockJump | None:
        last, self._last = self._last, (wall, mono)
        if last is None:
            return None
        expected = last[0] + dt.timedelta(seconds=mono - last[1])
        moved = (wall - expected).total_seconds()
        if abs(moved) <= self.threshold:
            return None
        return ClockJump(expected=expected, found=wall, seconds=round(moved))


def jump_across_restart(last_entry: dt.datetime | None, now: dt.datetime,
                        threshold: float = CLOCK_JUMP_SECONDS) -> ClockJump | None:
    """At start: the wall clock is behind the last entry the journal holds (it was set
    back while the server was stopped, or the machine's clock battery died). A clock
    set forward while stopped cannot be told from the time the server was off."""
    if last_entry is None or (last_entry - now).total_seconds() <= threshold:
        return None
    return ClockJump(expected=last_entry, found=now, seconds=round((now - last_entry).total_seconds()))
