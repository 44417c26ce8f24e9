"""The customers actor with a real JournalActor on a temp SQLite file, driven with
domain commands (``Do`` and the commands of actors/customers_messages.py): no JSON,
no wire frames; its answers are domain results or ``Refused``.

Holds are serialised by its mailbox (two lanes asking for the same wallet: one gets
it); a sale's ops come from its holds and, once written by the journal, a
``Release`` makes the balance the database's sum; a restarted actor keeps the holds
it was handed; an expired voucher is refused at the actor's clock, by the shop's
own date (its time zone), not UTC's. A keyed command is carried out once: its
result is journaled with its effect and answered again, also after a restart; the
same key for another command is refused and applies nothing; a reply journaled as a
frame before the actor took domain commands comes back as ``Replayed``.
The shop's time is a ``FixedClock`` (exact); trio's time is virtual and jumps only
after ``JUMP_AFTER`` of real idleness (the journal works in a thread): nothing here
waits on a deadline, so each test ends at virtual time 0 exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial

import msgspec
import pytest
import trio
from trio.testing import MockClock

from laneserver.actors.customers import CustomersActor
from laneserver.actors.customers_messages import (
    AskGiveBack,
    AskHold,
    AskSettle,
    CorrectBalance,
    CreateCustomer,
    CustomerCreated,
    CustomerFile,
    CustomersFound,
    DepositCredit,
    EditCustomer,
    FindCustomer,
    Release,
    SearchCustomers,
    SellVoucher,
    ShowCustomer,
    ShowVoucher,
    ToppedUp,
    TopUpWallet,
    VoucherState,
)
from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.messages import Caller, Do
from laneserver.actors.replies import Replayed
from laneserver.actors.runtime import open_mailbox
from laneserver.clock import FixedClock, shop_zone
from laneserver.config import demo_config
from laneserver.rules.customers import Hold, Refused
from laneserver.store import reads
from laneserver.store.ops import Remember

D = Decimal
TILL = Caller(device="till-1", seller="marie", lane="1")
JUMP_AFTER = 1.0  # real seconds every task must have waited before virtual time jumps


@pytest.fixture
def virtual_clock() -> Iterator[MockClock]:
    clock = MockClock(autojump_threshold=JUMP_AFTER)
    yield clock
    assert clock.current_time() == 0  # no test waited on a deadline


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


async def do(customers, command, caller: Caller = TILL, key: str | None = None, fingerprint: str | None = None):
    return await customers.ask(Do(caller, command, key, fingerprint))


async def test_two_lanes_one_wallet_one_hold_wins_and_the_sale_settles(tmp_path, virtual_clock):
    clock = FixedClock()
    with trio.fail_after(10):
        async with running(tmp_path / "db.sqlite3", clock) as (journal, customers):
            created = await do(customers, CreateCustomer(name="Jeanne", wallet=True))
            assert isinstance(created, CustomerCreated)
            jeanne = created.customer
            topped = await do(customers, TopUpWallet(customer=jeanne, amount=D("50.00"), mode="cash"))
            assert isinstance(topped, ToppedUp) and topped.topup == 1 and topped.file.wallet == D("50.00")
            wrong_mode = await do(customers, TopUpWallet(customer=jeanne, amount=D("5.00"), mode="credit"))
            assert isinstance(wrong_mode, Refused) and wrong_mode.code == "bad_request"  # not a mode money comes in with
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
            file = await do(customers, ShowCustomer(jeanne))
            assert isinstance(file, CustomerFile)
            assert (file.wallet, file.wallet_available) == (D("20.00"), D("20.00"))
            balances = await read(journal, partial(reads.customer_balances, customers=[jeanne]))
            assert balances[(jeanne, "wallet")] == D("20.00")
            found = await customers.ask(FindCustomer(customer=jeanne))
            assert found.name == "Jeanne"


async def test_holds_survive_a_restart_and_vouchers_expire(tmp_path, virtual_clock):
    clock = FixedClock()
    holds: dict = {}
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(20):
        async with running(path, clock, holds) as (_journal, customers):
            jeanne = (await do(customers, CreateCustomer(name="Jeanne", card="123"))).customer
            await do(customers, DepositCredit(customer=jeanne, amount=D("100.00"), mode="cash"))
            hold = await customers.ask(AskHold(lane="1", payment=1, mode="credit", amount=None, due=D("70.00"),
                                               customer=jeanne))
            assert hold.amount == D("70.00")
            voucher = await do(customers, SellVoucher(amount=D("10.00"), mode="cash", valid_days=1))
            assert isinstance(voucher, VoucherState) and voucher.status == "valid"
            code = voucher.voucher.code
        async with running(path, clock, holds) as (_journal, customers):
            file = await do(customers, ShowCustomer(jeanne))
            assert (file.credit, file.credit_available) == (D("100.00"), D("30.00"))
            assert (await customers.ask(FindCustomer(card="123"))).customer == jeanne
            clock.advance(days=2)
            expired = await customers.ask(AskHold(lane="2", payment=1, mode="voucher", amount=None, due=D("5.00"),
                                                  code=code))
            assert isinstance(expired, Refused) and "expired" in expired.message
            assert (await do(customers, ShowVoucher(code))).status == "expired"
            assert clock.now().date() > voucher.voucher.valid_until


async def test_a_voucher_lasts_until_the_end_of_the_shops_own_day(tmp_path, virtual_clock):
    """Auckland is UTC+13 in January: at 22:30 UTC on the 15th it is already the 16th
    there. A 1-day voucher issued then is valid until the 17th (Auckland's date), and
    is refused at 11:00 UTC on the 17th, when Auckland is on the 18th (UTC still says
    the 17th: a server counting UTC days would take it)."""
    clock = FixedClock(dt.datetime(2026, 1, 15, 22, 30, tzinfo=dt.timezone.utc))
    with trio.fail_after(20):
        async with running(tmp_path / "db.sqlite3", clock, timezone="Pacific/Auckland") as (_journal, customers):
            voucher = (await do(customers, SellVoucher(amount=D("10.00"), mode="cash", valid_days=1))).voucher
            assert voucher.valid_until == dt.date(2026, 1, 17)
            clock.advance(hours=36)  # 2026-01-17 10:30 UTC = 23:30 on the 17th in Auckland: still valid
            hold = await customers.ask(AskHold(lane="1", payment=1, mode="voucher", amount=None, due=D("5.00"),
                                               code=voucher.code))
            assert isinstance(hold, Hold)
            clock.advance(hours=1)  # 11:30 UTC on the 17th = 00:30 on the 18th in Auckland
            assert clock.now().date() == dt.date(2026, 1, 17)
            expired = await customers.ask(AskHold(lane="1", payment=2, mode="voucher", amount=None, due=D("5.00"),
                                                  code=voucher.code))
            assert isinstance(expired, Refused) and "expired" in expired.message


async def test_a_keyed_command_is_carried_out_once_and_answered_again_after_a_restart(tmp_path, virtual_clock):
    clock = FixedClock()
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(20):
        async with running(path, clock) as (journal, customers):
            jeanne = (await do(customers, CreateCustomer(name="Jeanne"))).customer
            first = await do(customers, DepositCredit(customer=jeanne, amount=D("25.00"), mode="cash"),
                             key="d1", fingerprint="f1")
            assert isinstance(first, CustomerFile) and first.credit == D("25.00")
            again = await do(customers, DepositCredit(customer=jeanne, amount=D("25.00"), mode="cash"),
                             key="d1", fingerprint="f1")
            assert again == first
            other = await do(customers, DepositCredit(customer=jeanne, amount=D("30.00"), mode="cash"),
                             key="d1", fingerprint="f2")
            assert isinstance(other, Refused) and (other.code, other.details) == ("conflict", {"key_reused": True})
            # Another device's key is its own.
            elsewhere = await do(customers, DepositCredit(customer=jeanne, amount=D("5.00"), mode="cash"),
                                 caller=Caller(device="till-2", seller="paul", lane="2"), key="d1", fingerprint="f3")
            assert elsewhere.credit == D("30.00")
            balances = await read(journal, partial(reads.customer_balances, customers=[jeanne]))
            assert balances[(jeanne, "credit")] == D("30.00")  # 25 once, and 5
        clock.advance(hours=1)
        async with running(path, clock) as (journal, customers):
            # Read back from the journal (MessagePack): the same result, the file as it was then.
            assert await do(customers, DepositCredit(customer=jeanne, amount=D("25.00"), mode="cash"),
                            key="d1", fingerprint="f1") == first
            balances = await read(journal, partial(reads.customer_balances, customers=[jeanne]))
            assert balances[(jeanne, "credit")] == D("30.00")


async def test_a_reply_journaled_as_a_frame_before_the_move_is_replayed(tmp_path, virtual_clock):
    clock = FixedClock()
    path = tmp_path / "db.sqlite3"
    frame = b'{"type":"customer_created","re":7,"customer":"C1"}'
    with trio.fail_after(20):
        async with running(path, clock) as (journal, _customers):
            await commit(journal, Remember(device=TILL.device, key="c1", actor="customers", reply=frame,
                                           fingerprint="f1", at=clock.now()))
        async with running(path, clock) as (_journal, customers):
            replayed = await do(customers, CreateCustomer(name="Jeanne"), key="c1", fingerprint="f1")
            assert replayed == Replayed(frame)
            assert await do(customers, SearchCustomers("Jeanne")) == CustomersFound(())  # not created again


async def test_refusals_change_nothing(tmp_path, virtual_clock):
    clock = FixedClock()
    with trio.fail_after(20):
        async with running(tmp_path / "db.sqlite3", clock) as (_journal, customers):
            jeanne = (await do(customers, CreateCustomer(name="Jeanne", card="42"))).customer
            signed_out = await do(customers, ShowCustomer(jeanne), caller=Caller(device="till-1", lane="1"))
            assert (signed_out.code, signed_out.message) == ("not_signed_in", "no seller is signed in on this device")
            unknown = await do(customers, ShowCustomer("C99"))
            assert (unknown.code, unknown.details) == ("not_found", {"field": "customer"})
            taken = await do(customers, CreateCustomer(name="Paul", card="42"))
            assert (taken.code, taken.details) == ("conflict", {"field": "card"})
            nameless = await do(customers, EditCustomer(customer=jeanne, name="  "))
            assert (nameless.code, nameless.message) == ("bad_request", "a customer needs a name")
            wallet_off = await do(customers, TopUpWallet(customer=jeanne, amount=D("5.00"), mode="cash"))
            assert wallet_off.code == "conflict"
            unapproved = await do(customers, CorrectBalance(customer=jeanne, account="credit", amount=D("5.00"),
                                                            reason="typo"))
            assert unapproved.code == "supervisor_required"
            approved = Caller(device="till-1", seller="marie", lane="1", approved_by="sophie")
            too_much = await do(customers, CorrectBalance(customer=jeanne, account="credit", amount=D("-5.00"),
                                                          reason="typo"), caller=approved)
            assert (too_much.code, too_much.details) == ("insufficient_funds", {"available": "0.00", "short": "5.00"})
            bad_limit = await do(customers, SearchCustomers("J", limit=0))
            assert (bad_limit.code, bad_limit.details) == ("bad_request", {"field": "limit"})
            file = await do(customers, ShowCustomer(jeanne))
            assert (file.customer.name, file.credit, file.wallet) == ("Jeanne", D("0.00"), D("0.00"))
            assert await do(customers, SearchCustomers("Paul")) == CustomersFound(())
            corrected = await do(customers, CorrectBalance(customer=jeanne, account="credit", amount=D("5.00"),
                                                           reason="typo"), caller=approved)
            assert corrected.credit == D("5.00")


async def test_a_refund_onto_an_account_taken_back_by_a_cancel_needs_the_money_there(tmp_path, virtual_clock):
    """A return refunded onto a wallet, the return then cancelled: the refund goes back
    out of the wallet. When the wallet no longer holds it (spent since), the cancel is
    refused with what is available, not written until the journal's unit fails."""
    clock = FixedClock()
    with trio.fail_after(10):
        async with running(tmp_path / "db.sqlite3", clock) as (journal, customers):
            jeanne = (await do(customers, CreateCustomer(name="Jeanne", wallet=True))).customer
            await do(customers, TopUpWallet(customer=jeanne, amount=D("5.00"), mode="cash"))

            def back(amount: str) -> AskGiveBack:
                return AskGiveBack(back=(("wallet", D(amount), jeanne),), customer=jeanne, at=clock.now(), lane="1",
                                   approved_by="sophie", reason="erreur")

            short = await customers.ask(back("-8.90"))
            assert isinstance(short, Refused) and (short.code, short.details) == (
                "insufficient_funds", {"available": "5.00", "short": "3.90"})
            ops = await customers.ask(back("-4.90"))
            assert [(op.delta, op.kind) for op in ops] == [(D("-4.90"), "sale_cancel")]
            await commit(journal, *ops)


async def test_a_published_customers_version_is_applied_once_also_after_a_restart(tmp_path, virtual_clock):
    from laneserver.actors.customers_messages import (
        ApplyPublished,
        PublishedApplied,
        PublishedVersion,
    )
    from laneserver.rules.customers import Customer

    clock = FixedClock()
    jeanne = Customer(customer="H1", name="Jeanne", card="29", wallet_enabled=True)
    with trio.fail_after(10):
        async with running(tmp_path / "db.sqlite3", clock) as (_, customers):
            assert await customers.ask(PublishedVersion()) == 0
            assert await customers.ask(ApplyPublished(3, (jeanne,))) == PublishedApplied(3, ("H1",))
            assert await customers.ask(ApplyPublished(3, (jeanne,))) == PublishedApplied(3, already=True)
            assert await customers.ask(FindCustomer(card="29")) == jeanne
        async with running(tmp_path / "db.sqlite3", clock) as (journal, customers):  # restarted: read back
            assert await customers.ask(PublishedVersion()) == 3
            renamed = msgspec.structs.replace(jeanne, name="Jeanne Roy")
            assert await customers.ask(ApplyPublished(2, (renamed,))) == PublishedApplied(2, already=True)
            assert await customers.ask(ApplyPublished(4, (jeanne,))) == PublishedApplied(4)  # equal: no write
            assert await customers.ask(ApplyPublished(5, problem="line 2: bad")) == PublishedApplied(
                5, refused="line 2: bad")
            found = await do(customers, SearchCustomers("jeanne"))
            assert isinstance(found, CustomersFound) and [c.name for c in found.customers] == ["Jeanne"]
            kinds = await read(journal, lambda db: db.execute(
                "SELECT kind, data FROM events WHERE source = 'customers' ORDER BY seq").fetchall())
            assert [kind for kind, _ in kinds] == ["CustomersPublished", "CustomersPublished",
                                                   "CustomersPublishRefused"]
