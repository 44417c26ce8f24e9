"""The Caisse-AP driver against a Caisse-AP peer over loopback TCP (tests/hw/caisse_ap_peer.py),
through its terminal actor: real sockets, so real (short) time under ``trio.fail_after``.

What a shop needs from it: an approval recorded with its authorisation and masked card;
refusals, abandons, silences and hostile bytes answered with a reason; and a debit
whose answer was lost never sent a second time: the terminal's duplicata says how it
ended first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
import trio

from laneserver.actors.runtime import Address, open_mailbox
from laneserver.actors.terminal import TerminalActor
from laneserver.actors.terminal_messages import Charge
from laneserver.config import TerminalConfig
from laneserver.hw.caisse_ap_terminal import CaisseApTerminal
from laneserver.hw.terminal import TerminalResult
from laneserver.actors.terminal import open_driver
from tests.hw.caisse_ap_peer import APPROVAL, CaisseApPeer

D = Decimal
RETRY = 0.05


@asynccontextmanager
async def terminal_and_peer(timeout: float = 3.0, hold: float = 600.0) -> AsyncIterator[tuple[Address, CaisseApPeer, CaisseApTerminal]]:
    async with trio.open_nursery() as nursery:
        peer: CaisseApPeer = await nursery.start(CaisseApPeer().run)
        config = TerminalConfig(id="t1", kind="caisse-ap", address=peer.address, cash_register="01",
                                timeout_seconds=timeout)
        driver = CaisseApTerminal(peer.address, register="01", protocol_id="000000000000", retry_seconds=RETRY,
                                  unsettled_hold=hold)
        address, inbox = open_mailbox("terminal:t1", 4)
        await nursery.start(TerminalActor(config, driver=driver).run, inbox)
        yield address, peer, driver
        address.close()
        nursery.cancel_scope.cancel()


async def charge(terminal: Address, amount: str, reference: str = "1-20240301-1") -> TerminalResult:
    return await terminal.ask(Charge(D(amount), reference, None))


async def test_an_approved_debit_carries_its_authorisation_and_masked_card():
    with trio.fail_after(10):
        async with terminal_and_peer() as (terminal, peer, driver):
            result = await charge(terminal, "25.00")
            assert result == TerminalResult(outcome="approved", authorisation=APPROVAL, card="****0674",
                                            reference=f"{APPROVAL} ****0674", message="approved by the terminal")
            [request] = peer.requests
            assert request == {"CZ": "0300", "CJ": "000000000000", "CA": "01", "CB": "2500", "CD": "0",
                               "CE": "978", "CF": "1-20240301-1"}
            assert peer.charged == [("2500", "1-20240301-1")] and driver.unsettled is None


@pytest.mark.parametrize(("behaviour", "outcome", "why"), [
    ("refuse", "declined", "refused"), ("abandon", "cancelled", "abandoned"),
])
async def test_refused_and_abandoned_charge_nothing(behaviour, outcome, why):
    with trio.fail_after(10):
        async with terminal_and_peer() as (terminal, peer, driver):
            peer.script = [behaviour]
            result = await charge(terminal, "8.91")
            assert result.outcome == outcome and why in result.message and result.authorisation is None
            assert peer.charged == [] and driver.unsettled is None
            # The next payment is a plain debit: nothing to reconcile.
            assert (await charge(terminal, "8.91", "1-x-2")).outcome == "approved"
            assert [r["CD"] for r in peer.requests] == ["0", "0"]


async def test_an_unreachable_terminal_fails_the_charge_and_sends_nothing():
    with trio.fail_after(10):
        async with terminal_and_peer() as (terminal, _peer, driver):
            listener = trio.socket.socket()
            await listener.bind(("127.0.0.1", 0))
            port = listener.getsockname()[1]
            listener.close()  # nothing listens there
            driver.host, driver.port, driver.address = "127.0.0.1", port, f"127.0.0.1:{port}"
            result = await charge(terminal, "5.00")
            assert result.outcome == "failed" and f"127.0.0.1:{port}" in result.message
            assert driver.unsettled is None


async def test_a_drop_after_the_debit_is_reconciled_on_reconnect_not_charged_again():
    with trio.fail_after(10):
        async with terminal_and_peer() as (terminal, peer, driver):
            peer.script = ["drop"]  # charges the card, closes without answering
            result = await charge(terminal, "12.50")
            assert (result.outcome, result.authorisation, result.card) == ("approved", APPROVAL, "****0674")
            assert [r["CD"] for r in peer.requests] == ["0", "3"]  # the debit, then its duplicata
            assert peer.charged == [("1250", "1-20240301-1")] and driver.unsettled is None


async def test_a_drop_before_the_debit_ran_is_settled_as_nothing_taken():
    with trio.fail_after(10):
        async with terminal_and_peer() as (terminal, peer, driver):
            await charge(terminal, "1.00", "1-x-0")  # an earlier, approved transaction
            peer.script = ["drop_before"]
            result = await charge(terminal, "12.50")
            # The duplicata shows the earlier transaction (its CF is not ours): nothing was taken.
            assert result.outcome == "failed" and "before it took" in result.message
            assert peer.charged == [("100", "1-x-0")] and driver.unsettled is None


async def test_a_silent_terminal_times_out_then_its_late_approval_is_recorded_not_charged_twice():
    with trio.fail_after(15):
        async with terminal_and_peer(timeout=0.5) as (terminal, peer, driver):
            peer.script = ["silent"]
            result = await charge(terminal, "7.93")
            assert result.outcome == "unknown" and "did not answer within 0.5 s" in result.message
            assert driver.unsettled is not None and driver.unsettled.amount == D("7.93")
            # The customer finished on the terminal after the server gave up: the
            # terminal's journal has it (what its duplicata shows).
            peer.charged.append(("793", "1-20240301-1"))
            peer.last = [("CB", "793"), ("CD", "0"), ("AE", "10"), ("AF", "01"), ("AC", "B77"),
                         ("AA", "****1111"), ("CF", "1-20240301-1")]
            retried = await charge(terminal, "7.93", "1-20240301-1")
            assert (retried.outcome, retried.authorisation, retried.reference) == ("approved", "B77", "B77 ****1111")
            assert [r["CD"] for r in peer.requests] == ["0", "3"]  # no second debit
            assert len(peer.charged) == 1 and driver.unsettled is None


async def test_an_unsettled_debit_blocks_a_new_one_while_the_terminal_cannot_say():
    with trio.fail_after(15):
        async with terminal_and_peer(timeout=0.5) as (terminal, peer, driver):
            peer.script = ["drop"]
            peer.down = False
            peer.busy = True  # the duplicata is not performed: still unsettled when time runs out
            assert (await charge(terminal, "3.00")).outcome == "unknown"
            refused = await charge(terminal, "3.00", "1-x-2")
            assert refused.outcome == "unknown" and "cannot say" in refused.message
            assert [r["CD"] for r in peer.requests].count("0") == 1
            peer.busy = False  # the terminal shows the transaction now: approved, for 3.00
            other = await charge(terminal, "4.00", "1-x-3")  # another amount: not this payment
            assert other.outcome == "unknown" and "refund it on the terminal" in other.message
            assert [r["CD"] for r in peer.requests].count("0") == 1 and driver.unsettled is None
            # Told once: the next one is a new debit.
            assert (await charge(terminal, "4.00", "1-x-4")).outcome == "approved"
            assert len(peer.charged) == 2


@pytest.mark.parametrize(("behaviour", "says"), [
    ("garbage", "not a Caisse-AP tag"), ("non_ascii", "not printable ASCII"), ("bad_length", "not three digits"),
    ("flood", "more than 8192 bytes"), ("old_version", "version '0200'"),
])
async def test_hostile_answers_are_refused_with_a_reason_and_left_unsettled(behaviour, says):
    with trio.fail_after(10):
        async with terminal_and_peer() as (terminal, peer, driver):
            await charge(terminal, "1.00", "1-x-0")  # the terminal's last transaction, before
            peer.script = [behaviour]
            result = await charge(terminal, "2.00")
            assert result.outcome == "unknown" and says in result.message
            # The debit was sent: the next charge asks the terminal first.
            assert driver.unsettled is not None
            result = await charge(terminal, "2.00", "1-x-2")
            charged = behaviour == "old_version"  # the peer charged the card, and shows it
            assert result.outcome == "approved" and len(peer.charged) == 2
            assert [r["CD"] for r in peer.requests] == ["0", "0", "3"] + ([] if charged else ["0"])


async def test_a_length_longer_than_the_answer_is_bounded_by_the_charges_time():
    with trio.fail_after(10):
        async with terminal_and_peer(timeout=0.5) as (terminal, peer, driver):
            peer.script = ["overlong"]
            result = await charge(terminal, "2.00")
            assert result.outcome == "unknown" and "did not answer within 0.5 s" in result.message
            assert driver.unsettled is not None


async def test_a_terminal_that_never_shows_the_lost_debit_blocks_card_payments_for_a_while_only():
    with trio.fail_after(15):
        async with terminal_and_peer(timeout=0.5, hold=1.0) as (terminal, peer, _driver):
            peer.script = ["drop_before"]
            peer.busy = True  # no duplicata to be had (a terminal restarted, or without one)
            assert (await charge(terminal, "3.00")).outcome == "unknown"
            assert (await charge(terminal, "3.00", "1-x-2")).outcome == "unknown"
            await trio.sleep(1.0)
            told = await charge(terminal, "3.00", "1-x-3")
            assert told.outcome == "unknown" and "check its journal for reference 1-20240301-1" in told.message
            peer.busy = False
            assert (await charge(terminal, "3.00", "1-x-4")).outcome == "approved"
            assert [r["CD"] for r in peer.requests].count("0") == 2


async def test_without_cf_echoed_the_lost_debit_is_matched_by_amount_and_action():
    with trio.fail_after(10):
        async with terminal_and_peer() as (terminal, peer, driver):
            peer.script = ["drop"]
            await charge(terminal, "1.00", "1-x-0")  # settled at once: an approval
            # The terminal's journal: a refund of 3.00, no CF. A lost debit of 3.00 is not it.
            peer.last = [("CB", "300"), ("CD", "1"), ("AE", "10"), ("AC", "R1")]
            peer.script = ["drop_before"]
            result = await charge(terminal, "3.00", "1-x-1")
            assert result.outcome == "failed" and driver.unsettled is None
            # A debit of 3.00 is.
            peer.script = ["drop_before"]
            peer.last = [("CB", "300"), ("CD", "0"), ("AE", "10"), ("AC", "D1")]
            result = await charge(terminal, "3.00", "1-x-2")
            assert (result.outcome, result.authorisation) == ("approved", "D1")


def test_open_driver_builds_a_caisse_ap_terminal():
    driver = open_driver(TerminalConfig(id="t1", kind="caisse-ap", address="10.0.0.7:8888", cash_register="02",
                                        protocol_id="323540032810"))
    assert isinstance(driver, CaisseApTerminal)
    assert (driver.host, driver.port, driver.register, driver.protocol_id) == ("10.0.0.7", 8888, "02", "323540032810")


async def test_a_refund_an_earlier_run_sent_is_asked_about_first_not_made_twice():
    """A card refund the lane had marked under way when the server stopped (``Charge.lost``:
    this driver, fresh, knows nothing of it): the duplicata is asked first; the terminal
    made it: it is the answer, no second credit; it shows an older transaction: the
    refund never ran, it is asked now."""
    with trio.fail_after(10):
        async with terminal_and_peer() as (terminal, peer, driver):
            await charge(terminal, "-1.00", "1-x-1-R")  # made; its answer lost with the server
            assert driver.unsettled is None
            again = await terminal.ask(Charge(D("-1.00"), "1-x-1-R", None, lost="1-x-1-R"))
            assert again.outcome == "approved", again
            assert [r["CD"] for r in peer.requests] == ["1", "3"]  # its duplicata, no second credit
            assert len(peer.charged) == 1 and driver.unsettled is None
            never = await terminal.ask(Charge(D("-2.00"), "1-x-2-R", None, lost="1-x-2-R"))
            assert never.outcome == "approved", never
            assert [r["CD"] for r in peer.requests] == ["1", "3", "3", "1"]  # not made: asked now
            assert len(peer.charged) == 2 and driver.unsettled is None
