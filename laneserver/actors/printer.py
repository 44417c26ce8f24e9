"""The printer device actor: one per receipt printer, owning its print queue.

Two tasks share the actor's state, both in the actor's own nursery:

* the command loop reads the mailbox, renders receipts (pure, fast), writes each
  job to the journal (one SQLite commit) and appends it to the queue; it never
  waits on the printer, so a lane that tells a printer something is never held
  up by paper or cables;
* the pump polls the printer's status and sends the queued jobs, oldest first,
  through the transport.

Invariants:
  - jobs print in the order they were told, each exactly once unless dropped;
  - a job that fails stays at the head of the queue and is retried every
    ``retry_seconds``, or at once when a new job arrives (a cashier printing
    again is a good moment to look at the printer again);
  - a printer that is down is a status (``online=False``), never an exception:
    only ``PrinterUnavailable`` means "down"; any other exception is a bug and
    crashes the actor, so the supervisor logs it and restarts it;
  - the queue holds at most ``MAX_PENDING`` jobs. When it is full the *oldest*
    job is dropped (``print_job_dropped``): after hundreds of receipts the
    customer of the oldest one has long gone, the customer at the till now is
    waiting for the newest;
  - a drawer kick that could not be sent within ``KICK_MAX_AGE`` seconds is
    dropped (``drawer_kick_expired``): a drawer springing open when the printer
    comes back an hour later, with nobody at the till, is a hazard;
  - a printer that goes down (from up) is a ``device_failure`` entry of the technical
    event journal when the actor is given the ``journal``: written by the pump, bounded
    (``FAILURE_RECORD_SECONDS``), never holding up the command loop; a journal that
    cannot take it is logged, and printing goes on;
  - with a journal (the server always gives one) the queue is durable: a job is
    written (``print_jobs``) before it is queued and deleted once the printer has
    taken it, so a restart, a crash or a kill -9 loses nothing queued; a restarted
    actor starts with the jobs left, in order. A job that several runs of the actor
    crashes (a bug in a transport: anything but ``PrinterUnavailable``) is counted
    before the crash goes on, and dropped at the start after ``MAX_CRASHES_PER_JOB``
    (``print_job_abandoned``), so one bad job cannot keep the printer down; a
    printer that is down, or a server killed and restarted, counts nothing. Drawer kicks are never written: a drawer
    springing open after a restart is the hazard ``KICK_MAX_AGE`` avoids. Without
    a journal (tests) the queue lives in the actor and a stop loses it;
  - a printer that answers ``DLE EOT`` (network, serial, USB; rules/printer_status.py)
    is polled every ``poll_seconds`` and before each job; a job is sent only while
    its status is printable (``ok``, ``paper_near_end``) and waits while the paper is
    out or the cover open; a drawer kick does not wait: it is sent at once as the
    real-time pulse DLE DC4 1, which a stopped printer still executes. The job is followed by ``DLE EOT 1``, whose answer proves
    the printer received every byte before it (real-time requests are answered in
    the order they arrive): only then is the job done. A printer that has never
    answered is sent jobs as before (done once the bytes are written);
  - exactly once: a job is done only after the printer took it, and a job not done
    is sent again whole. One window remains: the printer has taken the job but
    the actor is killed before the delete is written (a few milliseconds, one
    SQLite commit); after the restart that receipt prints a second time. A printer
    switched off after taking a job but before printing it loses it (its buffer);
    the status poll then says offline, and the cashier reprints (docs/operations.md).
    And a receipt is written here a moment after its sale was (the lane tells the
    printer once the sale is durable): a kill -9 in between loses the receipt,
    never the sale.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Callable

import msgspec
import trio

# The messages it takes and the status it reports (re-exported here for their importers).
from laneserver.actors.journal import CommitFailed, commit, read
from laneserver.actors.printer_messages import (
    GetStatus,
    KickDrawer,
    PrinterStatus,
    PrintReceipt,
    PrintSheet,
    PrintSlip,
)
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock, SystemClock
from laneserver.config import PrinterConfig
from laneserver.hw.closure_sheet import render_sheet
from laneserver.hw.printer_io import PrinterUnavailable, Transport, open_transport
from laneserver.hw.profiles import profile as printer_profile
from laneserver.hw.receipt import render_drawer_kick, render_drawer_slip, render_receipt
from laneserver.log import get_logger
from laneserver.rules import jet
from laneserver.rules import printer_status as rules
from laneserver.store import reads
from laneserver.store.ops import ChainRecord, PrintJobCrashed, PrintJobDone, QueuePrintJob

MAX_PENDING = 500
KICK_MAX_AGE = 30.0
FAILURE_RECORD_SECONDS = 5.0
MAX_CRASHES_PER_JOB = 3
CONFIRM_BYTES_PER_SECOND = 1000
SILENT_POLLS = 3


@dataclass(frozen=True, slots=True)
class _Job:
    name: str
    data: bytes
    expires: float = float("inf")  # trio clock time after which it is not worth sending
    id: int | None = None  # its row in print_jobs (None: not durable)
    realtime: bytes | None = None  # a drawer kick's real-time form (DLE DC4), sent past a stopped printer


@dataclass(frozen=True, slots=True)
class DrawerSensorConfig:
    """The drawer wired to this printer, as its lane describes it (``[[lanes]]``)."""

    polarity: rules.SensorPolarity
    left_open_after: float


class PrinterActor:
    """The device actor of one printer."""

    def __init__(
        self,
        config: PrinterConfig,
        *,
        on_status: Callable[[PrinterStatus], None] = lambda status: None,
        transport: Transport | None = None,
        zone: dt.tzinfo | None = None,
        journal: Address | None = None,
        drawer: DrawerSensorConfig | None = None,
        clock: Clock | None = None,
        lanes: tuple[str, ...] = (),
    ) -> None:
        """
        Args:
            config: the printer: id, kind, address, width, retry_seconds.
            on_status: called with the new status each time it changes (online,
                pending, error). Called from the actor's tasks: it must be quick
                and must not block (e.g. ``Address.tell_nowait`` to the lane).
            transport: where jobs go; ``open_transport(config)`` when omitted.
            zone: the shop's time zone: the time printed on receipts and slips
                (None: as the job gives it).
            journal: the journal actor: the queue is durable (``print_jobs``), and a
                printer that goes down is a ``device_failure`` entry; None keeps the
                queue in memory only and records nothing. ``clock``: the time of both;
                ``lanes``: the lanes it serves.
            drawer: the drawer sensor read through this printer's status, if any.

        Raises:
            ValueError: ``config.address`` does not fit ``config.kind``.
        """
        self._config = config
        self._on_status = on_status
        self._zone = zone
        self._transport = transport if transport is not None else open_transport(config)
        # Only transports that can read back have ``ask`` (hw/printer_io.py).
        self._ask = getattr(self._transport, "ask", None)
        self._profile = printer_profile(config.profile)
        self._journal = journal
        self._drawer_config = drawer
        self._log = get_logger("printer", printer=config.id)
        self._queue: deque[_Job] = deque()
        self._job_added = trio.Event()
        self._online = True
        self._error: str | None = None
        self._published: PrinterStatus | None = None
        # What the printer reports: None until it has answered a DLE EOT once.
        self._state: rules.PrinterState | None = None
        self._unanswered = False  # it answered before and has stopped answering
        self._silent = 0  # polls reached it but got no answer, before it ever answered
        self._drawer = rules.DrawerSensor()
        self.garbage = 0  # status bytes ignored (fixed bits wrong), since the start
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._lanes = lanes

    @property
    def reports_status(self) -> bool:
        """Has the printer answered a status request (this run)?"""
        return self._state is not None

    @property
    def status(self) -> PrinterStatus:
        """The status now (what ``GetStatus`` replies)."""
        reported = None  # a printer that has not answered DLE EOT: not known
        if self._state is not None:
            reported = "offline" if not self._online or self._unanswered else self._state.status
        return PrinterStatus(self._config.id, self._online, len(self._queue), self._error, status=reported,
                             drawer_open=self._drawer.open, drawer_left_open=self._drawer.left_open)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve ``inbox`` until it is closed, printing in the background.

        The inbox is not closed on exit: under ``supervise`` it outlives this
        actor, so a restarted actor reads the same mailbox.

        Raises:
            ExceptionGroup: a bug (in rendering or in a transport), so the
                supervisor restarts the actor. Never for a printer that is down.

        Cancellation: stops at once; pending jobs are counted in the
        ``printer_stopped`` log line: kept in ``print_jobs`` with a journal, lost
        without one.
        """
        self._log.info("printer_started", kind=self._config.kind, address=self._config.address,
                       profile=self._profile.name or None)
        if self._journal is not None:
            await self._load()
        self._publish()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._pump)
                task_status.started()
                await self._serve(inbox)
                # Inbox closed: nobody can ask for more, so the pump stops too.
                nursery.cancel_scope.cancel()
        finally:
            self._log.info("printer_stopped", pending=len(self._queue))

    async def _serve(self, inbox: trio.MemoryReceiveChannel) -> None:
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case PrintReceipt(job=job, receipt=receipt):
                        # Printed in the shop's time (timestamps are UTC).
                        if self._zone is not None:
                            printed = receipt.printed_at  # a copy's time of printing
                            receipt = msgspec.structs.replace(
                                receipt, at=receipt.at.astimezone(self._zone),
                                printed_at=None if printed is None else printed.astimezone(self._zone))
                        await self._enqueue(_Job(job, render_receipt(receipt, width=self._config.width,
                                                                     profile=self._profile)))
                    case PrintSlip(job=job, slip=slip):
                        if self._zone is not None:
                            slip = msgspec.structs.replace(slip, at=slip.at.astimezone(self._zone))
                        await self._enqueue(_Job(job, render_drawer_slip(slip, width=self._config.width,
                                                                         profile=self._profile)))
                    case PrintSheet(job=job, sheet=sheet):  # an X or a Z
                        if self._zone is not None:
                            sheet = msgspec.structs.replace(sheet, at=sheet.at.astimezone(self._zone))
                        await self._enqueue(_Job(job, render_sheet(sheet, width=self._config.width,
                                                                   profile=self._profile)))
                    case KickDrawer(pin=pin, on_ms=on_ms, off_ms=off_ms):
                        expires = trio.current_time() + KICK_MAX_AGE
                        await self._enqueue(_Job("drawer_kick", render_drawer_kick(pin, on_ms, off_ms), expires,
                                                 realtime=rules.drawer_pulse_now(pin, on_ms)))
                    case GetStatus():
                        envelope.reply(self.status)
                    case other:
                        self._log.warning("unknown_command", command=type(other).__name__)

    async def _load(self) -> None:
        """The durable queue left by the last run (a restart, a crash, a kill -9)."""
        try:
            rows = await read(self._journal, partial(reads.print_jobs, printer=self._config.id))
        except ActorFailed as error:
            self._log.error("print_queue_not_read", error=str(error))
            return
        for ident, name, data, crashes in rows:
            if crashes >= MAX_CRASHES_PER_JOB:
                self._log.error("print_job_abandoned", job=name, crashes=crashes)
                await self._forget(_Job(name, data, id=ident))
                continue
            self._queue.append(_Job(name, data, id=ident))
        if self._queue:
            self._log.info("print_queue_loaded", pending=len(self._queue))

    async def _enqueue(self, job: _Job) -> None:
        if self._journal is not None and job.expires == float("inf"):  # never a drawer kick
            try:
                (ident,) = await commit(self._journal, QueuePrintJob(printer=self._config.id, name=job.name,
                                                                    data=job.data, at=self._clock.now()))
                job = dataclasses.replace(job, id=ident)
            except (CommitFailed, ActorFailed) as error:
                # Printed all the same, but not kept across a restart.
                self._log.error("print_job_not_kept", job=job.name, error=str(error))
        if len(self._queue) >= MAX_PENDING:
            # The head may be in flight; the pump checks identity before
            # removing it, so dropping it here cannot make the pump drop another.
            dropped = self._queue.popleft()
            self._log.warning("print_job_dropped", job=dropped.name, pending=len(self._queue))
            await self._forget(dropped)
        self._queue.append(job)
        self._log.debug("print_job_queued", job=job.name, pending=len(self._queue))
        self._job_added.set()
        self._publish()

    async def _forget(self, job: _Job) -> None:
        """Delete ``job``'s durable row (printed, dropped or abandoned)."""
        if self._journal is None or job.id is None:
            return
        try:
            await commit(self._journal, PrintJobDone(id=job.id))
        except (CommitFailed, ActorFailed) as error:
            # Left in the table: printed again after a restart (at least once).
            self._log.error("print_job_not_cleared", job=job.name, error=str(error))

    async def _crashed_on(self, job: _Job) -> None:
        """Count a crash while sending ``job`` (see the module's invariants), bounded in
        time: the crash goes on whatever the journal does."""
        if self._journal is None or job.id is None:
            return
        with trio.move_on_after(FAILURE_RECORD_SECONDS):
            try:
                await commit(self._journal, PrintJobCrashed(id=job.id))
            except (CommitFailed, ActorFailed) as error:
                self._log.error("print_job_crash_not_counted", job=job.name, error=str(error))

    async def _pump(self) -> None:
        next_poll = trio.current_time()
        while True:
            # A fresh event before looking at the queue: a job added from here
            # on, even during a send, wakes the next wait.
            self._job_added = trio.Event()
            polls = self._ask is not None
            polled = polls and trio.current_time() >= next_poll
            if polled:
                await self._poll()
                next_poll = trio.current_time() + self._poll_interval()
            if not self._queue:
                with trio.move_on_at(next_poll if polls else float("inf")):
                    await self._job_added.wait()
                continue
            job = self._queue[0]
            if trio.current_time() > job.expires:
                self._queue.popleft()
                self._log.warning("drawer_kick_expired", job=job.name)
                self._publish()
                continue
            if self.reports_status:
                # Before a job: the status now, not the one from the last poll.
                if not polled:
                    await self._poll()
                    next_poll = trio.current_time() + self._poll_interval()
                if not self._online or self._unanswered or not self._state.printable:
                    # Paper out, cover open, offline: the job waits for the next poll.
                    # A drawer kick does not: the cashier needs the drawer to give change.
                    if self._online and not self._unanswered:
                        await self._kick_now()
                    with trio.move_on_at(next_poll):
                        await trio.sleep_forever()
                    continue
            try:
                taken = await self._send(job)
            except PrinterUnavailable as error:
                await self._down(error.reason)
                with trio.move_on_after(self._config.retry_seconds):
                    await self._job_added.wait()
                continue
            except Exception:
                await self._crashed_on(job)  # a bug: counted, then the actor crashes
                raise
            if not taken:
                # Sent, but the printer did not say it had it all: not done, sent again.
                self._unanswered = True
                await self._down("no answer after the job")
                with trio.move_on_after(self._config.retry_seconds):
                    await self._job_added.wait()
                continue
            if self._queue and self._queue[0] is job:
                self._queue.popleft()
            await self._forget(job)
            self._log.info("print_job_printed", job=job.name, pending=len(self._queue))
            self._came_online()

    async def _kick_now(self) -> None:
        """Send the queued drawer kicks now, as real-time pulses (DLE DC4 1), past the
        jobs held by paper or cover: the printer executes them even while stopped."""
        for job in [job for job in self._queue if job.realtime is not None]:
            try:
                await self._transport.send(job.realtime)
            except PrinterUnavailable as error:
                await self._down(error.reason)
                return
            if job in self._queue:
                self._queue.remove(job)
            self._log.info("drawer_kicked_in_real_time", status=self.status.status)
            self._publish()

    def _poll_interval(self) -> float:
        """``poll_seconds``; ten times as long for a printer that has stayed silent
        ``SILENT_POLLS`` times without ever answering (a model without DLE EOT): it is
        still asked now and then, in case it was only switched off."""
        if not self.reports_status and self._silent >= SILENT_POLLS:
            return self._config.poll_seconds * 10
        return self._config.poll_seconds

    async def _send(self, job: _Job) -> bool:
        """Send ``job``; True once the printer has taken it.

        Raises:
            PrinterUnavailable: it could not be sent.
        """
        if not self.reports_status:
            await self._transport.send(job.data)
            return True
        # The answer comes once the printer has read the job: a printer whose buffer is
        # full reads on as it prints, so a long job gets longer (a second per kilobyte).
        wait = self._config.reply_seconds + len(job.data) / CONFIRM_BYTES_PER_SECOND
        reply = await self._ask(job.data + rules.CONFIRM, 1, wait)
        if rules.confirmed(reply):
            self._unanswered = False
            return True
        if reply:
            self._count_garbage(len(reply))
        return False

    async def _poll(self) -> None:
        """Ask DLE EOT 1 to 4 and take in the answer; never raises for a printer that is down."""
        try:
            reply = await self._ask(rules.POLL, len(rules.STATUS_REQUESTS), self._config.reply_seconds)
        except PrinterUnavailable as error:
            self._sense_drawer(None)  # not known while the printer cannot be reached
            await self._down(error.reason)
            return
        state = rules.parse_poll(reply)
        garbage = len(reply) if state is None else state.garbage
        if garbage:
            self._count_garbage(garbage)
        if state is None:
            if self.reports_status:  # it answered before: silence now means it is off
                self._unanswered = True
                self._sense_drawer(None)
                await self._down("no answer to the status request")
            else:
                self._silent += 1
                self._came_online()  # reachable; its status is just not known
            return
        self._unanswered = False
        if self._state is None or state.status != self._state.status:
            self._log.info("printer_status", status=state.status, pending=len(self._queue))
        self._state = state
        self._sense_drawer(state.flags.drawer_pin3_high)
        self._came_online()

    def _sense_drawer(self, pin3_high: bool | None) -> None:
        if self._drawer_config is None:
            return
        is_open = rules.drawer_open(pin3_high, self._drawer_config.polarity)
        sensor = rules.drawer_seen(self._drawer, is_open, trio.current_time(), self._drawer_config.left_open_after)
        if sensor.left_open and not self._drawer.left_open:
            self._log.warning("drawer_left_open", seconds=self._drawer_config.left_open_after)
        self._drawer = sensor

    def _count_garbage(self, count: int) -> None:
        self.garbage += count
        self._log.warning("printer_status_garbage", bytes=count, total=self.garbage)

    async def _down(self, reason: str) -> None:
        """Offline for ``reason``; from online, also a ``device_failure`` entry."""
        was_online = self._online
        self._went_offline(reason)
        if was_online:
            await self._record_failure(reason)

    def _went_offline(self, reason: str) -> None:
        if self._online or reason != self._error:
            self._log.warning("printer_offline", reason=reason, pending=len(self._queue))
        self._online = False
        self._error = reason
        self._publish()

    async def _record_failure(self, reason: str) -> None:
        """The technical event journal's ``device_failure`` (bounded; see the invariants)."""
        if self._journal is None:
            return
        record = jet.jet_record(jet.DEVICE_FAILURE, device=f"printer:{self._config.id}", reason=reason,
                                lanes=list(self._lanes) or None)
        with trio.move_on_after(FAILURE_RECORD_SECONDS) as waited:
            try:
                await commit(self._journal, ChainRecord(chain="jet", at=self._clock.now(), record=record))
            except (CommitFailed, ActorFailed) as error:
                self._log.error("device_failure_not_journaled", error=str(error))
        if waited.cancelled_caught:
            self._log.error("device_failure_not_journaled", error="the journal did not answer in time")

    def _came_online(self) -> None:
        if not self._online:
            self._log.info("printer_online", pending=len(self._queue))
        self._online = True
        self._error = None
        self._publish()

    def _publish(self) -> None:
        status = self.status
        if status != self._published:
            self._published = status
            self._on_status(status)
