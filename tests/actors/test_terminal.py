"""The payment-terminal actor and the simulated terminal, then the lane with its terminal.

First part: ``TerminalActor`` with the ``SimulatedTerminal`` (or a driver that
misbehaves on purpose) under ``autojump_clock``, every outcome asserted at its
exact virtual time.

Second part: a ``LaneActor`` with its real journal (a temp SQLite file), stock
point and terminal actor. The journal works in a thread, so that part runs in
real time under ``trio.fail_after``, with short terminal delays.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, AsyncIterator

import msgspec
import pytest
import trio

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.lane import LaneActor, payment_policy
from laneserver.actors.lane_messages import GetTicket, Receipted, SaleDone, TicketChanged
from laneserver.actors.messages import Caller, Do
from laneserver.actors.runtime import DEVICE_POLICY, ActorFailed, Address, open_mailbox, supervise
from laneserver.actors.stock_point import StockPointActor
from laneserver.actors.terminal import ABORT_SECONDS, TerminalActor
from laneserver.actors.terminal_messages import Charge
from laneserver.clock import FixedClock
from laneserver.config import Config, LaneConfig, StockPointConfig, TerminalConfig
from laneserver.hw.terminal import SimulatedTerminal, TerminalResult, TerminalUnavailable, authorisation_code
from laneserver.actors.terminal import open_driver
from laneserver.rules import lane as rules
from laneserver.rules.money import parse_money
from laneserver.rules.outcome import Refused
from laneserver.store import reads
from laneserver.store.ops import MoveStock

D = Decimal


def terminal_config(**changes) -> TerminalConfig:
    return TerminalConfig(**{"id": "t1", "kind": "simulator", "delay_seconds": 1.5, "timeout_seconds": 30.0,
                             **changes})


@asynccontextmanager
async def running_terminal(config: TerminalConfig, driver) -> AsyncIterator[Address]:
    address, inbox = open_mailbox(f"terminal:{config.id}", 4)
    async with trio.open_nursery() as nursery:
        await nursery.start(TerminalActor(config, driver=driver).run, inbox)
        yield address
        address.close()


async def timed_charge(terminal: Address, amount: str, reference: str = "1-x-1", deadline=None):
    start = trio.current_time()
    result = await terminal.ask(Charge(D(amount), reference, deadline))
    return result, trio.current_time() - start


# -- the simulated terminal through its actor (virtual time) -----------------------------


async def test_approved_after_the_delay_with_a_predictable_code(autojump_clock):
    sim = SimulatedTerminal(delay=1.5)
    async with running_terminal(terminal_config(), sim) as terminal:
        result, took = await timed_charge(terminal, "12.50", "1-20240301-1")
    assert took == 1.5
    assert result == TerminalResult(outcome="approved", authorisation=authorisation_code(D("12.50"), "1-20240301-1"),
                                    card="SIMULATED ****0000")
    assert result.authorisation.startswith("SIM") and len(result.authorisation) == 9
    assert sim.charges == ["1-20240301-1"] and sim.aborts == 0
    # Only a masked label, never a card number.
    assert "0000" in result.card and "*" in result.card


@pytest.mark.parametrize(("amount", "outcome"), [("3.91", "declined"), ("100.92", "cancelled"), ("0.95", "approved")])
async def test_the_cents_choose_the_outcome(autojump_clock, amount, outcome):
    async with running_terminal(terminal_config(), SimulatedTerminal(delay=1.5)) as terminal:
        result, took = await timed_charge(terminal, amount)
    assert (result.outcome, took) == (outcome, 1.5)
    assert (result.authorisation is not None) == (outcome == "approved")


async def test_a_terminal_that_never_answers_times_out_and_is_aborted(autojump_clock):
    sim = SimulatedTerminal(delay=1.5)
    async with running_terminal(terminal_config(timeout_seconds=30.0), sim) as terminal:
        result, took = await timed_charge(terminal, "7.93")
        assert (result.outcome, took) == ("timeout", 30.0)
        assert sim.aborts == 1
        # The terminal goes on: the next charge is answered as usual.
        result, took = await timed_charge(terminal, "7.90")
        assert (result.outcome, took) == ("approved", 1.5)


async def test_the_askers_deadline_bounds_the_charge(autojump_clock):
    sim = SimulatedTerminal(delay=1.5)
    async with running_terminal(terminal_config(timeout_seconds=30.0), sim) as terminal:
        result, took = await timed_charge(terminal, "7.93", deadline=trio.current_time() + 4)
        assert (result.outcome, took) == ("timeout", 4.0)
        # A charge whose asker already gave up is not started: no card is charged.
        result, took = await timed_charge(terminal, "7.90", reference="late", deadline=trio.current_time() - 1)
        assert (result.outcome, took) == ("timeout", 0.0)
        assert sim.charges == ["1-x-1"]


async def test_charges_queue_one_at_a_time(autojump_clock):
    sim = SimulatedTerminal(delay=2.0)
    answered: dict[str, float] = {}
    async with running_terminal(terminal_config(), sim) as terminal:
        async def charge(reference: str) -> None:
            await terminal.ask(Charge(D("5.00"), reference))
            answered[reference] = trio.current_time()

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(charge, "a")
            await trio.sleep(0.1)
            nursery.start_soon(charge, "b")
    assert {k: v - start for k, v in answered.items()} == {"a": 2.0, "b": 4.0}


class HangingAbort(SimulatedTerminal):
    async def abort(self) -> None:
        self.aborts += 1
        await trio.sleep_forever()


async def test_an_abort_that_hangs_is_bounded(autojump_clock):
    async with running_terminal(terminal_config(timeout_seconds=10.0), HangingAbort(delay=0)) as terminal:
        result, took = await timed_charge(terminal, "1.93")
    assert (result.outcome, took) == ("timeout", 10.0 + ABORT_SECONDS)


class Unplugged(SimulatedTerminal):
    async def charge(self, amount, reference):
        await trio.sleep(0.25)
        raise TerminalUnavailable("no answer on /dev/ttyACM0")


async def test_an_unavailable_terminal_fails_the_charge_and_the_actor_goes_on(autojump_clock):
    driver = Unplugged(delay=0)
    async with running_terminal(terminal_config(), driver) as terminal:
        for _ in range(2):
            result, took = await timed_charge(terminal, "5.00")
            assert (result.outcome, took) == ("failed", 0.25)
            assert "/dev/ttyACM0" in result.message


async def test_a_driver_crash_answers_failed_and_the_actor_restarts(autojump_clock):
    sim = SimulatedTerminal(delay=1.0)
    config = terminal_config()
    address, inbox = open_mailbox("terminal:t1", 4)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, address.name, partial(TerminalActor, config, driver=sim), inbox, DEVICE_POLICY)
        # .94: the simulated driver raises. The pending charge is answered, not left hanging.
        result, took = await timed_charge(address, "2.94")
        assert (result.outcome, took) == ("failed", 0.0)
        # The supervisor restarts the actor after its backoff; the next charge waits for it.
        result, took = await timed_charge(address, "2.90")
        assert result.outcome == "approved"
        assert took == DEVICE_POLICY.initial_backoff + 1.0
        address.close()


async def test_a_terminal_that_gave_up_fails_charges_at_once(autojump_clock):
    sim = SimulatedTerminal(delay=0)
    address, inbox = open_mailbox("terminal:t1", 4)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, address.name, partial(TerminalActor, terminal_config(), driver=sim), inbox,
                            DEVICE_POLICY)
        for _ in range(DEVICE_POLICY.max_restarts + 1):
            result, _ = await timed_charge(address, "2.94")
            assert result.outcome == "failed"
        # Restart budget spent: the mailbox is drained, an ask fails at once.
        with pytest.raises(ActorFailed):
            await address.ask(Charge(D("2.90"), "after"))
        address.close()


async def test_a_silent_terminal_does_not_hold_up_another(autojump_clock):
    async with running_terminal(terminal_config(id="t1", timeout_seconds=60.0), SimulatedTerminal(delay=0)) as one, \
            running_terminal(terminal_config(id="t2", delay_seconds=0.5), SimulatedTerminal(delay=0.5)) as two:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(one.ask, Charge(D("9.93"), "1-x-1"))
            await trio.sleep(1)
            result, took = await timed_charge(two, "9.90", "2-x-1")
            assert (result.outcome, took) == ("approved", 0.5)
            nursery.cancel_scope.cancel()


def test_open_driver_builds_the_simulator():
    driver = open_driver(terminal_config(delay_seconds=0.25))
    assert isinstance(driver, SimulatedTerminal) and driver.delay == 0.25


# -- the lane with its terminal (real journal: real time) -------------------------------

DEADLINE = 15
POINT = "main"
MARIE = Caller(device="till-1-1", seller="marie")
PAUL = Caller(device="till-2-1", seller="paul")


def _catalog():
    from laneserver.rules.catalog import Article, Barcode, Catalog

    return Catalog([
        Article("BREAD", "Pain", D("3.20"), D("5.5"), barcodes=(Barcode("3012345678900"),)),
        # 8.91 €: the simulated terminal declines it; 8.92: cancelled; 8.93: no answer.
        Article("W91", "Vin 91", D("8.91"), D("20"), barcodes=(Barcode("91"),)),
        Article("W92", "Vin 92", D("8.92"), D("20"), barcodes=(Barcode("92"),)),
        Article("W93", "Vin 93", D("8.93"), D("20"), barcodes=(Barcode("93"),)),
    ])


CATALOG = _catalog()
LANE_CONFIG = Config(
    stock_points=(StockPointConfig(id=POINT),),
    lanes=(LaneConfig(id="1", stock_point=POINT, terminal="t1"), LaneConfig(id="2", stock_point=POINT, terminal="t2")),
    terminals=(TerminalConfig(id="t1", delay_seconds=0.05, timeout_seconds=2.0),
               TerminalConfig(id="t2", delay_seconds=0.05, timeout_seconds=2.0)),
)

POLICY = payment_policy(LANE_CONFIG)


class LaneShop(msgspec.Struct):
    journal: Address
    lanes: dict[str, Address]
    sims: dict[str, SimulatedTerminal]
    actors: dict[str, LaneActor]


@asynccontextmanager
async def lane_shop(path: Path) -> AsyncIterator[LaneShop]:
    clock = FixedClock()
    journal, journal_inbox = open_mailbox("journal", 256)
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        await commit(journal, *(MoveStock(at=clock.now(), stock_point=POINT, article=a.id, delta=D(50),
                                          reason="initial") for a in CATALOG))
        stock, stock_inbox = open_mailbox(f"stock:{POINT}", 64)
        async with trio.open_nursery() as middle:
            await middle.start(StockPointActor(POINT, journal=journal, catalog=CATALOG, clock=clock).run, stock_inbox)
            sims, terminals = {}, {}
            for config in LANE_CONFIG.terminals:
                sims[config.id] = SimulatedTerminal(delay=config.delay_seconds)
                terminals[config.id], inbox = open_mailbox(f"terminal:{config.id}", 4)
                await middle.start(TerminalActor(config, driver=sims[config.id]).run, inbox)
            lanes, actors = {}, {}
            async with trio.open_nursery() as front:
                for lane in LANE_CONFIG.lanes:
                    lanes[lane.id], inbox = open_mailbox(f"lane:{lane.id}")
                    actors[lane.id] = LaneActor(lane.id, config=LANE_CONFIG, journal=journal, catalog=CATALOG,
                                                stock=stock, printer=None, clock=clock,
                                                terminal=terminals[lane.terminal])
                    await front.start(actors[lane.id].run, inbox)
                yield LaneShop(journal=journal, lanes=lanes, sims=sims, actors=actors)
                for address in lanes.values():
                    address.close()
            for address in (stock, *terminals.values()):
                address.close()
        journal.close()


async def do(shop: LaneShop, lane: str, command: Any, caller: Caller = MARIE, key: str | None = None) -> Any:
    """Ask a lane a domain command (as the edge does: ``Do``)."""
    return await shop.lanes[lane].ask(Do(caller, command, key, None if key is None else f"fp:{command!r}"))


def scan(code: str, qty: Any = 1, seller: str = "marie") -> rules.AddLine:
    found = CATALOG.lookup(code)
    return rules.AddLine(seller, found.article, D(qty))


def card(amount: str | None = None, seller: str = "marie") -> Receipted:
    return Receipted(rules.Pay(seller, "card", None if amount is None else parse_money(amount), policy=POLICY))


async def test_lane_records_an_approved_card_payment_with_its_authorisation(tmp_path):
    with trio.fail_after(DEADLINE):
        async with lane_shop(tmp_path / "shop.db") as shop:
            await do(shop, "1", scan("3012345678900", 2))
            changed = await do(shop, "1", card())
            assert isinstance(changed, TicketChanged), changed
            [payment] = changed.now.ticket.payments
            [reference] = shop.sims["t1"].charges
            assert (payment.payment, payment.mode, payment.amount, payment.reference) == (
                1, "card", D("6.40"), authorisation_code(D("6.40"), reference))
            assert reference.startswith("1-") and reference.endswith("-1")
            assert isinstance(await do(shop, "1", Receipted(rules.Finish("marie"), "none")), SaleDone)


@pytest.mark.parametrize(("code", "outcome"), [("91", "declined"), ("92", "cancelled"), ("93", "timeout")])
async def test_lane_refuses_a_card_the_terminal_did_not_approve(tmp_path, code, outcome):
    with trio.fail_after(DEADLINE):
        async with lane_shop(tmp_path / "shop.db") as shop:
            before = await do(shop, "1", scan(code))
            state = shop.actors["1"].state
            start = trio.current_time()
            refused = await do(shop, "1", card(), key="pay-1")
            took = trio.current_time() - start
            assert isinstance(refused, Refused), refused
            assert (refused.code, refused.details) == ("payment_declined", {"outcome": outcome})
            assert "8.9" in refused.message and "not paid" in refused.message
            assert shop.actors["1"].state is state  # nothing changed
            assert await read(shop.journal, partial(reads.lane_state, lane="1")) == state
            assert await do(shop, "1", GetTicket()) == before.now
            if outcome == "timeout":
                assert 2.0 <= took < 3.0 and shop.sims["t1"].aborts == 1
            # A refusal is not remembered: the same key asks the terminal again.
            await do(shop, "1", card(), key="pay-1")
            assert len(shop.sims["t1"].charges) == 2


async def test_lane_keyed_retry_does_not_charge_the_card_twice(tmp_path):
    with trio.fail_after(DEADLINE):
        async with lane_shop(tmp_path / "shop.db") as shop:
            await do(shop, "1", scan("3012345678900"))
            first = await do(shop, "1", card("1.00"), key="k-1")
            again = await do(shop, "1", card("1.00"), key="k-1")
            assert isinstance(first, TicketChanged) and again == first
            assert len(shop.sims["t1"].charges) == 1
            assert len((await do(shop, "1", GetTicket())).ticket.payments) == 1


async def test_lane_checks_the_payment_before_the_card(tmp_path):
    with trio.fail_after(DEADLINE):
        async with lane_shop(tmp_path / "shop.db") as shop:
            empty = await do(shop, "1", card())
            assert empty.code == "conflict"
            await do(shop, "1", scan("3012345678900"))
            above = await do(shop, "1", card("50.00"))
            assert above.code == "bad_request" and above.details["balance"] == "3.20"
            cash = await do(shop, "1", Receipted(rules.Pay("marie", "cash", D("1.00"), policy=POLICY)))
            assert isinstance(cash, TicketChanged)
            assert shop.sims["t1"].charges == []  # refused payments and cash never reach the terminal


async def test_a_lane_waiting_for_its_terminal_does_not_block_the_other(tmp_path):
    with trio.fail_after(DEADLINE):
        async with lane_shop(tmp_path / "shop.db") as shop:
            await do(shop, "1", scan("93"))
            declined: list[Any] = []

            async def pay_lane_1() -> None:
                declined.append(await do(shop, "1", card()))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(pay_lane_1)
                with trio.fail_after(1.5):  # lane 1's terminal is silent for 2 s
                    while not shop.sims["t1"].charges:
                        await trio.sleep(0.01)
                    start = trio.current_time()
                    await do(shop, "2", scan("3012345678900", seller="paul"), PAUL)
                    paid = await do(shop, "2", card(seller="paul"), PAUL)
                    done = await do(shop, "2", Receipted(rules.Finish("paul"), "none"), PAUL)
                    assert isinstance(paid, TicketChanged) and isinstance(done, SaleDone)
                    assert trio.current_time() - start < 1.0
                    assert not declined  # lane 1 is still waiting
            [refused] = declined
            assert refused.details["outcome"] == "timeout"


async def test_the_demo_simulator_approves_every_amount() -> None:
    sim = SimulatedTerminal(delay=0, outcomes="approve")
    with trio.fail_after(1):
        for amount in ("5.91", "5.92", "5.93", "5.94", "5.00"):
            result = await sim.charge(Decimal(amount), f"ref-{amount}")
            assert result.approved and result.authorisation == authorisation_code(Decimal(amount), f"ref-{amount}")
