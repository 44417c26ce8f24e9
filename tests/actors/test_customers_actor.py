"""The customers actor with a real JournalActor on a temp SQLite file.

Holds are serialised by its mailbox (two lanes asking for the same wallet: one gets
it); a sale's ops come from its holds and, once written by the journal, a
``Release`` makes the balance the database's sum; a restarted actor keeps the holds
it was handed; an expired voucher is refused at the actor's clock, by the shop's
own date (its time zone), not UTC's.
Real time under ``trio.fail_after`` (the journal works in a thread).
"""

from __future__ import annotations

import datetime as dt
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial

import msgspec
import trio

from laneserver.actors.customers import AskHold, AskSettle, CustomersActor, FindCustomer, Release
from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.messages import Caller, Handle
from laneserver.actors.runtime import open_mailbox
from laneserver.clock import FixedClock, shop_zone
from laneserver.config import demo_config
from laneserver.protocol import messages as wire
from laneserver.rules.customers import Hold, Refused
from laneserver.store import reads

D = Decimal
TILL = Caller(device="till-1", seller="marie", lane="1")


@asynccontextmanager
async def running(path, clock: FixedClock, holds: dict | None = None, timezone: str = "UTC"):
    config = demo_config()
    config = msgspec.structs.replace(config, shop=msgspec.structs.replace(config.shop, timezone=timezone))
    journal, journal_inbox = open_mailbox("journal", 256)
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path, zone=shop_zone(timezone)).run, journal_inbox)
        customers, inbox = open_mailbox("customers", 64)
        async with trio.open_nursery() as middle:
            actor = CustomersActor(journal=journal, config=config, clock=clock, modes=("cash", "card", "credit"),
                                   holds=holds if holds is not None else {})
            await middle.start(actor.run, inbox)
            yield journal, customers
            customers.close()
        journal.close()


async def call(customers, verb, **fields):
    request = msgspec.convert({"type": verb, **fields}, wire.RequestUnion)
    return msgspec.json.decode(await customers.ask(Handle(TILL, request)))


async def test_two_lanes_one_wallet_one_hold_wins_and_the_sale_settles(tmp_path):
    clock = FixedClock()
    with trio.fail_after(10):
        async with running(tmp_path / "db.sqlite3", clock) as (journal, customers):
            jeanne = (await call(customers, "customer_create", name="Jeanne", wallet=True))["customer"]
            topped = await call(customers, "wallet_topup", customer=jeanne, amount="50.00", mode="cash")
            assert topped["customer"]["wallet"] == "50.00"
            assert (await call(customers, "wallet_topup", customer=jeanne, amount="5.00", mode="credit"))["code"] \
                == "bad_request"  # not a mode money comes in with
            answers = {}

            async def ask(lane):
                answers[lane] = await customers.ask(AskHold(lane=lane, payment=1, mode="wallet", amount=D("30.00"),
                                                            due=D("30.00"), customer=jeanne))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask, "1")
                nursery.start_soon(ask, "2")
            granted = [lane for lane, answer in answers.items() if isinstance(answer, Hold)]
            refused = [answer for answer in answers.values() if isinstance(answer, Refused)]
            assert len(granted) == 1 and refused[0].details == {"available": "20.00", "short": "10.00"}
            winner = granted[0]
            ops = await customers.ask(AskSettle(lane=winner, payments=((1, "wallet", D("30.00")),), at=clock.now()))
            assert [(op.customer, op.delta, op.kind) for op in ops] == [(jeanne, D("-30.00"), "spend")]
            # A settle that does not match the hold is refused.
            wrong = await customers.ask(AskSettle(lane=winner, payments=((1, "wallet", D("31.00")),), at=clock.now()))
            assert isinstance(wrong, Refused)
            await commit(journal, *ops)  # as the lane's RecordSale would
            await customers.tell(Release(winner, (1,)))
            view = (await call(customers, "customer", customer=jeanne))["customer"]
            assert (view["wallet"], view["wallet_available"]) == ("20.00", "20.00")
            balances = await read(journal, partial(reads.customer_balances, customers=[jeanne]))
            assert balances[(jeanne, "wallet")] == D("20.00")
            found = await customers.ask(FindCustomer(customer=jeanne))
            assert found.name == "Jeanne"


async def test_holds_survive_a_restart_and_vouchers_expire(tmp_path):
    clock = FixedClock()
    holds: dict = {}
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(20):
        async with running(path, clock, holds) as (_journal, customers):
            jeanne = (await call(customers, "customer_create", name="Jeanne", card="123"))["customer"]
            await call(customers, "credit_deposit", customer=jeanne, amount="100.00", mode="cash")
            hold = await customers.ask(AskHold(lane="1", payment=1, mode="credit", amount=None, due=D("70.00"),
                                               customer=jeanne))
            assert hold.amount == D("70.00")
            voucher = (await call(customers, "voucher_issue", amount="10.00", mode="cash", valid_days=1))["voucher"]
        async with running(path, clock, holds) as (_journal, customers):
            view = (await call(customers, "customer", customer=jeanne))["customer"]
            assert (view["credit"], view["credit_available"]) == ("100.00", "30.00")
            assert (await customers.ask(FindCustomer(card="123"))).customer == jeanne
            clock.advance(days=2)
            expired = await customers.ask(AskHold(lane="2", payment=1, mode="voucher", amount=None, due=D("5.00"),
                                                  code=voucher["code"]))
            assert isinstance(expired, Refused) and "expired" in expired.message
            assert (await call(customers, "voucher", code=voucher["code"]))["voucher"]["status"] == "expired"
            assert clock.now().date() > dt.date.fromisoformat(voucher["valid_until"])


async def test_a_voucher_lasts_until_the_end_of_the_shops_own_day(tmp_path):
    """Auckland is UTC+13 in January: at 22:30 UTC on the 15th it is already the 16th
    there. A 1-day voucher issued then is valid until the 17th (Auckland's date), and
    is refused at 11:00 UTC on the 17th, when Auckland is on the 18th (UTC still says
    the 17th: a server counting UTC days would take it)."""
    clock = FixedClock(dt.datetime(2026, 1, 15, 22, 30, tzinfo=dt.timezone.utc))
    with trio.fail_after(20):
        async with running(tmp_path / "db.sqlite3", clock, timezone="Pacific/Auckland") as (_journal, customers):
            voucher = (await call(customers, "voucher_issue", amount="10.00", mode="cash", valid_days=1))["voucher"]
            assert voucher["valid_until"] == "2026-01-17"
            clock.advance(hours=36)  # 2026-01-17 10:30 UTC = 23:30 on the 17th in Auckland: still valid
            hold = await customers.ask(AskHold(lane="1", payment=1, mode="voucher", amount=None, due=D("5.00"),
                                               code=voucher["code"]))
            assert isinstance(hold, Hold)
            clock.advance(hours=1)  # 11:30 UTC on the 17th = 00:30 on the 18th in Auckland
            assert clock.now().date() == dt.date(2026, 1, 17)
            expired = await customers.ask(AskHold(lane="1", payment=2, mode="voucher", amount=None, due=D("5.00"),
                                                  code=voucher["code"]))
            assert isinstance(expired, Refused) and "expired" in expired.message
