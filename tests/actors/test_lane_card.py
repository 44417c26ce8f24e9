"""The lane actor with a card terminal (the real terminal actor over the simulated
terminal) and its real journal and stock point (tests/actors/test_lane_actor.py's
harness): the card money paths no end-to-end set-up reaches cheaply. Each test failed
before its fix.

- a card payment finishing the sale (``auto_finish``) with an invoice, when the
  invoice's customer cannot be read after the charge (this lane has no customer
  directory): the payment is recorded on the ticket, not finishing (the card was
  charged, the payment dropped).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import trio

from laneserver.actors.lane import payment_policy
from laneserver.actors.lane_messages import GetTicket, LaneTicket, Receipted
from laneserver.actors.runtime import open_mailbox
from laneserver.actors.terminal import TerminalActor
from laneserver.config import Config, LaneConfig, ShopConfig, StockPointConfig, TerminalConfig
from laneserver.rules import lane as rules
from laneserver.rules.outcome import Code, Refused
from tests.actors.test_lane_actor import DEADLINE, LANE, POINT, Shop, add, do, ok, running_shop

CARD_CONFIG = Config(
    shop=ShopConfig(auto_finish=True),
    stock_points=(StockPointConfig(id=POINT),),
    lanes=(LaneConfig(id=LANE, stock_point=POINT, terminal="t1"),),
    terminals=(TerminalConfig(id="t1", delay_seconds=0.0),),
)
POLICY = payment_policy(CARD_CONFIG)


@asynccontextmanager
async def card_shop(path) -> AsyncIterator[Shop]:
    terminal, inbox = open_mailbox("terminal:t1", 4)
    async with trio.open_nursery() as nursery:
        await nursery.start(TerminalActor(CARD_CONFIG.terminals[0], lane=LANE).run, inbox)
        async with running_shop(path, config=CARD_CONFIG, terminal=terminal) as shop:
            yield shop
        terminal.close()


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
