"""The cradle actor: one per batch scanner cradle (``[[cradles]]``), its uploads made
baskets on its lane.

Three tasks in the actor's own nursery:

* the poller opens the cradle's serial port (hw/device_links.py) and, every
  ``poll_seconds``, asks whether a scanner sits in it (interrogate, hw/opn.py); when
  one answers: sets its clock, reads its codes, journals them (store/cradles.py), and
  only then tells the scanner to clear them;
* the settler hands each journaled upload not yet taken to ``deliver`` (the edge's,
  server/devices.py: the lane's basket, exactly once per basket id), oldest first,
  and journals how it ended;
* the command loop answers ``GetDeviceState``.

Invariants (a crash anywhere, the server killed anywhere, never doubles nor loses a
basket):
  - the device is cleared only after its records are durable: a crash before the
    clear leaves them on the device, and the next read journals nothing new (the
    records are unique by device, time stamp, code and seq);
  - a basket's id comes from its upload, made once in the journal: handed to the lane
    again after a crash (taken, not yet marked done), the lane answers its first reply
    (the basket's key), and adds nothing;
  - hostile bytes (a bad CRC, a record cut short, garbage, a flood, silence) are bounded
    by hw/opn.py and by ``ANSWER_SECONDS`` / ``UPLOAD_SECONDS``, refused and counted
    (``refused``), with a warning at most every ``WARN_EVERY`` seconds; nothing is
    journaled nor cleared from them; never a crash;
  - a port absent or pulled out is a state (``up`` False) and one ``device_failure``
    entry of the technical event journal per failure, never an exception.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from functools import partial

import msgspec
import trio

from laneserver.actors.device_failure import record_device_failure
from laneserver.actors.device_loop import serve_state
from laneserver.actors.device_messages import DeviceState
from laneserver.actors.journal import CommitFailed, ReadFailed, commit, read
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock, SystemClock
from laneserver.config import CradleConfig
from laneserver.hw import opn
from laneserver.hw.device_links import Link, LinkDown, SerialLink
from laneserver.log import get_logger
from laneserver.store import cradles
from laneserver.store.cradles import (
    JournalUpload,
    UploadCleared,
    UploadRecord,
    UploadSettled,
)

MAILBOX = 4
ANSWER_SECONDS = 1.0  # a short answer (interrogate, clear, set the clock)
UPLOAD_SECONDS = 60.0  # a whole upload (5000 codes at 9600 baud take ~40 s)
DRAIN_SECONDS = 1.0  # bytes left over after a bad answer are read and dropped, this long at most
WARN_EVERY = 10.0
RETRY_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0


class Outcome(msgspec.Struct, frozen=True):
    """How handing a basket to the lane ended: ``taken`` (now or before: the lane's
    first reply), or not — ``final`` when it never can be (an unknown code), else it is
    handed again later (nobody signed in, the ticket has lines, the lane is busy)."""

    taken: bool
    final: bool = False
    error: str | None = None


Deliver = Callable[[str, tuple[tuple[str, int], ...]], Awaitable[Outcome]]


def open_link(config: CradleConfig) -> Link:
    return SerialLink(config.address, parity=config.parity)


class CradleActor:
    """The device actor of one cradle."""

    def __init__(
        self,
        config: CradleConfig,
        *,
        lane: str,
        deliver: Deliver,
        journal: Address,
        link: Link | None = None,
        on_state: Callable[[DeviceState], None] = lambda state: None,
        retry: float = RETRY_SECONDS,
        clock: Clock | None = None,
        on_step: Callable[[str], None] = lambda step: None,
    ) -> None:
        """
        Args:
            config: the cradle (``id``, ``address``, ``lane``, ``park``, ``parity``,
                ``poll_seconds``, ``set_clock``).
            lane: the lane its baskets go to (for its state).
            deliver: hands one basket (its id, its codes and counts) to the lane: the
                edge's; it owns its timeout and never raises for a refusal.
            journal: where uploads are journaled (and a failure recorded).
            link: its port; built from ``config`` when omitted.
            on_state: called with the new state at each change; quick, never blocking.
            retry: the first backoff before opening the port again.
            clock: the wall clock (the scanner's clock is set from it).
            on_step: called after each step of an upload ("read", "journaled",
                "cleared", "delivered"): the tests crash the actor there.
        """
        self._config = config
        self._deliver = deliver
        self._journal = journal
        self._link = link if link is not None else open_link(config)
        self._on_state = on_state
        self._retry = retry
        self._clock = clock if clock is not None else SystemClock()
        self._step = on_step
        self._failure_recorded = False
        self._dirty = False  # bytes may be left over from a bad or cut answer
        self._state = DeviceState(device=config.id, kind="cradle", lane=lane, address=config.address)
        self._log = get_logger("cradle", cradle=config.id, lane=lane)
        self._warned: dict[str, float] = {}
        self._waiting_for: str | None = None  # why the oldest basket waits (logged once)
        self._settle = trio.Event()

    @property
    def state(self) -> DeviceState:
        return self._state

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve ``inbox`` until it is closed, polling the cradle in the background.

        Raises:
            ExceptionGroup: a bug, so the supervisor restarts the actor. Never for a
                cradle that is absent, a scanner that sends garbage, or a lane that
                does not take a basket.

        Cancellation: stops at once. An upload read and not journaled is read again
        next time (the device still has it); one journaled is handed to the lane by
        the next run.
        """
        self._log.info("cradle_started", address=self._config.address, park=self._config.park)
        self._on_state(self._state)
        try:
            await serve_state(inbox, f"cradle {self._config.id}", lambda: self._state, (self._poller, self._settler),
                              self._link, task_status)
        finally:
            state = self._state
            self._log.info("cradle_stopped", uploads=state.uploads, baskets=state.baskets, refused=state.refused)

    # --- the device -------------------------------------------------------------------

    async def _poller(self) -> None:
        backoff = self._retry
        while True:
            try:
                await self._link.open()
                self._dirty = False
                self._came_up()
                backoff = self._retry
                while True:
                    await self._poll()
                    await trio.sleep(self._config.poll_seconds)
            except LinkDown as down:
                self._went_down(down.reason)
                await self._link.close()
                if not self._failure_recorded:
                    self._failure_recorded = True
                    await record_device_failure(self._journal, self._clock, device=f"cradle:{self._config.id}",
                                                reason=down.reason, lane=self._state.lane, log=self._log)
                await trio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_SECONDS)

    async def _poll(self) -> None:
        """One look at the cradle: a scanner's codes journaled, then cleared from it."""
        answer = await self._ask(opn.frame(opn.INTERROGATE), opn.FrameDecoder(opn.INTERROGATE), ANSWER_SECONDS)
        if answer is None:  # nobody in the cradle (the usual case): not a warning
            self._set_state(present=False)
            return
        who = answer if isinstance(answer, opn.Bad) else opn.identity(answer)
        if isinstance(who, opn.Bad):
            self._refused("cradle_answer_refused", who)
            return
        if not self._state.present:
            self._log.info("cradle_scanner_present", device=who.serial, firmware=who.firmware)
        self._set_state(present=True)
        if self._config.set_clock:
            await self._ask(opn.set_time(now_local(self._clock.now())), opn.FrameDecoder(opn.SET_TIME), ANSWER_SECONDS)
        upload = await self._ask(opn.frame(opn.UPLOAD), opn.UploadDecoder(), UPLOAD_SECONDS)
        if upload is None:
            self._refused("cradle_upload_refused", opn.Bad("silent", "the upload stopped before its end"))
            return
        if isinstance(upload, opn.Bad):
            self._refused("cradle_upload_refused", upload)
            return
        self._step("read")
        if upload.refused:
            self._set_state(refused=self._state.refused + upload.refused)
            self._warn("cradle_codes_refused", count=upload.refused, device=upload.serial)
        if not upload.records and not upload.refused:
            return  # nothing stored: nothing to clear
        records = tuple(UploadRecord(r.symbology, r.code, r.stamp, r.seq,
                                     None if r.at is None else r.at.isoformat()) for r in upload.records)
        try:
            if records:
                (made,) = await commit(self._journal, JournalUpload(cradle=self._config.id, device=upload.serial,
                                                                    records=records, at=self._clock.now()))
                if made is not None:
                    self._log.info("cradle_upload_journaled", device=upload.serial, upload=made, codes=len(records))
                    self._set_state(uploads=self._state.uploads + 1, codes=self._state.codes + len(records))
                    self._settle.set()
            self._step("journaled")
            cleared = await self._ask(opn.frame(opn.CLEAR), opn.FrameDecoder(opn.CLEAR), ANSWER_SECONDS)
            if not isinstance(cleared, opn.Frame):
                # Not cleared: its codes are read again next time, and journal nothing new.
                self._refused("cradle_clear_refused", cleared or opn.Bad("silent", "no answer to clear"))
                return
            await commit(self._journal, UploadCleared(cradle=self._config.id, device=upload.serial))
        except (CommitFailed, ActorFailed) as error:
            # Not durable: the device is not cleared; it is read again next time.
            self._warn("cradle_journal_failed", error=str(error))
            return
        self._step("cleared")

    async def _ask(self, command: bytes, decoder, seconds: float):
        """Send ``command``; the decoder's answer, or None when none came within
        ``seconds``, or when the device fell silent for ``ANSWER_SECONDS`` (lifted out
        of the cradle mid-answer).

        Raises:
            LinkDown: the port failed.
        """
        if self._dirty:
            await self._drain()
        await self._link.write(command)
        with trio.move_on_after(seconds):
            heard = trio.current_time()
            while trio.current_time() - heard < ANSWER_SECONDS:
                chunk = await self._link.read()
                if chunk:
                    heard = trio.current_time()
                    result = decoder.feed(chunk)
                    if result is not None:
                        if isinstance(result, opn.Bad):
                            self._dirty = True
                        return result
        self._dirty = True
        return None

    async def _drain(self) -> None:
        """Read and drop what is left over (bounded: a flooding device cannot hold us)."""
        dropped = 0
        with trio.move_on_after(DRAIN_SECONDS):
            while dropped < opn.MAX_UPLOAD_BYTES:
                chunk = await self._link.read()
                if not chunk:
                    break
                dropped += len(chunk)
        self._dirty = False

    # --- the lane ---------------------------------------------------------------------

    async def _settler(self) -> None:
        while True:
            try:
                await self._settle_all()
            except (CommitFailed, ReadFailed, ActorFailed) as error:
                self._warn("cradle_journal_failed", error=str(error))
            with trio.move_on_after(self._config.poll_seconds):
                await self._settle.wait()
            self._settle = trio.Event()

    async def _settle_all(self) -> None:
        """Each upload not taken yet, oldest first, handed to the lane; stops at the
        first the lane cannot take now (they arrive in order)."""
        pending = await read(self._journal, partial(cradles.pending, cradle=self._config.id))
        self._set_state(waiting=len(pending))
        for upload in pending:
            basket = upload.basket(self._config.id)
            outcome = await self._deliver(basket, upload.lines)
            self._step("delivered")
            if outcome.taken:
                await commit(self._journal, UploadSettled(id=upload.id, state="done", at=self._clock.now()))
                self._log.info("cradle_basket_taken", basket=basket, lines=len(upload.lines))
                self._waiting_for = None
                self._set_state(baskets=self._state.baskets + 1, waiting=self._state.waiting - 1)
            elif outcome.final:
                await commit(self._journal, UploadSettled(id=upload.id, state="refused", at=self._clock.now(),
                                                          error=outcome.error))
                self._log.warning("cradle_basket_refused", basket=basket, error=outcome.error)
                self._set_state(refused=self._state.refused + 1, waiting=self._state.waiting - 1)
            else:
                if outcome.error != self._waiting_for:
                    self._waiting_for = outcome.error
                    self._log.warning("cradle_basket_waiting", basket=basket, why=outcome.error)
                return

    # --- state ------------------------------------------------------------------------

    def _refused(self, event: str, bad: opn.Bad) -> None:
        self._set_state(refused=self._state.refused + 1)
        self._warn(event, reason=bad.reason, detail=bad.detail)

    def _warn(self, event: str, **fields) -> None:
        """A warning, at most once every ``WARN_EVERY`` seconds per kind, with the count."""
        now = trio.current_time()
        last = self._warned.get(event)
        if last is None or now - last >= WARN_EVERY:
            self._warned[event] = now
            self._log.warning(event, refused=self._state.refused, **fields)

    def _came_up(self) -> None:
        if not self._state.up:
            self._log.info("cradle_up")
        self._failure_recorded = False
        self._set_state(up=True, error=None)

    def _went_down(self, reason: str) -> None:
        if self._state.up or reason != self._state.error:
            self._log.warning("cradle_down", reason=reason)
        self._set_state(up=False, present=False, error=reason)

    def _set_state(self, **changes) -> None:
        self._state = msgspec.structs.replace(self._state, **changes)
        self._on_state(self._state)


def now_local(at: dt.datetime) -> dt.datetime:
    """``at`` as the server's wall-clock time, naive (a scanner's clock has no zone)."""
    return at.astimezone().replace(tzinfo=None)
