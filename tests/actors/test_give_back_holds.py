"""What a sale's cancel takes back off a customer's account is held from the customers
actor's agreement (``AskGiveBack``) until the cancel is written or not (``GiveBackDone``),
like a lane's spend: another lane's spend in between is refused ``insufficient_funds``
and the cancel is written, rather than the spend written and the cancel's unit refused
at write time (store/writes.py ``BooksChanged``, answered ``conflict``).

The sales and customers actors with a real JournalActor on a temp SQLite file. The
sales actor reaches the journal through a gate that forwards every request as it is,
and just before forwarding the cancel's unit runs what the test puts "in between" (the
other lane's spend, a unit written behind the customers actor's back): deterministic,
the window between the agreement and the write. A lane's sale with a top-up cancel
line holds what it takes off the wallet the same way, from its settle. Virtual time that jumps only after
``JUMP_AFTER`` of real idleness (the journal works in a thread): nothing waits on a
deadline, so each test ends at virtual time 0 exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
from trio.testing import MockClock

from laneserver.actors.customers import CustomersActor
from laneserver.actors.customers_messages import (
    AskGiveBack,
    AskHold,
    AskSettle,
    Available,
    CancelTopup,
    CreateCustomer,
    CustomerFile,
    GiveBackDone,
    Refresh,
    Release,
    ReportHolds,
    ShowCustomer,
)
from laneserver.actors.journal import JournalActor, commit
from laneserver.actors.journal_messages import Commit, Read
from laneserver.actors.messages import Caller, Do
from laneserver.actors.runtime import (
    ActorFailed,
    Address,
    RestartPolicy,
    open_mailbox,
    supervise,
)
from laneserver.actors.sales import SalesActor
from laneserver.actors.sales_messages import CancelSale, SaleCancelled
from laneserver.clock import FixedClock
from laneserver.config import demo_config
from laneserver.rules.customers import TOPUP_CANCEL, Customer, Hold
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.outcome import Refused
from laneserver.rules.ticket import Payment
from laneserver.store import reads
from laneserver.store.ops import MoveAccount, PutCustomer, RecordCancel, RecordSale

D = Decimal
DEADLINE = 10
JUMP_AFTER = 1.0  # real seconds every task must have waited before virtual time jumps
TILL = Caller(device="till-1", seller="marie", lane="1")
APPROVED = Caller(device="till-1", seller="marie", lane="1", approved_by="sophie")
AT = dt.datetime(2026, 12, 6, 10, tzinfo=dt.UTC)


@pytest.fixture
def virtual_clock() -> Iterator[MockClock]:
    clock = MockClock(autojump_threshold=JUMP_AFTER)
    yield clock
    assert clock.current_time() == 0  # no test waited on a deadline


class Shop(msgspec.Struct):
    journal: Address
    customers: Address
    sales: Address
    # Run just before the cancel's unit is forwarded to the journal (set by the test).
    before_cancel: list[Callable[[], Awaitable[None]]]
    # Run just before the cancel reads the sale's lines: after it read the sale, before
    # it asks the customers actor for the give-back (set by the test).
    before_give_back: list[Callable[[], Awaitable[None]]]
    # Reads (store/reads.py functions) the gate leaves unanswered, as a journal that
    # crashed on them: the sales actor's ``read`` raises ``ActorFailed`` (set by the test).
    unanswered: set[Callable[..., Any]]

    async def do(self, target: Address, command: Any, caller: Caller = TILL) -> Any:
        return await target.ask(Do(caller, command, None, None))

    async def available(self, customer: str, account: str = "wallet") -> Decimal:
        return await self.customers.ask(Available(customer, account))


async def _gate(inbox: trio.MemoryReceiveChannel, journal: Address, before_cancel: list,
                before_give_back: list, unanswered: set) -> None:
    """The sales actor's journal: every request forwarded as it is, its answer returned;
    a cancel's unit after what ``before_cancel`` holds has run, its read of the sale's
    lines after what ``before_give_back`` holds has."""
    async for envelope in inbox:
        with envelope:
            command = envelope.command
            if isinstance(command, Commit) and any(isinstance(op, RecordCancel) for op in command.ops):
                for step in before_cancel:
                    await step()
            if isinstance(command, Read) and getattr(command.fn, "func", None) is reads.sale_lines:
                for step in before_give_back:
                    await step()
            if isinstance(command, Read) and getattr(command.fn, "func", None) in unanswered:
                continue  # closed unanswered on leaving ``with``
            envelope.reply(await journal.ask(command))


@asynccontextmanager
async def running(path: Path, holds: dict | None = None,
                  sales_policy: RestartPolicy | None = None) -> AsyncIterator[Shop]:
    """The shop's actors; ``sales_policy``: the sales actor supervised under it."""
    config = demo_config()
    clock = FixedClock()
    journal, journal_inbox = open_mailbox("journal", 256)
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        customers, customers_inbox = open_mailbox("customers", 64)
        gate, gate_inbox = open_mailbox("journal-gate", 64)
        sales, sales_inbox = open_mailbox("sales", 64)
        before: list = []
        before_give_back: list = []
        unanswered: set = set()
        async with trio.open_nursery() as middle:
            await middle.start(CustomersActor(journal=journal, config=config, clock=clock, modes=("cash", "card"),
                                              holds={} if holds is None else holds).run, customers_inbox)
            middle.start_soon(_gate, gate_inbox, journal, before, before_give_back, unanswered)
            factory = partial(SalesActor, journal=gate, config=config, clock=clock, modes=("cash", "card"),
                              customers=customers)
            if sales_policy is None:
                await middle.start(factory().run, sales_inbox)
            else:
                await middle.start(supervise, "sales", factory, sales_inbox, sales_policy)
            yield Shop(journal, customers, sales, before, before_give_back, unanswered)
            sales.close()
            gate.close()
            customers.close()
        journal.close()


async def topup_sale(shop: Shop, customer: str, amount: str) -> int:
    """A sale of a wallet top-up paid cash, written as a lane writes it (the top-up in
    its unit), then the wallet refreshed as the lane tells it."""
    paid = D(amount)
    sale = SaleCompleted(lane="1", seller="marie", customer=customer, at=AT, lines=(), vat=(), total=paid,
                         paid=paid, change=D(0), payments=(Payment(payment=1, mode="cash", amount=paid),))
    topup = MoveAccount(at=AT, customer=customer, account="wallet", delta=paid, kind="topup", mode="cash", lane="1")
    (recorded,) = await commit(shop.journal, RecordSale(sale=sale, stock_point="main", takes=(),
                                                          customer_moves=(topup,)))
    await shop.customers.tell(Refresh((customer,)))
    return recorded.number


async def jeanne_topped_up(shop: Shop, amount: str) -> tuple[str, int]:
    created = await shop.do(shop.customers, CreateCustomer(name="Jeanne", wallet=True))
    return created.customer, await topup_sale(shop, created.customer, amount)


async def lane_spends(shop: Shop, lane: str, customer: str, amount: str) -> Hold | Refused:
    """A lane's wallet payment line and its sale's spend, as the lane does it: held,
    settled, the spend written in its unit, the hold released."""
    hold = await shop.customers.ask(AskHold(lane=lane, payment=1, mode="wallet", amount=D(amount), due=D(amount),
                                            customer=customer))
    if isinstance(hold, Refused):
        return hold
    ops = await shop.customers.ask(AskSettle(lane=lane, payments=((1, "wallet", D(amount)),), at=AT))
    await commit(shop.journal, *ops)
    await shop.customers.tell(Release(lane, (1,)))
    return hold


async def test_a_spend_between_a_cancels_agreement_and_its_write_is_refused_and_the_cancel_written(
        tmp_path, virtual_clock):
    """The bug: the cancel agreed to take the 20.00 top-up back off the wallet but did not
    hold it; lane 2's spend of 15.00 was granted and written first, and the cancel's unit
    failed (``conflict``). Now the spend is refused with what is available (nothing:
    the cancel holds it all) and the cancel is written."""
    with trio.fail_after(DEADLINE):
        async with running(tmp_path / "db.sqlite3") as shop:
            jeanne, sale = await jeanne_topped_up(shop, "20.00")
            assert await shop.available(jeanne) == D("20.00")
            seen: list[Decimal] = []
            spent: list[Hold | Refused] = []

            async def other_lane() -> None:
                seen.append(await shop.available(jeanne))
                spent.append(await lane_spends(shop, "2", jeanne, "15.00"))

            shop.before_cancel.append(other_lane)
            cancelled = await shop.do(shop.sales, CancelSale(sale=sale, reason="erreur"), APPROVED)
            assert isinstance(cancelled, SaleCancelled), cancelled  # before the fix: conflict
            assert seen == [D("0.00")]  # all of it held by the cancel meanwhile
            [refused] = spent
            assert isinstance(refused, Refused)
            assert (refused.code, refused.details) == ("insufficient_funds", {"available": "0.00", "short": "15.00"})
            file = await shop.do(shop.customers, ShowCustomer(jeanne))
            assert isinstance(file, CustomerFile)
            assert (file.wallet, file.wallet_available) == (D("0.00"), D("0.00"))  # written, nothing held any more


async def test_a_cancel_not_written_lets_go_of_what_it_held(tmp_path, virtual_clock):
    """The cancel's unit refused at write time (its money taken by a unit written behind
    the customers actor's back, as the journal's own check finds): ``conflict``, and what
    the give-back held is let go — the wallet's balance as the actor knows it is all
    available again, and a lane may spend it. The money back, the same cancel is written."""
    with trio.fail_after(DEADLINE):
        async with running(tmp_path / "db.sqlite3") as shop:
            jeanne, sale = await jeanne_topped_up(shop, "20.00")

            async def behind_its_back(delta: str) -> None:
                await commit(shop.journal, MoveAccount(at=AT, customer=jeanne, account="wallet", delta=D(delta),
                                                       kind="correction", reason="test", lane="2"))

            shop.before_cancel.append(lambda: behind_its_back("-15.00"))
            refused = await shop.do(shop.sales, CancelSale(sale=sale, reason="erreur"), APPROVED)
            assert isinstance(refused, Refused) and refused.code == "conflict", refused
            assert await shop.available(jeanne) == D("20.00")  # not held any more (balance not re-read)
            shop.before_cancel.clear()
            await behind_its_back("15.00")
            cancelled = await shop.do(shop.sales, CancelSale(sale=sale, reason="erreur"), APPROVED)
            assert isinstance(cancelled, SaleCancelled), cancelled
            assert await shop.available(jeanne) == D("0.00")


async def test_a_give_back_refused_halfway_holds_nothing(tmp_path, virtual_clock):
    """A cancel taking refunds back off two accounts: the wallet has its 4.00, the credit
    not its 3.00 → refused, and the 4.00 held for the first is let go at once."""
    with trio.fail_after(DEADLINE):
        async with running(tmp_path / "db.sqlite3") as shop:
            jeanne, _sale = await jeanne_topped_up(shop, "5.00")
            ask = AskGiveBack(back=(("wallet", D("-4.00"), jeanne), ("credit", D("-3.00"), jeanne)),
                              customer=jeanne, at=AT, lane="1", sale=99, approved_by="sophie", reason="erreur")
            refused = await shop.customers.ask(ask)
            assert isinstance(refused, Refused)
            assert (refused.code, refused.details) == ("insufficient_funds", {"available": "0.00", "short": "3.00"})
            assert await shop.available(jeanne) == D("5.00")
            # Granted, then let go by the asker without writing it: all available again.
            ops = await shop.customers.ask(msgspec.structs.replace(ask, back=ask.back[:1]))
            assert [(op.account, op.delta) for op in ops] == [("wallet", D("-4.00"))]
            assert await shop.available(jeanne) == D("1.00")
            await shop.customers.tell(GiveBackDone(99))
            assert await shop.available(jeanne) == D("5.00")


async def test_what_a_cancel_held_is_let_go_when_the_sales_actor_starts_and_outlives_a_customers_restart(
        tmp_path, virtual_clock):
    """The customers actor's holds are handed in by its owner, so they outlive its
    restart (a cancel under way stays held); the sales actor starting means none of its
    cancels is under way: what they held is let go (its run tells ``GiveBackDone``
    ``every``)."""
    path = tmp_path / "db.sqlite3"
    holds: dict = {}
    with trio.fail_after(DEADLINE):
        async with running(path, holds) as shop:
            jeanne, _sale = await jeanne_topped_up(shop, "5.00")
            ops = await shop.customers.ask(AskGiveBack(back=(("wallet", D("-4.00"), jeanne),), customer=jeanne,
                                                       at=AT, lane="1", sale=99))
            assert [op.delta for op in ops] == [D("-4.00")]
            assert await shop.available(jeanne) == D("1.00")
            # Its customers actor restarted under the same owner: still held.
            again, again_inbox = open_mailbox("customers-again", 8)
            async with trio.open_nursery() as nursery:
                await nursery.start(CustomersActor(journal=shop.journal, config=demo_config(), clock=FixedClock(),
                                                   modes=("cash",), holds=holds).run, again_inbox)
                assert await again.ask(Available(jeanne)) == D("1.00")
                again.close()
        async with running(path, holds) as shop:  # the sales actor (re)started: let go
            assert await shop.available(jeanne) == D("5.00")


async def test_a_give_back_the_customers_actor_failed_on_is_let_go(tmp_path, virtual_clock):
    """The customers actor took the give-back and did not answer (it crashed on it: it may
    have held money before it did): the cancel is refused ``unavailable`` and the sales
    actor tells it to let go of what it held, after the ask in its mailbox. Its first
    word at its start lets go of every cancel's. The customers actor here is a mailbox
    the test reads."""
    with trio.fail_after(DEADLINE):
        journal, journal_inbox = open_mailbox("journal", 256)
        async with trio.open_nursery() as core:
            await core.start(JournalActor(tmp_path / "db.sqlite3").run, journal_inbox)
            customers, customers_inbox = open_mailbox("customers", 8)
            sales, sales_inbox = open_mailbox("sales", 8)
            async with trio.open_nursery() as middle:
                await middle.start(SalesActor(journal=journal, config=demo_config(), clock=FixedClock(),
                                              modes=("cash",), customers=customers).run, sales_inbox)
                assert (await customers_inbox.receive()).command == GiveBackDone(every=True)
                await commit(journal, PutCustomer(customer=Customer(customer="C1", name="Jeanne"), at=AT))
                shop = Shop(journal, customers, sales, [], [], set())
                sale = await topup_sale(shop, "C1", "20.00")
                assert (await customers_inbox.receive()).command == Refresh(("C1",))  # the test's own tell

                async def crash_on_the_give_back() -> None:
                    envelope = await customers_inbox.receive()
                    assert isinstance(envelope.command, AskGiveBack) and envelope.command.sale == sale
                    envelope.done()  # closed unanswered: the asker gets ActorFailed (maybe applied)

                middle.start_soon(crash_on_the_give_back)
                refused = await shop.do(sales, CancelSale(sale=sale, reason="erreur"), APPROVED)
                assert isinstance(refused, Refused) and refused.code == "unavailable", refused
                assert (await customers_inbox.receive()).command == GiveBackDone(sale)
                sales.close()
            journal.close()


async def test_a_lanes_top_up_cancel_is_held_from_its_settle_until_the_lane_lets_go(tmp_path, virtual_clock):
    """A lane's sale with a top-up cancel line: its settle holds the 20.00 it takes off
    the wallet (the lane's ``TOPUP_CANCEL``), so another lane's spend before the sale is
    written is refused; the lane lets go once written (balance re-read), told back when
    not written, and a lane that restarts reports no such hold."""
    with trio.fail_after(DEADLINE):
        async with running(tmp_path / "db.sqlite3") as shop:
            jeanne, _sale = await jeanne_topped_up(shop, "20.00")
            settle = AskSettle(lane="1", payments=(), at=AT, customer=jeanne, topup_cancel=D("20.00"),
                               topup_mode="cash")
            ops = await shop.customers.ask(settle)
            assert [(op.kind, op.delta) for op in ops] == [("topup_cancel", D("-20.00"))]
            spend = await lane_spends(shop, "2", jeanne, "15.00")
            assert isinstance(spend, Refused)  # before the fix: granted, and the sale's unit refused
            assert (spend.code, spend.details) == ("insufficient_funds", {"available": "0.00", "short": "15.00"})
            # Not written: told back (the settle's give-back), all of it available again.
            await shop.customers.tell(Release("1", (TOPUP_CANCEL,)))
            assert await shop.available(jeanne) == D("20.00")
            # The lane restarted between its settle and its commit: its report drops it.
            assert await shop.customers.ask(settle) == ops
            assert await shop.available(jeanne) == D("0.00")
            await shop.customers.tell(ReportHolds("1", ()))
            assert await shop.available(jeanne) == D("20.00")
            # Written: the lane lets go with its payment lines, the balance re-read.
            ops = await shop.customers.ask(settle)
            await commit(shop.journal, *ops)
            assert await shop.available(jeanne) == D("0.00")
            await shop.customers.tell(Release("1", (TOPUP_CANCEL,)))
            file = await shop.do(shop.customers, ShowCustomer(jeanne))
            assert (file.wallet, file.wallet_available) == (D("0.00"), D("0.00"))


async def test_a_sales_top_up_given_back_while_the_sale_is_cancelled_is_given_back_once(tmp_path, virtual_clock):
    """``wallet_topup_cancel`` of a sale's top-up on one till while a supervisor cancels
    that sale on another (the wallet holding other money too). The bug: both were
    written, the 20.00 top-up given back twice (its cash out of two drawers). Now the
    one that comes second is refused ``conflict``: the top-up cancel while the sale's
    cancel is under way (its give-back agreed, not yet written), and the sale's cancel
    once the top-up was given back after the sales actor read the sale."""
    with trio.fail_after(DEADLINE):
        async with running(tmp_path / "db.sqlite3") as shop:
            jeanne, sale = await jeanne_topped_up(shop, "20.00")
            await topup_sale(shop, jeanne, "30.00")  # other money on the wallet
            given: list[Any] = []

            async def other_till() -> None:
                given.append(await shop.do(shop.customers, CancelTopup(sale=sale), APPROVED))

            # The top-up cancel between the cancel's agreement and its write.
            shop.before_cancel.append(other_till)
            cancelled = await shop.do(shop.sales, CancelSale(sale=sale, reason="erreur"), APPROVED)
            assert isinstance(cancelled, SaleCancelled), cancelled
            [refused] = given
            assert isinstance(refused, Refused) and refused.code == "conflict", refused  # before the fix: written
            assert await shop.available(jeanne) == D("30.00")  # before the fix: 10.00
            # The top-up cancel written after the sales actor read the sale, before it
            # asked for the give-back (its ``topup_cancelled`` read too early).
            shop.before_cancel.clear()
            given.clear()
            again = await topup_sale(shop, jeanne, "20.00")

            async def other_till_first() -> None:
                given.append(await shop.do(shop.customers, CancelTopup(sale=again), APPROVED))

            shop.before_give_back.append(other_till_first)
            refused = await shop.do(shop.sales, CancelSale(sale=again, reason="erreur"), APPROVED)
            [written] = given
            assert isinstance(written, CustomerFile), written
            assert isinstance(refused, Refused) and refused.code == "conflict", refused  # before the fix: written
            assert "already given back" in refused.message, refused
            assert await shop.available(jeanne) == D("30.00")  # before the fix: 10.00


async def test_what_a_cancel_held_is_let_go_when_the_sales_actor_crashes_on_it_for_good(tmp_path, virtual_clock):
    """The sales actor crashes on a cancel after the give-back was agreed (its journal
    did not answer a read) past its restart budget: it stays stopped, so no start of it
    lets go of what the cancel held. The bug: the wallet stayed 20.00 short until the
    server restarted. Now the crash itself lets go (``GiveBackDone`` ``every``)."""
    with trio.fail_after(DEADLINE):
        stop_at_once = RestartPolicy(max_restarts=0, give_up="stop")
        async with running(tmp_path / "db.sqlite3", sales_policy=stop_at_once) as shop:
            jeanne, sale = await jeanne_topped_up(shop, "20.00")
            shop.unanswered.add(reads.sale_takes)  # read after the give-back, before the unit
            with pytest.raises(ActorFailed):
                await shop.do(shop.sales, CancelSale(sale=sale, reason="erreur"), APPROVED)
            assert await shop.available(jeanne) == D("20.00")  # before the fix: 0.00


class _HeadOfficeFailing:
    """``[head_office]``'s part as the customers actor calls it, failing in a way it
    does not expect (not an answer, not a refusal): the actor crashes."""

    async def hold_movement(self, customer: str, account: str, amount: Decimal, what: str) -> int:
        raise RuntimeError("head office's link broke in an unexpected way")


async def test_a_top_up_cancel_held_by_a_settle_the_customers_actor_crashed_on_is_let_go(tmp_path, virtual_clock):
    """The customers actor holds a sale's top-up cancel (``TOPUP_CANCEL``), then crashes
    on head office's hold of it: the lane is answered ``unavailable`` and gives back
    nothing of a settle it was not granted. The bug: the hold outlived the restart (the
    holds are its owner's), the wallet 20.00 short until that lane's next settle or
    restart. Now the settle lets go of it as it crashes."""
    with trio.fail_after(DEADLINE):
        journal, journal_inbox = open_mailbox("journal", 256)
        async with trio.open_nursery() as core:
            await core.start(JournalActor(tmp_path / "db.sqlite3").run, journal_inbox)
            customers, customers_inbox = open_mailbox("customers", 8)
            factory = partial(CustomersActor, journal=journal, config=demo_config(), clock=FixedClock(),
                              modes=("cash",), holds={}, hq_holds=_HeadOfficeFailing())
            async with trio.open_nursery() as middle:
                await middle.start(supervise, "customers", factory, customers_inbox,
                                   RestartPolicy(initial_backoff=0, max_backoff=0, give_up="stop"))
                shop = Shop(journal, customers, customers, [], [], set())
                jeanne = (await shop.do(customers, CreateCustomer(name="Jeanne", wallet=True))).customer
                await topup_sale(shop, jeanne, "20.00")
                settle = AskSettle(lane="1", payments=(), at=AT, customer=jeanne, topup_cancel=D("20.00"),
                                   topup_mode="cash")
                with pytest.raises(ActorFailed):
                    await customers.ask(settle)
                assert await shop.available(jeanne) == D("20.00")  # before the fix: 0.00
                customers.close()
            journal.close()
