"""The shop's side of head office's wallet and credit holds (docs/head_office.md,
"Wallet and credit balances, chain-wide"), when ``[head_office] dsn`` is set.

``HqHolds`` is what the lanes call (actors/lane_payments.py), from their own task:

* ``ask``: before a ``credit``/``wallet`` payment line is applied, head office is asked
  to hold the amount (store/hq.py ``ask_hold``) in a worker thread of this part's own
  (``trio.to_thread`` through its own ``CapacityLimiter``, a small pool of its own
  psycopg connections: never the journal's, never the shipper's), within
  ``[head_office] hold_timeout`` (about 1 s). ``Held`` → the row is written
  (store/hq_holds.py, ``open``) and the line goes on; ``Short`` → refused, naming what
  is available. No answer in time, or head office down → the shop decides alone
  (rules/wallet_holds.py: the per-customer allowance and the balance last seen),
  written as an ``offline`` row in the same step;
* ``gone``: the lane's payment lines are gone (removed, the ticket cancelled, the sale
  written): their open rows are to release (a written sale settled its own in its
  unit, store/writes.py). Awaited on the lane's task, so a later hold of the same lane
  and payment number is never taken for an older one;
* ``report``: at a lane's start, its rows no ticket line matches are released.

``HqHolds.hold_movement`` is what the customers actor calls (actors/customers_money.py,
customers_lanes.py) before money leaves a wallet or credit account outside a payment
line (a top-up given back, a correction below zero, a sale's top-up taken back): head
office must hold it, or it is refused (never taken offline); once written, the hold is
settled with its record's ``kind|ref`` in the movement's own unit (the hold carried by
the movement, ``MoveAccount.hold``; ``movements_written`` wakes the actor) or given back
(``movement_dropped``).

``HqHolds.balances`` is what the edge calls for a till's ``customer`` reply
(server/edge_customers.py): the customer's chain-wide credit and wallet asked of head
office (store/hq.py ``balances``) in the same kind of worker thread and within the same
``hold_timeout``; no answer → the figure last seen less the offline spends since
(``head_office_cached``), never a longer wait.

``HqHoldsActor`` tells head office what the rows say is still to tell (``settle`` with
the sale's ref, ``release``), oldest first, again after a crash or an outage (the rows
are on the shop's disk), with the shipper's backoff; nothing waits on it.

A hold head office granted after the lane stopped waiting (the deadline passed) is
released by the thread that got it (one it got just before, still undelivered when the
deadline fired, is the lane's: ``_Slot``); one granted just as the shop died lapses at head
office after ``HOLD_SECONDS``. While the shop is up, the actor renews head office's holds
its rows still see unsettled (``renew``: at its start, then every ``HOLD_SECONDS`` / 5),
so a ticket left open longer than that keeps its money held.
"""

from __future__ import annotations

import datetime as dt
import queue
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import msgspec
import psycopg
import trio

from laneserver.actors.journal import ReadFailed, read
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock
from laneserver.config import HeadOfficeConfig
from laneserver.log import get_logger
from laneserver.rules import wallet_holds as rules
from laneserver.rules.head_office import Backoff
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.store import hq
from laneserver.store import hq_holds as store

MAILBOX = 4
THREADS = 4  # head-office calls at once (lanes asking, the actor telling)
CONNECT_SECONDS = 2  # libpq's least; the lane's own deadline is shorter (the thread is abandoned)
STATEMENT_MS = 5_000
TELL_SECONDS = 10.0  # one settle or release told to head office, at most
IDLE_SECONDS = 5.0  # a look at what is to tell when nothing woke the actor
BATCH = 50  # rows told a round


@dataclass
class HoldStats:
    """What ``/metrics`` and ``laneserver status`` show (counts since the server started)."""

    asked: int = 0  # payment lines head office was asked to hold
    held: int = 0
    short: int = 0  # refused by head office: not enough across the shops
    offline: int = 0  # taken offline, within the allowance
    offline_refused: int = 0  # refused offline: past the allowance or the balance last seen
    told: int = 0  # settles and releases head office was told
    to_tell: int = 0  # rows still to tell, at the actor's last look
    failures: int = 0  # calls to head office that failed or did not answer in time
    reachable: bool | None = None  # head office's last answer (None: not asked yet)
    # Head office answers but its schema is older than this shop's (store/hq.py
    # ``SchemaTooOld``): its words, until a connection finds it upgraded. None: not seen.
    schema_too_old: str | None = None


class Granted(msgspec.Struct, frozen=True):
    row: int  # the hold row (store/hq_holds.py)
    hold: int | None  # head office's hold; None: taken offline


class ChainBalances(msgspec.Struct, frozen=True):
    """A customer's credit and wallet as the till shows them with head office configured."""

    source: str  # head_office | head_office_cached | shop (head office never said)
    accounts: dict[str, rules.Figure]  # the accounts head office said (or last said); the others: the shop's own
    at: dt.datetime | None = None  # head_office_cached: when head office last said (the oldest of the accounts)


class _Offline(Exception):
    """Head office did not answer (in time)."""


# What a call to head office may end with instead of its answer: unreachable, refused, or
# reached with a schema older than this shop's (every call treats them alike: no hold).
_NO_ANSWER = (psycopg.Error, OSError, hq.SchemaTooOld)


class _Slot:
    """Where the worker thread leaves head office's answer for the lane. Under ``lock``:
    the thread stores its answer unless the lane gave up (``abandoned``: then the thread
    releases a ``Held`` itself); the lane, at its deadline, sets ``abandoned`` and takes
    an answer already stored. So a hold is used by the lane or released, never both,
    never neither (the thread may have its ``Held`` when the deadline fires, before
    trio delivers it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answer: hq.Held | hq.Short | None = None
        self.abandoned = False


class _Link:
    """The thread side: a small pool of psycopg connections, each used by one thread at a time."""

    def __init__(self, dsn: str, shop: str, hold_seconds: float = hq.HOLD_SECONDS) -> None:
        self.dsn = dsn
        self.shop = shop
        self.hold_seconds = hold_seconds
        self.idle: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(connection, *args)`` on an idle connection (a new one when none is idle).
        A pooled connection found broken (head office restarted): every idle one is
        dropped and the call made once more on a new one. A column or table head office
        does not have: its schema version is looked at, and when older than this shop's the
        call raises ``hq.SchemaTooOld`` (a shop upgraded before its head office), not the
        database's error."""
        for attempt in (1, 2):
            try:
                conn, pooled = self.idle.get_nowait(), True
            except queue.Empty:
                conn, pooled = hq.connect(self.dsn, CONNECT_SECONDS, STATEMENT_MS), False
            try:
                result = fn(conn, *args)
            except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable):
                too_old = _behind(conn)
                _close(conn)
                if too_old is None:
                    raise
                raise too_old from None
            except psycopg.OperationalError:
                _close(conn)
                if not pooled or attempt == 2:
                    raise
                self.close()
                continue
            except BaseException:
                _close(conn)
                raise
            self.idle.put(conn)
            return result
        raise AssertionError("unreachable")

    def ask(self, customer: str, account: str, amount: Decimal, slot: _Slot) -> hq.Held | hq.Short:
        """Head office's answer, left in ``slot`` for the lane; a ``Held`` the lane no
        longer waits for (``slot.abandoned``) is released here: not its money."""
        answer = self.call(hq.ask_hold, self.shop, customer, account, amount, self.hold_seconds)
        with slot.lock:
            if not slot.abandoned:
                slot.answer = answer
                return answer
        if isinstance(answer, hq.Held):
            self.call(hq.release_hold, answer.hold, self.shop)
        return answer

    def close(self) -> None:
        while True:
            try:
                _close(self.idle.get_nowait())
            except queue.Empty:
                return


def _behind(conn: psycopg.Connection) -> hq.SchemaTooOld | None:
    """Head office's schema older than this shop's (None: it is not, or cannot be read)."""
    try:
        hq.check_schema(conn)
    except hq.SchemaTooOld as error:
        return error
    except psycopg.Error:
        return None
    return None


def _look_and_renew(conn: psycopg.Connection, shop: str, holds: list[int],
                    seconds: float) -> tuple[hq.SchemaTooOld | None, int]:
    """Head office's schema looked at (older than this shop's or not), then the holds
    renewed all the same (their column is migration 2's): (too old, holds renewed)."""
    return _behind(conn), (hq.renew_holds(conn, shop, holds, seconds) if holds else 0)


def _close(conn: psycopg.Connection) -> None:
    try:
        conn.close()
    except psycopg.Error:
        pass  # a broken connection has nothing left to close cleanly


class HqHolds:
    def __init__(self, config: HeadOfficeConfig, *, journal: Address, clock: Clock, stats: HoldStats,
                 hold_seconds: float = hq.HOLD_SECONDS) -> None:
        self.config = config
        self.journal = journal
        self.clock = clock
        self.stats = stats
        self.limit = config.offline_limit
        self.hold_seconds = hold_seconds  # head office lets an unsettled hold lapse after this, unless renewed
        self._link = _Link(config.dsn, config.shop, hold_seconds)
        self._limiter = trio.CapacityLimiter(THREADS)
        self._live: set[tuple[str, int]] = set()  # (lane, payment) of rows on ticket lines
        self._counted = True  # offline spends may count in allowances (unknown until head office answers)
        self._taken_offline = 0  # offline spends taken since the start: a count read before one is stale
        self.wake = trio.Event()
        self.log = get_logger("hq_holds", shop=config.shop)

    async def hop(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter, abandon_on_cancel=True)

    async def load(self) -> None:
        """The rows on ticket lines, added to those known (never replacing them: a lane
        may have added its own since the journal's snapshot was read; an entry no longer
        live costs ``gone`` one look at the journal, nothing more)."""
        self._live |= await read(self.journal, store.live)

    def close(self) -> None:
        self._link.close()

    # --- the lanes ---------------------------------------------------------------------

    async def ask(self, lane: str, payment: int, customer: str, account: str, amount: Decimal) -> Granted | Refused:
        """Hold ``amount`` of the customer's ``account`` for the lane's payment line: at
        head office, or offline within the allowance. ``Refused``: nothing is held."""
        self.stats.asked += 1
        try:
            answer = await self._asked(customer, account, amount)
        except (*_NO_ANSWER, _Offline) as error:
            self._failed(error)
            return await self._offline(lane, payment, customer, account, amount)
        now = self.clock.now()
        await self._answered(answer.up_to)
        try:
            if isinstance(answer, hq.Short):
                self.stats.short += 1
                await read(self.journal, partial(store.see, customer=customer, account=account,
                                                 available=answer.available, at=now, up_to=answer.up_to))
                return rules.short_refusal(account, amount, answer.available)
            row = await read(self.journal, partial(store.held, lane=lane, payment=payment, customer=customer,
                                                   account=account, amount=amount, hold=answer.hold,
                                                   available=answer.available, at=now, up_to=answer.up_to))
        except (ActorFailed, ReadFailed) as error:
            self.log.error("hold_not_recorded", lane=lane, payment=payment, error=repr(error))
            if isinstance(answer, hq.Held):  # not ours to keep: given back at once (or it lapses)
                with trio.move_on_after(self.config.hold_timeout):
                    try:
                        await self.hop(self._link.call, hq.release_hold, answer.hold, self.config.shop)
                    except _NO_ANSWER:
                        pass  # head office lets it lapse (HOLD_SECONDS)
            return refused(Code.UNAVAILABLE, "the hold could not be recorded; nothing was paid, try again")
        self.stats.held += 1
        self._live.add((lane, payment))
        self.log.info("wallet_held", lane=lane, payment=payment, customer=customer, account=account,
                      amount=str(amount), hold=answer.hold)
        return Granted(row, answer.hold)

    async def _asked(self, customer: str, account: str, amount: Decimal) -> hq.Held | hq.Short:
        """Head office's answer to a hold of ``amount`` within ``hold_timeout``.

        Raises:
            _Offline, psycopg.Error, OSError, hq.SchemaTooOld: no answer (in time), or head office
                older than the shop; nothing is held."""
        slot = _Slot()
        answer: hq.Held | hq.Short | None = None
        with trio.move_on_after(self.config.hold_timeout) as waited:
            answer = await self.hop(self._link.ask, customer, account, amount, slot)
        if waited.cancelled_caught:
            with slot.lock:
                slot.abandoned = True
                answer = slot.answer  # stored just before the deadline: the lane's all the same
            if answer is None:
                raise _Offline(f"no answer within {self.config.hold_timeout:g} s")
        assert answer is not None
        return answer

    # --- money taken off an account outside a payment line -------------------------------

    async def hold_movement(self, customer: str, account: str, amount: Decimal, what: str) -> int | Refused:
        """Money about to leave the customer's ``account`` outside a payment line (a
        top-up given back, a correction below, a sale's top-up cancelled or a cancelled
        sale's top-up taken back: ``what``): head office must hold ``amount`` of the
        chain-wide balance first, so money spent in another shop is not given back here.
        Head office's hold number; ``Refused`` when it is short, or does not answer (such
        money never leaves offline: the shop's own books do not know what the other shops
        spent)."""
        try:
            answer = await self._asked(customer, account, amount)
        except (*_NO_ANSWER, _Offline) as error:
            self._failed(error)
            if isinstance(error, hq.SchemaTooOld):
                return refused(Code.UNAVAILABLE, f"{what} needs head office, and {error}")
            return refused(Code.UNAVAILABLE, f"head office does not answer: {what} needs it (the customer may "
                                             "have spent the money in another shop); try again when it answers")
        await self._answered(answer.up_to)
        if isinstance(answer, hq.Short):
            self.stats.short += 1
            return rules.short_refusal(account, amount, answer.available)
        self.log.info("wallet_movement_held", customer=customer, account=account, amount=str(amount),
                      hold=answer.hold, what=what)
        return answer.hold

    def movements_written(self) -> None:
        """A unit settled holds of ``hold_movement``: the movement carried it
        (``MoveAccount.hold``) and the writer wrote its row ``settle`` with the record's
        ``kind|ref`` in the same unit (store/writes.py): a top-up given back
        (``topup_cancel|topup:3``), a correction (``correction|correction:<random>``), a
        sale's top-up cancelled (``topup_cancel|sale:<n>``), a cancelled sale's top-up
        taken back (``sale_cancel|sale:<n>``). The actor tells head office now, not at its
        next idle look."""
        self.wake.set()

    async def movement_dropped(self, hold: int) -> None:
        """The movement ``hold_movement`` held was not written: the hold is given back
        (within ``hold_timeout``; else it lapses)."""
        with trio.move_on_after(self.config.hold_timeout):
            try:
                await self.hop(self._link.call, hq.release_hold, hold, self.config.shop)
            except _NO_ANSWER:
                pass  # head office lets it lapse (its hold time)

    async def _offline(self, lane: str, payment: int, customer: str, account: str,
                       amount: Decimal) -> Granted | Refused:
        try:
            taken = await read(self.journal, partial(store.take_offline, lane=lane, payment=payment, customer=customer,
                                                     account=account, amount=amount, limit=self.limit,
                                                     at=self.clock.now()))
        except (ActorFailed, ReadFailed) as error:
            self.log.error("offline_spend_not_recorded", lane=lane, payment=payment, error=repr(error))
            return refused(Code.UNAVAILABLE, "head office does not answer and the spend could not be recorded; "
                                             "nothing was paid, try again")
        if isinstance(taken, Refused):
            self.stats.offline_refused += 1
            self.log.warning("offline_spend_refused", lane=lane, customer=customer, account=account,
                             amount=str(amount), reason=taken.message)
            return taken
        self.stats.offline += 1
        self._taken_offline += 1
        self._counted = True
        self._live.add((lane, payment))
        self.log.warning("offline_spend", lane=lane, payment=payment, customer=customer, account=account,
                         amount=str(amount))
        return Granted(taken, None)

    async def gone(self, lane: str, payments: Iterable[int]) -> None:
        """The lane's payment lines are gone: their rows released (tell the actor)."""
        numbers = [p for p in payments if (lane, p) in self._live]
        if not numbers:
            return
        try:
            await read(self.journal, partial(store.gone, lane=lane, payments=numbers))
        except (ActorFailed, ReadFailed) as error:
            self.log.error("hold_release_not_recorded", lane=lane, payments=numbers, error=repr(error))
            return  # still open: released at the lane's next start, or lapses at head office
        self._live.difference_update((lane, p) for p in numbers)
        self.wake.set()

    async def report(self, lane: str, lines: Iterable[tuple[int, str, str, Decimal]]) -> None:
        """At a lane's start: what its ticket's credit/wallet lines are; other rows released."""
        lines = list(lines)
        try:
            released = await read(self.journal, partial(store.report, lane=lane, lines=lines))
            # This lane's entries only: another lane's added after the journal's snapshot
            # was read (answered before this task resumed) must not be lost, or its line
            # gone would skip the row (never released, settled later by a reused number).
            mine = await read(self.journal, partial(store.live, lane=lane))
            self._live = {entry for entry in self._live if entry[0] != lane} | mine
        except (ActorFailed, ReadFailed) as error:
            self.log.error("hold_report_failed", lane=lane, error=repr(error))
            return
        if released:
            self.log.warning("holds_released_at_start", lane=lane, released=released)
            self.wake.set()

    # --- head office's answers ----------------------------------------------------------

    def _failed(self, error: BaseException) -> None:
        """A call to head office ended without its answer. Its schema older than this
        shop's is said as such (an error, once while it lasts), not as head office not
        answering: it did, and ``laneserver hq init`` there is the cure."""
        self.stats.failures += 1
        if isinstance(error, hq.SchemaTooOld):
            self._schema(error)
        elif self.stats.reachable is not False:
            self.log.warning("head_office_holds_unreachable", error=str(error).strip().splitlines()[0]
                             if str(error).strip() else repr(error))
        self.stats.reachable = False

    def _schema(self, too_old: hq.SchemaTooOld | None) -> None:
        """What a look at head office's schema version found: older than this shop's (an
        error in the log, once while it lasts), or not (the words go)."""
        if too_old is not None and self.stats.schema_too_old != str(too_old):
            self.log.error("head_office_schema_too_old", version=too_old.version, needed=too_old.needed,
                           error=str(too_old))
        self.stats.schema_too_old = None if too_old is None else str(too_old)

    async def _answered(self, up_to: int | None) -> None:
        """Head office answered, holding the shop's ``account`` chain up to ``up_to``
        (None: an answer that does not say): the offline spends it holds stop counting
        in the allowances."""
        self.stats.reachable = True
        if self._counted and up_to is not None:
            before = self._taken_offline
            try:
                still = await read(self.journal, partial(store.reachable, up_to=up_to))
            except (ActorFailed, ReadFailed) as error:
                self.log.error("offline_allowance_not_reset", error=repr(error))
                return
            self._no_longer_counted(still, before)

    def _no_longer_counted(self, still: int, before: int) -> None:
        """The journal counted ``still`` offline spends counted in the allowances, when
        ``before`` spends had been taken offline: none left → none to look for at the
        next answers, unless a lane took one offline while that count was on its way
        (then the count is stale: the flag stays, never cleared by an old figure)."""
        if still > 0:
            self._counted = True
        elif self._taken_offline == before:
            self._counted = False

    # --- the till's figures -----------------------------------------------------------

    async def balances(self, customer: str) -> ChainBalances:
        """The customer's chain-wide credit and wallet for a till: head office's within
        ``hold_timeout``, else the ones last seen (``head_office_cached``), else none
        (``shop``: the caller keeps the shop's own). Never waits longer than that."""
        try:
            with trio.move_on_after(self.config.hold_timeout) as waited:
                answer = await self.hop(self._link.call, hq.balances, self.config.shop, customer)
            if waited.cancelled_caught:
                raise _Offline(f"no answer within {self.config.hold_timeout:g} s")
        except (*_NO_ANSWER, _Offline) as error:
            self._failed(error)
            return await self._cached(customer)
        self.stats.reachable = True
        before = self._taken_offline
        try:
            noted = await read(self.journal, partial(
                store.noted, customer=customer, up_to=answer.up_to, at=self.clock.now(),
                available={account: figures.available for account, figures in answer.accounts.items()}))
        except (ActorFailed, ReadFailed) as error:
            self.log.error("chain_balance_not_noted", customer=customer, error=repr(error))
            return ChainBalances("shop", {})
        self._no_longer_counted(noted.counted, before)
        return ChainBalances("head_office", {
            account: rules.online_figure(figures.balance, noted.unshipped[account], figures.held_elsewhere,
                                         noted.held_here[account])
            for account, figures in answer.accounts.items()})

    async def _cached(self, customer: str) -> ChainBalances:
        try:
            seen = await read(self.journal, partial(store.cached, customer=customer))
        except (ActorFailed, ReadFailed) as error:
            self.log.error("chain_balance_not_read", customer=customer, error=repr(error))
            return ChainBalances("shop", {})
        if not seen:
            return ChainBalances("shop", {})
        return ChainBalances("head_office_cached", {account: figure for account, (figure, _) in seen.items()},
                             at=min(at for _, at in seen.values()))

    async def renew(self) -> int | None:
        """Head office's holds the rows still see unsettled (``open``: on a ticket line;
        ``settle``: not told yet) lapse ``hold_seconds`` from now, not before: how many
        were renewed; None when head office did not answer. Head office's schema version
        is looked at first (``stats.schema_too_old``: older than this shop's, or no longer),
        so ``laneserver status`` says a head office older than the shop before any hold is
        asked, and no more once ``hq init`` ran there; the holds are renewed all the same."""
        holds = await read(self.journal, store.unsettled)
        try:
            with trio.fail_after(TELL_SECONDS):
                too_old, renewed = await self.hop(self._link.call, _look_and_renew, self.config.shop, holds,
                                                  self.hold_seconds)
        except (*_NO_ANSWER, trio.TooSlowError) as error:
            self._failed(error)
            return None
        self.stats.reachable = True
        self._schema(too_old)
        return renewed

    async def tell_round(self, limit: int = 50) -> int | None:
        """Tell head office what the rows say (a batch of at most ``limit``): how many
        were told; None when head office did not answer."""
        rows = await read(self.journal, partial(store.to_tell, limit=limit))
        self.stats.to_tell = len(rows)
        for row in rows:
            try:
                with trio.fail_after(TELL_SECONDS):
                    if row.state == "settle":
                        await self.hop(self._link.call, hq.settle_hold, row.hold, self.config.shop, row.ref,
                                       row.record)
                    else:
                        await self.hop(self._link.call, hq.release_hold, row.hold, self.config.shop)
            except (*_NO_ANSWER, trio.TooSlowError) as error:
                self._failed(error)
                return None
            # False from head office: settled or released already (a resend): done all the same.
            await read(self.journal, partial(store.told, row=row.id, state=row.state, at=self.clock.now()))
            self.stats.told += 1
            self.stats.to_tell -= 1
        if rows:
            await self._answered(None)
        return len(rows)


class HqHoldsActor:
    """Tells head office the settles and releases the rows hold, until there are none."""

    def __init__(self, holds: HqHolds, *, draw: Callable[[], float] = random.random) -> None:
        self.holds = holds
        self._draw = draw
        cap = holds.config.backoff_max
        self._backoff = Backoff(first=min(1.0, cap), cap=cap)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with inbox, trio.open_nursery() as nursery:
            await self.holds.load()
            nursery.start_soon(self._tell)
            nursery.start_soon(self._renew)
            task_status.started()
            try:
                async for envelope in inbox:  # nothing is sent: closing the mailbox stops it
                    envelope.done()
            finally:
                nursery.cancel_scope.cancel()
                self.holds.close()

    async def _tell(self) -> None:
        while True:
            self.holds.wake = trio.Event()
            try:
                told = await self.holds.tell_round(BATCH)
            except (ActorFailed, ReadFailed) as error:
                self.holds.log.error("holds_to_tell_not_read", error=repr(error))
                told = None
            if told is None:
                wait = self._backoff.next_wait(self._draw())
            elif told == BATCH:
                continue  # more to tell
            else:
                self._backoff.reset()
                wait = IDLE_SECONDS
            with trio.move_on_after(wait):
                await self.holds.wake.wait()

    async def _renew(self) -> None:
        """At the start (the rows just loaded), then every fifth of ``hold_seconds``: a
        hold under a line still on a ticket never lapses while the shop is up."""
        while True:
            try:
                await self.holds.renew()
            except (ActorFailed, ReadFailed) as error:
                self.holds.log.error("holds_to_renew_not_read", error=repr(error))
            await trio.sleep(self.holds.hold_seconds / 5)
