"""The payment-terminal device actor: one per configured terminal.

The lane asks it to ``Charge`` an amount and waits for the ``TerminalResult``;
everything else in the shop carries on meanwhile (the other lanes have their
own actors, and this one talks to nobody but its driver).

Invariants:
  - one charge at a time: the mailbox is read one command after the other, so a
    terminal never gets a second amount while the customer types a PIN;
  - every charge ends: the actor itself bounds the driver's ``charge`` by the
    terminal's ``timeout_seconds`` and by the asker's ``deadline``, and answers
    ``timeout`` when it runs out (after asking the terminal to ``abort``, for at
    most ``ABORT_SECONDS``; ``unknown`` when the driver keeps the charge as
    ``unsettled``: sent, and maybe taken). A terminal that never answers cannot
    keep a lane waiting forever;
  - a charge whose ``deadline`` has already passed when the actor gets to it is
    not started (answered ``timeout``): its lane stopped waiting, and a card
    charged with nobody to record the payment is money taken for nothing;
  - a terminal that cannot take a payment (``TerminalUnavailable``) is answered
    ``failed``, the actor goes on. Any other exception from the driver is a bug:
    the pending charge is answered ``failed`` first, then the actor crashes and
    its supervisor restarts it with a fresh driver;
  - no card data: only the amount and a reference go out, only the outcome, the
    authorisation code and a masked card label come back (see ``hw.terminal``).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import trio

from laneserver.actors.device_messages import DeviceState

# The message it takes (re-exported here for its importers).
from laneserver.actors.terminal_messages import Charge
from laneserver.config import TerminalConfig
from laneserver.hw.caisse_ap_terminal import CaisseApTerminal
from laneserver.hw.terminal import SimulatedTerminal, TerminalDriver, TerminalResult, TerminalUnavailable
from laneserver.log import get_logger

#: How long the terminal may take to acknowledge an abort.
ABORT_SECONDS = 2.0
#: The terminal's mailbox: the lane waits for each answer, so one is pending at most.
MAILBOX = 4


class TerminalActor:
    """The device actor of one payment terminal."""

    def __init__(self, config: TerminalConfig, *, driver: TerminalDriver | None = None, lane: str = "-",
                 on_state: Callable[[DeviceState], None] = lambda state: None) -> None:
        """
        Args:
            config: the terminal: id, kind, delay_seconds, timeout_seconds.
            driver: the terminal's driver; ``open_driver(config)`` when omitted
                (so a restarted actor gets a fresh one).
            lane: the lane it serves (for its state).
            on_state: called with its state (``/status``, ``device list``, ``/metrics``)
                at start and after each charge: down after a charge that could not
                reach the terminal (unavailable, no answer), up after one that did.
        """
        self._config = config
        self._driver = driver if driver is not None else open_driver(config)
        self._log = get_logger("terminal", terminal=config.id)
        self._on_state = on_state
        self._state = DeviceState(device=config.id, kind="terminal", lane=lane,
                                  address=config.address or config.kind, up=True)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve ``inbox`` until it is closed (it is not closed here: under
        ``supervise`` it outlives the actor).

        Raises:
            Exception: a bug in the driver, after the pending charge was answered
                ``failed``; the supervisor restarts the actor.

        Cancellation: a charge in progress is aborted on the terminal (shielded,
        at most ``ABORT_SECONDS``), then the cancellation goes on.
        """
        self._log.info("terminal_started", kind=self._config.kind, timeout=self._config.timeout_seconds)
        self._on_state(self._state)
        task_status.started()
        try:
            async for envelope in inbox:
                with envelope:
                    match envelope.command:
                        case Charge() as charge:
                            try:
                                result = await self._charge(charge)
                            except Exception:
                                envelope.reply(TerminalResult(
                                    outcome="failed", message="the payment terminal failed; try again"))
                                raise
                            envelope.reply(result)
                            self._charged(result)
                        case other:
                            self._log.warning("unknown_command", command=type(other).__name__)
        finally:
            self._log.info("terminal_stopped")

    async def _charge(self, charge: Charge) -> TerminalResult:
        now = trio.current_time()
        limit = now + self._config.timeout_seconds
        if charge.deadline is not None:
            limit = min(limit, charge.deadline)
        if limit <= now:
            self._log.warning("terminal_charge_too_late", reference=charge.reference)
            return TerminalResult(outcome="timeout", message="the lane stopped waiting before the terminal was asked")
        self._log.info("terminal_charge_started", amount=str(charge.amount), reference=charge.reference)
        recall = getattr(self._driver, "recall", None)
        if charge.lost is not None and recall is not None:  # an earlier run's charge, end unknown: asked first
            recall(charge.amount, charge.lost)
        try:
            with trio.move_on_at(limit):
                try:
                    result = await self._driver.charge(charge.amount, charge.reference)
                except TerminalUnavailable as error:
                    result = TerminalResult(outcome="failed",
                                            message=f"the payment terminal is unavailable: {error.reason}")
                self._log.info("terminal_charge_answered", reference=charge.reference, outcome=result.outcome,
                               authorisation=result.authorisation, card=result.card)
                return result
        except trio.Cancelled:
            # The actor is being stopped mid-charge: the terminal may still be
            # waiting for a card; tell it to stop (shielded), then go on stopping.
            await self._abort(charge.reference)
            raise
        # Timed out: same, and answer ``timeout`` — or ``unknown`` when the driver says
        # the charge was sent and may still be taken (``unsettled``, the Caisse-AP
        # driver): it asks the terminal how it ended before any new charge.
        self._log.warning("terminal_timeout", reference=charge.reference, waited=limit - now)
        await self._abort(charge.reference)
        if getattr(self._driver, "unsettled", None) is not None:
            return TerminalResult(outcome="unknown", message=f"the payment terminal did not answer within "
                                  f"{limit - now:g} s; it is asked how the payment ended before the next one")
        return TerminalResult(outcome="timeout", message=f"the payment terminal did not answer within {limit - now:g} s")

    def _charged(self, result: TerminalResult) -> None:
        """The state after a charge: down when the terminal could not be reached."""
        unreached = result.outcome in ("timeout", "unknown") or (
            result.outcome == "failed" and "unavailable" in (result.message or ""))
        self._state = msgspec.structs.replace(self._state, up=not unreached, charges=self._state.charges + 1,
                                              error=result.message if unreached else None)
        self._on_state(self._state)

    async def _abort(self, reference: str) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(ABORT_SECONDS) as scope:
            try:
                await self._driver.abort()
            except TerminalUnavailable as error:
                self._log.warning("terminal_abort_failed", reference=reference, error=error.reason)
        if scope.cancelled_caught:
            self._log.warning("terminal_abort_timed_out", reference=reference)


def open_driver(config: TerminalConfig) -> TerminalDriver:
    """The driver for ``config.kind``: the simulator (hw/terminal.py) or Caisse-AP over IP
    (hw/caisse_ap_terminal.py).

    Raises:
        ValueError: an unknown kind (the configuration's types refuse it first).
    """
    match config.kind:
        case "simulator":
            return SimulatedTerminal(delay=config.delay_seconds, outcomes=config.outcomes)
        case "caisse-ap":
            return CaisseApTerminal(config.address, register=config.cash_register or "01",
                                    protocol_id=config.protocol_id, terminal=config.id)
    raise ValueError(f"terminal {config.id!r}: unknown kind {config.kind!r}")
