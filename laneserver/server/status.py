"""Readiness, store IT's status and the metrics read from the books.

* ``readiness``: ``/readyz`` is 200 only once every lane and the journal answer (each
  asked at once, within ``READY_WITHIN`` seconds); a lane out of service is not ready.
* ``live_status`` / ``offline_status``: what ``laneserver status`` prints (version,
  uptime, lanes, devices, last backup, last closure, the shop key's fingerprint), from
  the running server (``/status``, answered to the box itself only) or, when none
  runs, from the data folder; ``format_status`` words it.
* ``register_metrics``: the ``/metrics`` series of this module (mailbox depths,
  sessions by kind, paired devices, printers, the journal's batches, backup age, last
  closure); ``refresh_facts`` reads the books' part before each scrape.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import trio

from laneserver import __version__
from laneserver.actors.journal import JournalStats, ReadFailed, read
from laneserver.actors.lane_messages import GetTicket
from laneserver.actors.messages import Caller, Do
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.config import Config
from laneserver.server.devices import configured_rows, device_rows
from laneserver.server.shop import Shop
from laneserver.store import hq_holds, outbox
from laneserver.store import status as books
from laneserver.store.schema import DB_NAME
from laneserver.store.shop_key import describe as describe_shop_key

READY_WITHIN = 2.0
READY_CALLER = Caller(device="readyz")


async def readiness(shop: Shop, within: float = READY_WITHIN) -> dict[str, str]:
    """Each lane's and the journal's answer: ``"ok"``, ``"out of service"`` or
    ``"no answer"`` (none within ``within`` seconds, or it failed)."""
    answers = {name: "no answer" for name in ["journal", *(a.name for a in shop.lanes.values())]}

    async def ask(name: str, asking: Any) -> None:
        if name in shop.out_of_service:
            answers[name] = "out of service"
            return
        try:
            await asking()
        except (ActorFailed, ReadFailed):
            answers[name] = "out of service" if name in shop.out_of_service else "no answer"
            return
        answers[name] = "ok"

    with trio.move_on_after(within):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask, "journal", lambda: read(shop.journal, _answer))
            for address in shop.lanes.values():
                nursery.start_soon(ask, address.name, lambda a=address: a.ask(Do(READY_CALLER, GetTicket())))
    return answers


def _answer(db: Any) -> int:
    return db.execute("SELECT 1").fetchone()[0]


def local_client(client: tuple[str, int] | None, server: tuple[str, int] | None) -> bool:
    """A request from the box itself: a loopback address, or the server's own
    (``laneserver status`` on a server bound to one address)."""
    if client is None:
        return False
    try:
        if ipaddress.ip_address(client[0]).is_loopback:
            return True
    except ValueError:
        return False
    return server is not None and client[0] == server[0]


# --- the books' part (the journal reads it) ---------------------------------------------------

async def refresh_facts(shop: Shop, within: float = 2.0) -> None:
    """Read the books' facts through the journal into ``shop.facts`` (kept as they
    were if the journal does not answer in time)."""
    with trio.move_on_after(within):
        try:
            shop.facts = await read(shop.journal, books.facts)
        except (ActorFailed, ReadFailed):
            pass  # the last facts stay; /readyz says what is wrong


def register_metrics(shop: Shop, stats: JournalStats, mailboxes: dict[str, Address]) -> None:
    metrics = shop.metrics
    metrics.gauges["uptime_seconds"] = lambda: round(trio.current_time() - shop.started, 3)
    metrics.labelled["mailbox_depth"] = ("Messages waiting in each actor's mailbox.", ("actor",),
                                         lambda: {name: a.depth for name, a in mailboxes.items()})
    metrics.labelled["sessions"] = ("Websocket sessions open now, by device kind (none: not past hello yet).",
                                    ("kind",), lambda: _sessions_by_kind(shop))
    metrics.labelled["paired_devices"] = ("Paired devices by kind and state (active, revoked).", ("kind", "state"),
                                          lambda: dict(shop.facts.devices))
    metrics.labelled["printer_online"] = ("1 when the printer's last job went through, 0 from a failure on.",
                                          ("printer",), lambda: {p: int(up) for p, up in shop.printers_online.items()})
    metrics.histograms["journal_batch_size"] = ("Units of work written per journal transaction.",
                                                lambda: stats.batch_size)
    metrics.histograms["journal_commit_seconds"] = ("Seconds a journal batch took to write and commit.",
                                                    lambda: stats.commit_seconds)
    metrics.gauges["backup_age_seconds"] = lambda: _age(shop.facts.last_backup.at) if shop.facts.last_backup else None
    metrics.gauges["last_closure_timestamp_seconds"] = (
        lambda: _timestamp(shop.facts.last_closure.at) if shop.facts.last_closure else None)
    metrics.gauges["last_closure_number"] = (
        lambda: shop.facts.last_closure.number if shop.facts.last_closure else None)


def register_shipper_metrics(shop: Shop, stats: Any) -> None:
    """The shipper's series (actors/shipper.py ``ShipperStats``): lag per chain in records
    and seconds, head office reachable, records shipped."""
    metrics = shop.metrics
    metrics.labelled["head_office_lag_records"] = (
        "Records of each chain head office has not acknowledged.", ("chain",),
        lambda: {chain: lag.records for chain, lag in stats.lag.items()})
    metrics.labelled["head_office_lag_seconds"] = (
        "Age in seconds of each chain's oldest record head office has not acknowledged (0: none).", ("chain",),
        lambda: {chain: lag.seconds for chain, lag in stats.lag.items()})
    metrics.gauges["head_office_connected"] = lambda: int(stats.connected)
    metrics.gauges["head_office_records_shipped"] = lambda: stats.shipped
    metrics.gauges["head_office_failures"] = lambda: stats.failures


def register_hold_metrics(shop: Shop, stats: Any) -> None:
    """Head office's credit and wallet holds (actors/hq_holds.py ``HoldStats``), counted
    since the start."""
    metrics = shop.metrics
    metrics.labelled["head_office_holds"] = (
        "Credit and wallet payment lines by what decided them: asked (head office was asked), held, short "
        "(refused by head office), offline (taken within the offline allowance), offline_refused.", ("outcome",),
        lambda: {"asked": stats.asked, "held": stats.held, "short": stats.short, "offline": stats.offline,
                 "offline_refused": stats.offline_refused})
    metrics.gauges["head_office_holds_to_tell"] = lambda: stats.to_tell
    metrics.gauges["head_office_holds_told"] = lambda: stats.told


def _summary(db: Any, now: dt.datetime) -> dict[str, Any]:
    """The shipping position and the holds' rows (store/outbox.py, store/hq_holds.py)."""
    return {**outbox.summary(db, now), **hq_holds.summary(db)}


def _read_summary(path: Path, now: dt.datetime) -> dict[str, Any]:
    db = books.open_read_only(path)
    try:
        return _summary(db, now)
    finally:
        db.close()


async def _head_office(shop: Shop, within: float = 2.0) -> dict[str, Any] | None:
    """The head-office part of the live status (None: not configured, or no answer)."""
    if not shop.config.head_office.dsn:
        return None
    if shop.data_folder is None:
        return None
    # On a read-only connection of its own, in a thread: outbox.summary reads in a
    # transaction of its own, which the journal's reads (inside its batch) cannot open.
    read_summary = partial(_read_summary, shop.data_folder / DB_NAME, dt.datetime.now(dt.UTC))
    with trio.move_on_after(within):
        try:
            found = await trio.to_thread.run_sync(read_summary, abandon_on_cancel=True)
        except (sqlite3.Error, OSError):
            return None
        part = _head_office_part(shop.config, found)
        if shop.hold_stats is not None and "holds" in part:
            stats = shop.hold_stats
            part["holds"] |= {"asked": stats.asked, "short": stats.short, "offline_taken": stats.offline,
                              "offline_refused": stats.offline_refused, "reachable": stats.reachable,
                              "schema_too_old": stats.schema_too_old}
            # Head office answers with a schema older than the shop's (store/hq.py ``SchemaTooOld``).
            part["schema_too_old"] = stats.schema_too_old
        return part
    return None


def _head_office_part(config: Config, found: dict[str, Any]) -> dict[str, Any]:
    return {"shop": config.head_office.shop, **found, "lag_warning": config.head_office.lag_warning,
            "lagging": found["oldest_seconds"] > config.head_office.lag_warning}


def _sessions_by_kind(shop: Shop) -> dict[str, int]:
    counts = {"till": 0, "pda": 0, "none": 0}
    for session in shop.open_sessions:
        device = session.device
        counts[device.kind if device is not None else "none"] += 1
    return counts


def _timestamp(at: str) -> float | None:
    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def _age(at: str) -> float | None:
    stamp = _timestamp(at)
    return None if stamp is None else round(dt.datetime.now(dt.timezone.utc).timestamp() - stamp, 1)


# --- store IT's status -----------------------------------------------------------------------

def _books_part(facts: books.Facts, data: Path) -> dict[str, Any]:
    devices: dict[str, dict[str, int]] = {}
    for (kind, state), n in sorted(facts.devices.items()):
        devices.setdefault(kind, {})[state] = n
    backup = facts.last_backup
    closure = facts.last_closure
    return {
        "devices": devices,
        "last_backup": None if backup is None else {"at": backup.at, "path": backup.path,
                                                    "age_seconds": _age(backup.at)},
        "last_closure": None if closure is None else {"number": closure.number, "at": closure.at,
                                                      "kind": closure.kind},
        "sales": facts.sales,
        "schema_version": facts.schema_version,
        "shop_key": describe_shop_key(data),
    }


async def live_status(shop: Shop) -> dict[str, Any]:
    await refresh_facts(shop)
    lanes = [{"id": lane, "serving": address.name not in shop.out_of_service}
             for lane, address in sorted(shop.lanes.items())]
    return {
        "running": True,
        "version": __version__,
        "started_at": shop.started_at,
        "uptime_seconds": round(trio.current_time() - shop.started, 1),
        "urls": shop.urls,
        "tls": shop.config.server.tls,
        "lanes": lanes,
        "out_of_service": sorted(shop.out_of_service),
        "sessions": _sessions_by_kind(shop),
        "printers": {p: "online" if up else "offline" for p, up in sorted(shop.printers_online.items())},
        "hardware": device_rows(shop),  # displays, scanners, cradles, terminals (server/devices.py)
        **_books_part(shop.facts, shop.data_folder or Path(".")),
        "head_office": await _head_office(shop),
    }


def offline_status(config: Config, data: Path) -> dict[str, Any]:
    """The status read from the data folder while no server runs.

    Raises:
        FileNotFoundError: there is no database in ``data``.
    """
    db = books.open_read_only(data / DB_NAME)
    try:
        facts = books.facts(db)
        shipped = (_head_office_part(config, _summary(db, dt.datetime.now(dt.UTC)))
                   if config.head_office.dsn else None)
    finally:
        db.close()
    return {
        "running": False,
        "version": __version__,
        "tls": config.server.tls,
        "lanes": [{"id": lane.id, "serving": None} for lane in config.lanes],
        "hardware": configured_rows(config),
        **_books_part(facts, data),
        "head_office": shipped,
    }


def format_status(status: dict[str, Any], where: str) -> str:
    """``laneserver status``'s text: one ``name: value`` line each."""
    if status["running"]:
        hours, rest = divmod(int(status["uptime_seconds"]), 3600)
        state = (f"running since {status['started_at']} (up {hours} h {rest // 60:02d} min), "
                 f"{', '.join(status['urls'])}")
    else:
        state = f"not running ({where}); read from the data folder"
    lanes = ", ".join(lane["id"] + ("" if lane["serving"] in (True, None) else " (OUT OF SERVICE)")
                      for lane in status["lanes"])
    devices = "; ".join(f"{kind}: " + ", ".join(f"{n} {state_}" for state_, n in sorted(states.items()))
                        for kind, states in status["devices"].items()) or "none paired"
    backup = status["last_backup"]
    closure = status["last_closure"]
    lines = [
        f"laneserver {status['version']}",
        f"server: {state}",
        f"tls: {'on' if status['tls'] else 'off'}",
        f"lanes: {lanes}",
        f"devices: {devices}",
    ]
    if status["running"]:
        sessions = status["sessions"]
        lines.append(f"connected: {sessions['till']} till, {sessions['pda']} PDA, {sessions['none']} before hello")
        if status["printers"]:
            lines.append("printers: " + ", ".join(f"{p} {s}" for p, s in status["printers"].items()))
        if status.get("hardware"):
            lines.append("lane devices: " + ", ".join(
                f"{row['kind']} {row['device']} {row['state']}" for row in status["hardware"]))
    lines += [
        "last backup: " + ("none" if backup is None else
                           f"{backup['at']} ({_ago(backup['age_seconds'])}), {backup['path']}"),
        "last closure: " + ("none" if closure is None else
                            f"no. {closure['number']}{' (' + closure['kind'] + ')' if closure['kind'] else ''} "
                            f"at {closure['at']}"),
        f"sales: {status['sales']}",
        f"database schema: {status['schema_version']}",
        f"shop key: {status['shop_key'] or 'no key yet'}",
    ]
    head_office = status.get("head_office")
    if head_office:
        behind = head_office["records_behind"]
        state = ("up to date" if not behind else
                 f"{behind} record{'s' if behind > 1 else ''} not yet at head office, the oldest "
                 f"{_ago(head_office['oldest_seconds'])}")
        if head_office["lagging"]:
            state += f" — LAGGING (over the {head_office['lag_warning']:g} s warning)"
        if head_office.get("schema_too_old"):
            state += f" — {head_office['schema_too_old']}"
        lines.append(f"head office: shop {head_office['shop']}, {state}")
        if holds := head_office.get("holds"):
            lines.append(f"wallet holds: {_holds_line(holds)}")
    return "\n".join(lines)


def _holds_line(holds: dict[str, Any]) -> str:
    """Head office's credit and wallet holds, one line: since the start when running (asked,
    short, offline), and what the rows hold (open, to tell head office, offline counted)."""
    parts = []
    if "asked" in holds:
        parts.append(f"{holds['asked']} asked since the start, {holds['short']} short, {holds['offline_taken']} "
                     f"taken offline, {holds['offline_refused']} refused offline")
        if holds.get("schema_too_old"):
            parts.append("head office's database is older than this shop's (offline allowance in use)")
        elif holds["reachable"] is False:
            parts.append("head office NOT ANSWERING (offline allowance in use)")
    parts.append(f"{holds['open']} open, {holds['to_tell']} to tell head office, {holds['offline_counted']} "
                 f"offline spend{'s' if holds['offline_counted'] != 1 else ''} in the allowances")
    return "; ".join(parts)


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "age unknown"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"
