"""The technical event journal's units the journal writes itself (worker thread).

The JET is chain ``jet`` (store/jet.py, rules/jet.py). When the journal actor
(actors/journal.py) is given ``jet``, it writes at start, in one transaction before it
answers anyone, the entries a command-line tool left in the inbox, ``start``,
``recovery`` when the server before did not stop cleanly, ``clock_jump`` when the wall
clock is behind the last entry, ``config`` when the configuration is not the last
start's (``jet_start``); at a clean stop (the mailbox drained), the inbox and ``stop``
(``jet_stop``). Each is a unit of its own (``jet_unit``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any, Callable

from laneserver.actors.journal_messages import JetStart
from laneserver.rules import jet as jet_rules
from laneserver.store import jet as jet_store
from laneserver.store.fiscal import Heads, append_record
from laneserver.store.writes import Writer


def jet_start(writer: Writer, jet: JetStart, now: dt.datetime, log: Any) -> None:
    """The entries of a start, in one transaction (see the module's docstring)."""
    at = now.isoformat()

    def write(db: sqlite3.Connection, heads: Heads) -> tuple[int, int | None, str | None, int]:
        crashed = jet_store.running_since(db)
        last_at = jet_store.last_entry_at(db)
        previous = jet_store.last_start_config(db)
        left = jet_store.chain_inbox(db, heads)

        def add(record: dict[str, Any]) -> int:
            return append_record(db, heads, jet_store.CHAIN, at, record)[0]

        number = add(jet_rules.jet_record(jet_rules.START, version=jet.version, config=jet.config))
        if crashed is not None:
            add(jet_rules.jet_record(jet_rules.RECOVERY, previous_start=crashed, last_entry_at=last_at))
        jump = jet_rules.jump_across_restart(last_at, now)
        if jump is not None:
            add(jump.record(across_restart=True))
        if previous != jet.config:
            add(jet_rules.jet_record(jet_rules.CONFIG, config=jet.config, previous=previous))
        jet_store.mark_running(db, number)
        return number, crashed, previous, left

    number, crashed, previous, left = jet_unit(writer, write)
    log.info("jet_started", start=number, recovered=crashed is not None, inbox=left,
             config_changed=previous != jet.config)
    if crashed is not None:
        log.warning("recovered_unclean_stop", previous_start=crashed)


def jet_stop(writer: Writer, jet: JetStart, now: dt.datetime) -> None:
    """A clean stop: the inbox, then ``stop``, and the running mark cleared."""

    def write(db: sqlite3.Connection, heads: Heads) -> None:
        jet_store.chain_inbox(db, heads)
        append_record(db, heads, jet_store.CHAIN, now.isoformat(),
                      jet_rules.jet_record(jet_rules.STOP, version=jet.version))
        jet_store.mark_stopped(db)

    jet_unit(writer, write)


def jet_unit(writer: Writer, write: Callable[[sqlite3.Connection, Heads], Any]) -> Any:
    """``write(db, heads)`` in one transaction of its own; the heads put back if it fails."""
    return writer.transaction(write)
