"""The lane actor with a card terminal (the real terminal actor over the simulated
terminal) and its real journal and stock point (tests/actors/test_lane_actor.py's
harness): the card money paths no end-to-end set-up reaches cheaply. Each test failed
before its fix.

- a card payment finishing the sale (``auto_finish``) with an invoice, when the
  invoice's customer cannot be read after the charge (this lane has no customer
  directory): the payment is recorded on the ticket, not finishing (the card was
  charged, the payment dropped).
- a card payment the terminal gave back whose removal the journal refused: not given
  back twice by the next removal, no sale finished with it meanwhile;
- a card payment or removal whose key the device already used: refused before the
  terminal is asked (charged or given back, then the unit refused for its key);
- a card payment (finishing the sale or not) whose unit the journal refuses after the
  charge: recorded on the ticket, not finishing (it was dropped).
- a card refund under way when the lane stops (its removal not saved, or the lane
  killed while the terminal has the card): after the restart, no sale finishes with the
  payment and its removal does not refund it twice (the restarted lane had forgotten).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partial
from decimal import Decimal as D
from typing import Any, AsyncIterator

import msgspec
import pytest
import trio
from structlog.testing import capture_logs

from laneserver.actors.journal import commit
from laneserver.actors.lane import payment_policy
from laneserver.actors.lane_messages import GetTicket, LaneTicket, Receipted
from laneserver.actors.runtime import open_mailbox
from laneserver.actors.terminal import TerminalActor
from laneserver.clock import FixedClock
from laneserver.config import Config, LaneConfig, ShopConfig, StockPointConfig, TerminalConfig
from laneserver.hw.terminal import SimulatedTerminal
from laneserver.rules import lane as rules
from laneserver.rules.outcome import Code, Refused
from laneserver.store.ops import Remember
from tests.actors.test_lane_actor import DEADLINE, LANE, MARIE, POINT, Shop, add, do, ok, running_shop

CARD_CONFIG = Config(
    shop=ShopConfig(auto_finish=True),
    stock_points=(StockPointConfig(id=POINT),),
    lanes=(LaneConfig(id=LANE, stock_point=POINT, terminal="t1"),),
    terminals=(TerminalConfig(id="t1", delay_seconds=0.0),),
)
POLICY = payment_policy(CARD_CONFIG)


@asynccontextmanager
async def card_shop(path, config: Config = CARD_CONFIG, driver: SimulatedTerminal | None = None) -> AsyncIterator[Shop]:
    terminal, inbox = open_mailbox("terminal:t1", 4)
    async with trio.open_nursery() as nursery:
        await nursery.start(TerminalActor(config.terminals[0], driver=driver, lane=LANE).run, inbox)
        async with running_shop(path, config=config, terminal=terminal) as shop:
            yield shop
        terminal.close()


async def terminal_asked(logs: list[dict[str, Any]], amount: str) -> None:
    """Once the terminal was asked for ``amount`` (``terminal_charge_started``)."""
    while not [e for e in logs if e["event"] == "terminal_charge_started" and e["amount"] == amount]:
        await trio.sleep(0.01)


async def test_a_card_payment_whose_invoice_cannot_be_made_after_the_charge_is_recorded(tmp_path) -> None:
    with trio.fail_after(DEADLINE):
        async with card_shop(tmp_path / "shop.db") as shop:
            await ok(shop, add("BREAD"))
            await ok(shop, rules.SetCustomer("marie", "C1"))
            refusal = await do(shop, Receipted(rules.Pay("marie", "card", policy=POLICY, invoice=True), "invoice"))
            assert isinstance(refusal, Refused) and refusal.code == Code.NOT_SUPPORTED, refusal
            assert refusal.details["payment"] == 1 and "recorded" in refusal.message, refusal
            now: LaneTicket = await ok(shop, GetTicket())
            [card] = now.ticket.payments
            assert (card.mode, str(card.amount), card.reference[:3]) == ("card", "3.20", "SIM")


async def test_a_card_payment_given_back_whose_removal_is_not_saved_is_not_given_back_twice_nor_sold(
        tmp_path) -> None:
    """The terminal approved the refund of a card payment the cashier removes, then the
    journal refused the removal (here its key, taken meanwhile by another request of the
    same device, while the terminal had the card: ``key_reused``): the payment stays on
    the ticket, the money is with the customer. Before, a second removal refunded it
    again on the terminal, and a cash payment of the rest finished the sale with it
    (money recorded, not held)."""
    slow = msgspec.structs.replace(CARD_CONFIG, terminals=(TerminalConfig(id="t1", delay_seconds=1.5),))
    with capture_logs() as logs, trio.fail_after(DEADLINE):
        async with card_shop(tmp_path / "shop.db", slow) as shop:
            await ok(shop, add("BREAD"))
            await ok(shop, rules.Pay("marie", "card", D("1.00"), policy=POLICY), key="k-1")
            async with trio.open_nursery() as nursery:
                answer: list[Any] = []

                async def remove() -> None:
                    answer.append(await do(shop, rules.RemovePayment("marie", 1), key="k-2"))

                nursery.start_soon(remove)
                await terminal_asked(logs, "-1.00")  # the terminal has the card: the same key, another request
                await commit(shop.journal, Remember(device=MARIE.device, key="k-2", actor="customers", reply=b"{}",
                                                    at=FixedClock().now()))
            [unsaved] = answer
            assert isinstance(unsaved, Refused) and unsaved.details == {"key_reused": True}, unsaved
            [card] = (await ok(shop, GetTicket())).ticket.payments  # given back, still on the ticket
            assert (card.mode, str(card.amount)) == ("card", "1.00"), card
            for sale in (Receipted(rules.Pay("marie", "cash", D("2.20"), policy=POLICY), "none"),
                         Receipted(rules.Finish("marie"), "none")):
                refusal = await do(shop, sale)
                assert isinstance(refusal, Refused) and refusal.code == Code.CONFLICT, refusal
                assert refusal.details == {"payment": 1} and "given back" in refusal.message, refusal
            await ok(shop, rules.RemovePayment("marie", 1), key="k-3")  # not refunded again
            assert (await ok(shop, GetTicket())).ticket.payments == ()
            await ok(shop, Receipted(rules.Pay("marie", "cash", policy=POLICY), "none"))
    refunds = [e for e in logs if e["event"] == "card_payment_refunded"]
    assert len(refunds) == 1 and [e for e in logs if e["event"] == "card_refunded_not_recorded"], refunds


async def test_a_card_charge_or_refund_with_a_key_already_used_asks_no_terminal(tmp_path) -> None:
    """A keyed card payment or removal whose key this device already used for another
    request (another actor's, or one the lane forgot) is refused ``key_reused`` before the
    terminal is asked. Before, the card was charged (refunded), then the journal refused
    the unit for its key: money taken (given back) and not recorded."""
    with capture_logs() as logs, trio.fail_after(DEADLINE):
        async with card_shop(tmp_path / "shop.db") as shop:
            await commit(shop.journal, Remember(device=MARIE.device, key="k-1", actor="customers", reply=b"{}",
                                                at=FixedClock().now()))
            await ok(shop, add("BREAD"))
            for command in (rules.Pay("marie", "card", D("1.00"), policy=POLICY), rules.RemovePayment("marie", 1)):
                reused = await do(shop, command, key="k-1")
                assert isinstance(reused, Refused) and reused.details == {"key_reused": True}, reused
                if isinstance(command, rules.Pay):
                    await ok(shop, command, key="k-2")
            [card] = (await ok(shop, GetTicket())).ticket.payments
            assert (card.mode, str(card.amount)) == ("card", "1.00"), card
    asked = [e for e in logs if e["event"] in ("card_payment_approved", "card_payment_refunded")]
    assert len(asked) == 1, asked
    assert not [e for e in logs if e["event"] in ("card_charged_not_recorded", "card_refunded_not_recorded")]


@pytest.mark.parametrize("amount", [None, "1.00"])
async def test_a_card_payment_whose_sale_the_journal_refuses_after_the_charge_is_recorded(tmp_path, amount) -> None:
    """A card payment finishing the sale (``auto_finish``; or not: 1.00 of 3.20) whose
    unit the journal refuses after the card was charged (here its key, taken meanwhile by
    another request of the same device while the terminal had the card): the payment is
    recorded on the ticket, not finishing, and the refusal names it (``payment``). Before,
    it was dropped (``card_charged_not_recorded``): money taken and not recorded."""
    slow = msgspec.structs.replace(CARD_CONFIG, terminals=(TerminalConfig(id="t1", delay_seconds=1.5),))
    with capture_logs() as logs, trio.fail_after(DEADLINE):
        async with card_shop(tmp_path / "shop.db", slow) as shop:
            await ok(shop, add("BREAD"))
            async with trio.open_nursery() as nursery:
                answer: list[Any] = []

                async def pay() -> None:
                    card = rules.Pay("marie", "card", None if amount is None else D(amount), policy=POLICY)
                    answer.append(await do(shop, Receipted(card, "none"), key="k-1"))

                nursery.start_soon(pay)
                await terminal_asked(logs, amount or "3.20")  # the terminal has the card: the key taken
                await commit(shop.journal, Remember(device=MARIE.device, key="k-1", actor="customers", reply=b"{}",
                                                    at=FixedClock().now()))
            [refusal] = answer
            assert isinstance(refusal, Refused) and refusal.details == {"key_reused": True, "payment": 1, "recorded": True}, refusal
            assert "recorded on the ticket" in refusal.message, refusal
            [card] = (await ok(shop, GetTicket())).ticket.payments
            assert (card.mode, str(card.amount), card.reference[:3]) == ("card", amount or "3.20", "SIM"), card
            rest = rules.Finish("marie") if amount is None else rules.Pay("marie", "cash", policy=POLICY)
            done = await ok(shop, Receipted(rest, "none"))  # (the cash finishes it: auto_finish)
            assert str(done.total) == "3.20"
    assert not [e for e in logs if e["event"] == "card_charged_not_recorded"]


@pytest.mark.parametrize("stop", ["unsaved", "killed"])
async def test_a_card_refund_under_way_when_the_lane_stops_is_not_made_twice_nor_sold(tmp_path, stop) -> None:
    """The cashier removes a card payment; the lane stops before the removal is saved —
    ``unsaved``: the terminal approved the refund and the journal refused the removal
    (its key taken meanwhile), then the server stopped; ``killed``: the server stopped
    while the terminal had the card (the refund may have been made). Restarted on the
    same journal, the payment is on the ticket: no sale finishes with it, and its
    removal asks the terminal how the refund ended first (the simulator: made) — no
    second refund. Before, the restarted lane had forgotten the refund: the cash paid
    the rest and finished the sale with it, and the removal refunded it again."""
    path = tmp_path / "shop.db"
    driver = SimulatedTerminal(delay=1.5)
    with capture_logs() as logs, trio.fail_after(DEADLINE):
        with trio.CancelScope() as killed:
            async with card_shop(path, driver=driver) as shop:
                await ok(shop, add("BREAD"))
                await ok(shop, rules.Pay("marie", "card", D("1.00"), policy=POLICY), key="k-1")
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(partial(do, shop, rules.RemovePayment("marie", 1), key="k-2"))
                    await terminal_asked(logs, "-1.00")  # the refund is marked, the terminal has the card
                    if stop == "killed":
                        killed.cancel()
                    await commit(shop.journal, Remember(device=MARIE.device, key="k-2", actor="customers",
                                                        reply=b"{}", at=FixedClock().now()))
        driver.delay = 0.0
        async with card_shop(path, driver=driver) as shop:  # the lane restarted on the same journal
            [card] = (await ok(shop, GetTicket())).ticket.payments
            assert (card.payment, card.mode, str(card.amount)) == (1, "card", "1.00"), card
            for sale in (Receipted(rules.Pay("marie", "cash", D("2.20"), policy=POLICY), "none"),
                         Receipted(rules.Finish("marie"), "none")):
                refusal = await do(shop, sale)
                assert isinstance(refusal, Refused) and refusal.code == Code.CONFLICT, refusal
                assert refusal.details == {"payment": 1}, refusal
            await ok(shop, rules.RemovePayment("marie", 1), key="k-3")
            now = await ok(shop, GetTicket())
            assert now.ticket.payments == () and now.ticket.lines, now
            await ok(shop, Receipted(rules.Pay("marie", "cash", policy=POLICY), "none"))
    assert len([c for c in driver.charges if c.endswith("-R")]) == 1, driver.charges  # given back once
    assert [e for e in logs if e["event"] == "card_refund_unknown_at_start"], logs
