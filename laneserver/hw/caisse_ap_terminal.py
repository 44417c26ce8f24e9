"""The Caisse-AP over IP driver (``[[terminals]] kind = "caisse-ap"``): the bytes of
``hw/caisse_ap.py`` over a TCP connection to the terminal, behind the driver
interface of ``hw/terminal.py`` (``charge``, ``abort``).

One transaction, one connection: the driver connects to the terminal's
``address``, sends the request, reads the answer and closes. The socket is a trio
socket (network I/O: nothing blocks the event loop); the terminal actor bounds
every charge with its ``timeout_seconds`` by cancelling it.

A charge whose answer is lost — the terminal closed the connection or the network
broke after the debit was sent, the answer was not Caisse-AP, or the terminal
actor's time ran out — may have taken the customer's money, and Caisse-AP has no
"status of transaction N" request. So the driver keeps it as **unsettled** (its
amount and the reference sent in CF) and never sends another debit until the
terminal has said how it ended, by its **duplicata** (action 3: the last
transaction again):

* the connection broke: the driver reconnects at once (every ``retry_seconds``,
  as long as the charge's time lasts) and asks for the duplicata;
* later (the next card payment on the lane, the same key retried or not): the
  duplicata is asked first, before any new debit.

The duplicata's answer is matched to the unsettled charge by the reference the
terminal echoes in CF, or, when it echoes none, by amount (CB):

    ======================================  =============================================
    the terminal's last transaction         what the driver does
    ======================================  =============================================
    the unsettled one, approved             same amount asked now: answered ``approved``
                                            with its authorisation, no second debit; else
                                            refused (``unknown``) saying so, logged
                                            ``terminal_charge_unrecorded``: refund it on
                                            the terminal
    the unsettled one, not approved         nothing was taken: a new debit goes ahead
    another one (an older transaction)      the unsettled debit never ran: same
    no answer, busy (AE 01, no CB nor CF)   still unsettled: refused ``unknown``, nothing
                                            is sent ("finish or cancel it on the terminal,
                                            then try again"); past ``UNSETTLED_HOLD``
                                            (10 minutes) the cashier is told once to check
                                            the terminal's journal (logged
                                            ``terminal_charge_unsettled_given_up``) and
                                            card payments go on
    ======================================  =============================================

Right after a lost connection the terminal may still be finishing the payment
(the customer typing the PIN): it is expected to answer a duplicata then with
"not performed" (busy), and the driver asks again.

Invariants:
  - a second debit is never sent while the previous one's result is unknown;
  - every read is bounded (``MAX_MESSAGE`` bytes an answer) and every byte checked by
    ``hw/caisse_ap.py``: hostile bytes are a refusal (``unknown`` after a debit was
    sent, since it may have been taken; nothing else), never an exception out of
    ``charge`` other than ``TerminalUnavailable``;
  - the unsettled charge lives in the driver's memory: a restart of the server (or of
    the terminal actor after a driver bug) forgets it; it is logged
    (``terminal_charge_unsettled``) so the shop can check the terminal's journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import trio

from laneserver.hw import caisse_ap
from laneserver.hw.caisse_ap import Answer, CaisseApError, parse_address
from laneserver.hw.terminal import TerminalResult, TerminalUnavailable
from laneserver.log import get_logger

#: How long a connection to the terminal may take.
CONNECT_SECONDS = 5.0
#: After a lost connection, how often the driver tries to reach the terminal again.
RETRY_SECONDS = 1.0
#: An answer ends at a field's end once it has its status (AE) and nothing more comes
#: for this long (or the terminal closes the connection).
ANSWER_GAP = 0.05
#: Bytes read at once.
CHUNK = 4096
#: How long an unsettled debit blocks new ones while the terminal shows nothing of it
#: (a terminal restarted since has no last transaction to show; one that cannot do a
#: duplicata never will). Far longer than a terminal waits for a card or a PIN: then
#: the shop is told (and the log keeps it) once, and card payments go on.
UNSETTLED_HOLD = 600.0


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A debit sent whose answer was lost: the amount and the reference sent in CF."""

    amount: Decimal
    reference: str
    since: float  # trio clock time the debit was sent


class Lost(Exception):
    """The connection broke before a whole answer came."""


class CaisseApTerminal:
    """A payment terminal speaking Caisse-AP over IP (see the module doc)."""

    def __init__(self, address: str, *, register: str, protocol_id: str, terminal: str = "",
                 connect_seconds: float = CONNECT_SECONDS, retry_seconds: float = RETRY_SECONDS,
                 unsettled_hold: float = UNSETTLED_HOLD) -> None:
        """
        Args:
            address: the terminal's ``host:port``.
            register: the cash register number sent in CA (1 or 2 digits).
            protocol_id: the cash register protocol identifier sent in CJ (12 digits).
            terminal: the terminal's id, for the log.
        """
        self.address = address
        self.host, self.port = parse_address(address)
        self.register = register
        self.protocol_id = protocol_id
        self.connect_seconds = connect_seconds
        self.retry_seconds = retry_seconds
        self.unsettled_hold = unsettled_hold
        #: The debit whose answer was lost, until the terminal says how it ended.
        self.unsettled: Unsettled | None = None
        self._stream: trio.SocketStream | None = None
        self._log = get_logger("terminal", terminal=terminal, kind="caisse-ap")

    # --- the driver interface ----------------------------------------------------

    async def charge(self, amount: Decimal, reference: str) -> TerminalResult:
        """Debit ``amount`` (a negative amount: refund its size).

        Raises:
            TerminalUnavailable: the terminal cannot be reached; nothing was sent.

        Cancellation: the connection is closed; a debit already sent stays unsettled
        (the next charge asks the terminal how it ended before anything else).
        """
        if self.unsettled is not None:
            settled = await self._settle_before(amount)
            if settled is not None:
                return settled
        try:
            message = caisse_ap.debit(amount, register=self.register, protocol_id=self.protocol_id,
                                      private=reference)
        except CaisseApError as error:
            return TerminalResult(outcome="failed", message=f"the terminal cannot take this amount: {error}")
        stream = await self._connect()
        try:
            # From the first byte sent, the terminal may take the money.
            self.unsettled = Unsettled(amount, reference, trio.current_time())
            self._log.info("caisse_ap_debit_sent", reference=reference, amount=str(amount))
            reply: Answer | Lost = await self._exchange(stream, message)
        except Lost as error:
            self._log.warning("caisse_ap_answer_lost", reference=reference, error=str(error))
            reply = error
        except CaisseApError as error:
            self._log.error("terminal_charge_unsettled", reference=reference, amount=str(amount), error=str(error))
            return _unknown(f"the terminal's answer could not be read ({error})")
        except trio.Cancelled:
            self._log.error("terminal_charge_unsettled", reference=reference, amount=str(amount),
                            error="no answer before the charge's time ran out")
            raise
        finally:
            await self._close(stream)
        if isinstance(reply, Lost):
            return await self._recover(amount)
        return self._debit_result(reply, amount, reference)

    def recall(self, amount: Decimal, reference: str) -> None:
        """A debit (or credit) of ``amount`` an earlier run sent as ``reference`` and never
        heard the end of: kept as unsettled, so the next charge asks the duplicata first
        (``_settle_before``). Nothing is done while another is unsettled already."""
        if self.unsettled is None:
            self.unsettled = Unsettled(amount, reference, trio.current_time())

    async def abort(self) -> None:
        """Close the connection (Caisse-AP over IP has no abort message). A debit sent
        stays unsettled."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()
        else:
            await trio.lowlevel.checkpoint()

    # --- answers -------------------------------------------------------------------

    def _debit_result(self, reply: Answer, amount: Decimal, reference: str) -> TerminalResult:
        """The outcome of a debit's own answer (the terminal has settled it)."""
        self.unsettled = None
        wanted = int(amount.copy_abs() * 100)
        if reply.performed and reply.amount_cents is not None and reply.amount_cents != wanted:
            # Approved for another amount: never recorded as this payment.
            self._log.error("terminal_charge_unrecorded", reference=reference, amount=str(amount),
                            charged_cents=reply.amount_cents, authorisation=reply.authorisation)
            return _unknown(f"the terminal approved {Decimal(reply.amount_cents) / 100} instead of {amount}: "
                            "refund it on the terminal")
        kind, why = caisse_ap.outcome(reply)
        if kind != "approved":
            return TerminalResult(outcome=kind, card=reply.card, message=why)  # type: ignore[arg-type]
        return _approved(reply)

    async def _settle_before(self, amount: Decimal) -> TerminalResult | None:
        """A later charge while one is unsettled: ask the duplicata once. None: the
        unsettled debit took nothing, go on with the new one."""
        unsettled = self.unsettled
        assert unsettled is not None
        try:
            found = await self._last_transaction(unsettled)
        except (Lost, CaisseApError, TerminalUnavailable) as error:
            self._log.warning("caisse_ap_still_unsettled", reference=unsettled.reference, error=str(error))
            return _unknown(f"the terminal cannot say how the payment of {unsettled.amount} ended ({error})")
        if found is None:
            if trio.current_time() - unsettled.since < self.unsettled_hold:
                self._log.warning("caisse_ap_still_unsettled", reference=unsettled.reference, error="terminal busy")
                return _unknown(f"the terminal cannot say yet how the payment of {unsettled.amount} ended")
            self.unsettled = None
            self._log.error("terminal_charge_unsettled_given_up", reference=unsettled.reference,
                            amount=str(unsettled.amount))
            return _unknown(f"the terminal never said how the payment of {unsettled.amount} ended: check its "
                            f"journal for reference {unsettled.reference}; the next card payment is charged")
        ours, reply = found
        self.unsettled = None
        if not ours or not reply.performed:
            self._log.info("caisse_ap_settled_nothing_taken", reference=unsettled.reference)
            return None
        if amount == unsettled.amount:
            self._log.info("terminal_charge_reconciled", reference=unsettled.reference,
                           authorisation=reply.authorisation, amount=str(amount))
            return _approved(reply)
        self._log.error("terminal_charge_unrecorded", reference=unsettled.reference, amount=str(unsettled.amount),
                        authorisation=reply.authorisation)
        return _unknown(f"the cut-off payment of {unsettled.amount} was approved on the terminal (authorisation "
                        f"{reply.authorisation or '-'}) but not recorded: refund it on the terminal")

    async def _recover(self, amount: Decimal) -> TerminalResult:
        """The connection broke after the debit was sent: reach the terminal again
        and ask how it ended, until it says or the charge's time runs out (cancelled)."""
        unsettled = self.unsettled
        assert unsettled is not None
        try:
            while True:
                await trio.sleep(self.retry_seconds)
                try:
                    found = await self._last_transaction(unsettled)
                except (Lost, TerminalUnavailable) as error:
                    self._log.info("caisse_ap_reconnecting", reference=unsettled.reference, error=str(error))
                    continue
                except CaisseApError as error:
                    self._log.error("terminal_charge_unsettled", reference=unsettled.reference,
                                    amount=str(unsettled.amount), error=str(error))
                    return _unknown(f"the terminal's answer could not be read ({error})")
                if found is not None:
                    break  # None: busy, still finishing it
        except trio.Cancelled:
            self._log.error("terminal_charge_unsettled", reference=unsettled.reference,
                            amount=str(unsettled.amount), error="the terminal could not be reached again in time")
            raise
        ours, reply = found
        self.unsettled = None
        if not ours:
            self._log.info("caisse_ap_settled_nothing_taken", reference=unsettled.reference)
            return TerminalResult(outcome="failed", message="the connection to the terminal broke before it took "
                                                            "the payment")
        self._log.info("terminal_charge_reconciled", reference=unsettled.reference,
                       authorisation=reply.authorisation, performed=reply.performed)
        return self._debit_result(reply, amount, unsettled.reference)

    async def _last_transaction(self, unsettled: Unsettled) -> tuple[bool, Answer] | None:
        """The terminal's last transaction (duplicata) and whether it is ``unsettled``;
        None: the terminal answered without one (busy, or nothing to show).

        Raises:
            TerminalUnavailable, Lost, CaisseApError.
        """
        stream = await self._connect()
        try:
            reply = await self._exchange(
                stream, caisse_ap.duplicata(register=self.register, protocol_id=self.protocol_id))
        finally:
            await self._close(stream)
        if reply.private is not None:
            return reply.private == caisse_ap.private_field(unsettled.reference), reply
        if reply.amount_cents is not None:
            # No CF echoed: the same amount, and the same action when it says (a refund
            # of 8.90 is not the debit of 8.90).
            action = caisse_ap.REFUND if unsettled.amount < 0 else caisse_ap.DEBIT
            same = reply.amount_cents == int(unsettled.amount.copy_abs() * 100) and reply.action in (None, action)
            return same, reply
        return None

    # --- the socket ----------------------------------------------------------------

    async def _connect(self) -> trio.SocketStream:
        try:
            with trio.fail_after(self.connect_seconds):
                stream = await trio.open_tcp_stream(self.host, self.port)
        except trio.TooSlowError:
            raise TerminalUnavailable(f"no connection to {self.address} within {self.connect_seconds:g} s") from None
        except OSError as error:
            raise TerminalUnavailable(f"cannot connect to {self.address}: {error.strerror or error}") from None
        self._stream = stream
        return stream

    async def _close(self, stream: trio.SocketStream) -> None:
        if self._stream is stream:
            self._stream = None
        with trio.CancelScope(shield=True):
            await stream.aclose()

    async def _exchange(self, stream: trio.SocketStream, message: bytes) -> Answer:
        """Send ``message``, read the answer.

        Raises:
            Lost: the connection broke or closed before a whole answer.
            CaisseApError: the answer is not Caisse-AP, or too long.
        """
        reader = caisse_ap.Reader()
        try:
            await stream.send_all(message)
            while True:
                if reader.has("AE") and reader.at_boundary:
                    with trio.move_on_after(ANSWER_GAP):
                        data = await stream.receive_some(CHUNK)
                        if not data:
                            break
                        reader.feed(data)
                        continue
                    break  # nothing more: the answer is whole
                data = await stream.receive_some(CHUNK)
                if not data:
                    raise Lost("the terminal closed the connection before answering")
                reader.feed(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            raise Lost(f"the connection to the terminal broke: {error}") from None
        return caisse_ap.answer(reader.fields)


def _approved(reply: Answer) -> TerminalResult:
    authorisation = reply.authorisation or "-"
    reference = f"{authorisation} {reply.card}" if reply.card else authorisation
    return TerminalResult(outcome="approved", authorisation=authorisation, card=reply.card, reference=reference,
                          message="approved by the terminal")


def _unknown(why: str) -> TerminalResult:
    return TerminalResult(outcome="unknown", message=why)
