"""The printer device actor: one per receipt printer, owning its print queue.

Two tasks share the actor's state, both in the actor's own nursery:

* the command loop reads the mailbox, renders receipts (pure, fast) and appends
  jobs to the queue; it never waits on the printer, so a lane that tells a
  printer something is never held up by paper or cables;
* the pump sends the queued jobs, oldest first, through the transport.

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
  - the queue lives in the actor: a crash or a stop loses pending jobs (the
    count is logged). On a crash that is deliberate, since the job being sent
    may be what makes the transport fail, and replaying it would crash again.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass
from typing import Callable

import msgspec
import trio

from laneserver.actors.journal import CommitFailed, commit

# The messages it takes and the status it reports (re-exported here for their importers).
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
from laneserver.hw.receipt import render_drawer_kick, render_drawer_slip, render_receipt
from laneserver.log import get_logger
from laneserver.rules import jet
from laneserver.store.ops import ChainRecord

MAX_PENDING = 500
KICK_MAX_AGE = 30.0
FAILURE_RECORD_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class _Job:
    name: str
    data: bytes
    expires: float = float("inf")  # trio clock time after which it is not worth sending


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
            journal: where a ``device_failure`` entry goes when the printer goes down
                (None: not recorded); ``clock`` its time; ``lanes`` the lanes it serves.

        Raises:
            ValueError: ``config.address`` does not fit ``config.kind``.
        """
        self._config = config
        self._on_status = on_status
        self._zone = zone
        self._transport = transport if transport is not None else open_transport(config)
        self._log = get_logger("printer", printer=config.id)
        self._queue: deque[_Job] = deque()
        self._job_added = trio.Event()
        self._online = True
        self._error: str | None = None
        self._published: PrinterStatus | None = None
        self._journal = journal
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._lanes = lanes

    @property
    def status(self) -> PrinterStatus:
        """The status now (what ``GetStatus`` replies)."""
        return PrinterStatus(self._config.id, self._online, len(self._queue), self._error)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve ``inbox`` until it is closed, printing in the background.

        The inbox is not closed on exit: under ``supervise`` it outlives this
        actor, so a restarted actor reads the same mailbox.

        Raises:
            ExceptionGroup: a bug (in rendering or in a transport), so the
                supervisor restarts the actor. Never for a printer that is down.

        Cancellation: stops at once; pending jobs are lost and counted in the
        ``printer_stopped`` log line.
        """
        self._log.info("printer_started", kind=self._config.kind, address=self._config.address)
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
                        self._enqueue(_Job(job, render_receipt(receipt, width=self._config.width)))
                    case PrintSlip(job=job, slip=slip):
                        if self._zone is not None:
                            slip = msgspec.structs.replace(slip, at=slip.at.astimezone(self._zone))
                        self._enqueue(_Job(job, render_drawer_slip(slip, width=self._config.width)))
                    case PrintSheet(job=job, sheet=sheet):  # an X or a Z
                        if self._zone is not None:
                            sheet = msgspec.structs.replace(sheet, at=sheet.at.astimezone(self._zone))
                        self._enqueue(_Job(job, render_sheet(sheet, width=self._config.width)))
                    case KickDrawer():
                        expires = trio.current_time() + KICK_MAX_AGE
                        self._enqueue(_Job("drawer_kick", render_drawer_kick(), expires))
                    case GetStatus():
                        envelope.reply(self.status)
                    case other:
                        self._log.warning("unknown_command", command=type(other).__name__)

    def _enqueue(self, job: _Job) -> None:
        if len(self._queue) >= MAX_PENDING:
            # The head may be in flight; the pump checks identity before
            # removing it, so dropping it here cannot make the pump drop another.
            dropped = self._queue.popleft()
            self._log.warning("print_job_dropped", job=dropped.name, pending=len(self._queue))
        self._queue.append(job)
        self._log.debug("print_job_queued", job=job.name, pending=len(self._queue))
        self._job_added.set()
        self._publish()

    async def _pump(self) -> None:
        while True:
            # A fresh event before looking at the queue: a job added from here
            # on, even during a send, wakes the next wait.
            self._job_added = trio.Event()
            if not self._queue:
                await self._job_added.wait()
                continue
            job = self._queue[0]
            if trio.current_time() > job.expires:
                self._queue.popleft()
                self._log.warning("drawer_kick_expired", job=job.name)
                self._publish()
                continue
            try:
                await self._transport.send(job.data)
            except PrinterUnavailable as error:
                was_online = self._online
                self._went_offline(error.reason)
                if was_online:
                    await self._record_failure(error.reason)
                with trio.move_on_after(self._config.retry_seconds):
                    await self._job_added.wait()
                continue
            if self._queue and self._queue[0] is job:
                self._queue.popleft()
            self._log.info("print_job_printed", job=job.name, pending=len(self._queue))
            self._came_online()

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
