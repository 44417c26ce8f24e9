"""Head office's holds (actors/hq_holds.py) when head office does not answer in time: a
real JournalActor on a temp SQLite file, and a "head office" that takes the connection
and never says a word (a loopback socket that listens and never answers). The lanes'
asks end at ``hold_timeout`` and the shop decides offline; two lanes asking at once
both end at their own deadline (neither waits behind the other's stuck call); a till's
look at a customer's chain-wide balance ends there too, with the figure last seen.
Real time: the calls are in worker threads.
"""

from __future__ import annotations

import datetime as dt
import socket
from decimal import Decimal as D
from functools import partial

import trio

from laneserver.actors.hq_holds import ChainBalances, Granted, HoldStats, HqHolds
from laneserver.actors.journal import JournalActor, read
from laneserver.actors.runtime import open_mailbox
from laneserver.clock import FixedClock
from laneserver.config import HeadOfficeConfig
from laneserver.rules.outcome import Refused
from laneserver.rules.wallet_holds import Figure
from laneserver.store import hq_holds as store

TIMEOUT = 0.3


async def test_a_head_office_that_does_not_answer_is_offline_at_the_deadline(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections complete in the backlog; nothing ever answers them
    port = silent.getsockname()[1]
    clock = FixedClock(dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC))
    config = HeadOfficeConfig(shop="S1", dsn=f"postgresql://postgres@127.0.0.1:{port}/hq", hold_timeout=TIMEOUT,
                              offline_wallet_limit="10.00")
    journal, inbox = open_mailbox("journal", 64)
    try:
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                await nursery.start(JournalActor(tmp_path / "db.sqlite3").run, inbox)
                holds = HqHolds(config, journal=journal, clock=clock, stats=HoldStats())
                await holds.load()
                await read(journal, partial(store.see, customer="H1", account="wallet", available=D("8.00"),
                                            at=clock.now()))
                answers: dict[str, object] = {}
                took: dict[str, float] = {}

                async def ask(lane: str, customer: str) -> None:
                    start = trio.current_time()
                    answers[lane] = await holds.ask(lane, 1, customer, "wallet", D("6.00"))
                    took[lane] = trio.current_time() - start

                async with trio.open_nursery() as lanes:
                    lanes.start_soon(ask, "1", "H1")
                    lanes.start_soon(ask, "2", "H2")
                # Both at their own deadline, not one after the other (the calls hang for 2 s).
                assert all(TIMEOUT <= t < TIMEOUT + 1.0 for t in took.values()), took
                assert isinstance(answers["1"], Granted) and answers["1"].hold is None  # seen 8.00: taken offline
                refused = answers["2"]  # H2's balance never seen here: nothing offline
                assert isinstance(refused, Refused) and refused.code == "unavailable"
                assert (holds.stats.asked, holds.stats.offline, holds.stats.offline_refused) == (2, 1, 1)
                assert holds.stats.failures == 2 and holds.stats.reachable is False
                # What is left of H1 offline: the seen 8.00 less the 6.00 taken.
                more = await holds.ask("2", 2, "H1", "wallet", D("2.01"))
                assert isinstance(more, Refused) and more.details == {"available": "2.00", "short": "0.01"}
                # The line removed: its allowance comes back.
                await holds.gone("1", [1])
                again = await holds.ask("2", 3, "H1", "wallet", D("6.00"))
                assert isinstance(again, Granted)
                # The till's look at the customer: no longer than the deadline either, the
                # figure last seen less the offline line still on a ticket, with its time.
                start = trio.current_time()
                cached = await holds.balances("H1")
                assert TIMEOUT <= trio.current_time() - start < TIMEOUT + 1.0
                assert cached == ChainBalances("head_office_cached", {"wallet": Figure(D("2.00"), D("2.00"))},
                                               at=clock.now())
                assert await holds.balances("H2") == ChainBalances("shop", {})  # never seen: the shop's own
                journal.close()
    finally:
        silent.close()
