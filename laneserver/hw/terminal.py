"""Payment terminals: the driver interface, and the simulated terminal.

A driver has two methods:

* ``async def charge(self, amount, reference) -> TerminalResult``: ask the
  terminal to take ``amount`` from a card. It returns when the terminal has
  answered (the customer inserted the card and typed the PIN, or the terminal
  declined, or the customer or cashier cancelled on the terminal);
* ``async def abort(self) -> None``: tell the terminal to stop waiting for a
  card (the server gave up on the charge: its timeout ran out).

A driver may also have an ``unsettled`` attribute: not None while a charge it sent
may have been taken but its result is unknown (the Caisse-AP driver,
``hw/caisse_ap_terminal.py``); a charge that times out then is answered
``unknown``, not ``timeout``. And a ``recall(amount, reference)`` method: a charge an
earlier run sent and never heard the end of (a card refund the lane had marked under
way, ``Charge.lost``): the next charge of that amount asks how it ended first, and one
made is the answer, with no second one.

Invariants:
  - card data never reaches the server: a driver hands back the outcome, the
    terminal's authorisation code and at most a *masked* card label
    (``"VISA ****4242"``); it never sees or returns a card number, track or PIN.
    Only the amount and a reference (which lane, which payment) go to the
    terminal;
  - a driver does not enforce the charge's time limit: its caller (the terminal
    actor) does, with ``trio.fail_after``/``move_on_after``, and calls
    ``abort`` afterwards. So a driver's ``charge`` must be cancellable;
  - ``TerminalUnavailable`` means "the terminal cannot take a payment now" (off,
    unplugged, busy): the payment fails, nothing else happens. Anything else
    escaping ``charge`` is a bug in the driver: the terminal actor answers the
    pending charge as failed and crashes, so its supervisor restarts it.

The simulated terminal (``kind = "simulator"``) answers from the cents of the
amount (``outcomes = "cents"``, the default), so a test chooses the outcome by
what it sells; with ``outcomes = "approve"`` (the embedded demo shop) it approves
every charge:

    ======  ==========================================================
    cents   outcome
    ======  ==========================================================
    .91     ``declined`` (after the delay)
    .92     ``cancelled`` on the terminal (after the delay)
    .93     never answers: the terminal actor's timeout gives ``timeout``
    .94     the driver raises (a driver bug): the charge fails, the
            terminal actor is restarted
    other   ``approved`` (after the delay), with an authorisation code
    ======  ==========================================================

A negative amount is a refund of its size (the lane gives back a card payment the
cashier removes: actors/lane_payments.py ``reverse``), answered by the same cents.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Literal, Protocol

import msgspec
import trio


#: ``unknown``: the terminal's answer was lost after the charge was sent, and the
#: terminal could not yet say how it ended (Caisse-AP, hw/caisse_ap_terminal.py):
#: nothing is recorded, and the driver asks the terminal before any new charge.
Outcome = Literal["approved", "declined", "cancelled", "timeout", "failed", "unknown"]

#: The cents of an amount that make the simulated terminal do something other than approve.
SIM_DECLINED = 91
SIM_CANCELLED = 92
SIM_NO_ANSWER = 93
SIM_DRIVER_BUG = 94
#: The cents the simulator does not approve.
SIM_NOT_APPROVED = (SIM_DECLINED, SIM_CANCELLED, SIM_NO_ANSWER, SIM_DRIVER_BUG)


class TerminalResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a terminal answered to one charge.

    ``authorisation`` is set when ``outcome`` is ``approved``: it becomes the
    payment's ``reference`` unless the driver gives ``reference`` (the Caisse-AP
    driver: the authorisation and the masked card, ``A00395 ****0674``). ``card``
    is a masked label at most. ``message`` says why, for people, when the charge
    was not approved.
    """

    outcome: Outcome
    authorisation: str | None = None
    card: str | None = None
    message: str = ""
    reference: str | None = None

    @property
    def approved(self) -> bool:
        return self.outcome == "approved"


class TerminalUnavailable(Exception):
    """The terminal cannot take a payment now; ``reason`` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TerminalDriver(Protocol):
    async def charge(self, amount: Decimal, reference: str) -> TerminalResult: ...

    async def abort(self) -> None: ...


class SimulatedTerminal:
    """A terminal with no hardware, for the demo and the tests (see the module doc)."""

    def __init__(self, *, delay: float = 1.0, outcomes: Literal["cents", "approve"] = "cents") -> None:
        self.delay = delay
        self.outcomes = outcomes
        #: How many times ``abort`` was called (a test reads it).
        self.aborts = 0
        #: The references charged, in order (a test reads it).
        self.charges: list[str] = []
        self._recalled: tuple[Decimal, str] | None = None

    def recall(self, amount: Decimal, reference: str) -> None:
        """A charge of ``amount`` an earlier run sent as ``reference`` and never heard the
        end of. The simulator keeps no journal: that charge ended as its cents rule
        answers ``amount`` — approved (the only end the rule gives that leaves the lane
        not knowing: the others answer, or fail, at once), so the next charge of that
        amount is answered approved from it, with no second charge."""
        self._recalled = (amount, reference)

    async def charge(self, amount: Decimal, reference: str) -> TerminalResult:
        # ``approve`` (the demo shop): every charge is approved, whatever the amount.
        cents = int(amount.copy_abs() * 100) % 100 if self.outcomes == "cents" else 0
        recalled, self._recalled = self._recalled, None
        if recalled is not None and recalled[0] == amount and cents not in SIM_NOT_APPROVED:
            await trio.lowlevel.checkpoint()
            return TerminalResult(outcome="approved", authorisation=authorisation_code(amount, recalled[1]),
                                  card="SIMULATED ****0000")
        self.charges.append(reference)
        if cents == SIM_NO_ANSWER:
            await trio.sleep_forever()
        if cents == SIM_DRIVER_BUG:
            await trio.lowlevel.checkpoint()
            raise RuntimeError(f"simulated terminal driver bug (amount {amount})")
        await trio.sleep(self.delay)
        if cents == SIM_DECLINED:
            return TerminalResult(outcome="declined", card="SIMULATED ****0000", message="card declined by the bank")
        if cents == SIM_CANCELLED:
            return TerminalResult(outcome="cancelled", message="cancelled on the terminal")
        return TerminalResult(outcome="approved", authorisation=authorisation_code(amount, reference),
                              card="SIMULATED ****0000")

    async def abort(self) -> None:
        await trio.lowlevel.checkpoint()
        self.aborts += 1


def authorisation_code(amount: Decimal, reference: str) -> str:
    """The simulated terminal's authorisation code: ``SIM`` and six hex digits,
    the same for the same amount and reference (so tests can predict it)."""
    digest = hashlib.sha256(f"{amount:.2f}|{reference}".encode()).hexdigest()
    return "SIM" + digest[:6].upper()
