"""The load generator: N tills and M PDAs playing a shop against a real server process.

Each till is one websocket connection that says ``hello`` with its token, signs in,
then sells back to back: scans 1–30 articles, sometimes holds the ticket and recalls
it, pays (cash with change, card, or split card + cash) and finishes. Each PDA is one
connection that, after a think time, either asks ``stock`` for an article or empties
a basket of 1–4 lines into a random lane (``basket_empty``). Only the public protocol
is used (PROTOCOL.md).

Measured, from raw samples:
  * scan → ticket event: from sending ``scan`` to the till having the ticket that holds
    the new line. Since ticket revisions (PROTOCOL.md) the session that made a change
    gets the ticket in its reply and no ``ticket`` event for it, so this is the
    scan's reply (the events a till still gets are other sessions' changes: a PDA's
    basket);
  * finish: from sending ``finish`` to its ``ok`` (sent once the sale is durable);
  * the reply times of ``scan``, ``basket_empty`` and ``stock``; sales; requests.

Bounded: each till stops after ``sales`` sales or once ``duration`` seconds have
passed (it completes the sale under way); PDAs stop with the last till; every
request has a deadline, and the whole run a hard one. Seeded: each device draws
from its own ``random.Random(f"{seed}:…")``.
"""

from __future__ import annotations

import itertools
import random
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

import msgspec
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

REQUEST_SECONDS = 30.0      # one request's deadline: past it, that device stops
HARD_EXTRA_SECONDS = 120.0  # the run's hard deadline: duration + this
CENT = Decimal("0.01")
FIVE = Decimal(5)
HOLD_PROBABILITY = 0.08
PAY_WEIGHTS = {"cash": 45, "card": 35, "split": 20}

_decode = msgspec.json.decode
_encode = msgspec.json.Encoder().encode


class RequestFailed(Exception):
    """A device got no answer in time, or lost its connection: it stops."""


@dataclass
class Stats:
    """What a load run measured. Times are float seconds (``time.perf_counter``)."""

    scan_to_event: list[float] = field(default_factory=list)
    scan_reply: list[float] = field(default_factory=list)
    finish: list[float] = field(default_factory=list)
    basket: list[float] = field(default_factory=list)
    stock: list[float] = field(default_factory=list)
    sales: int = 0
    requests: int = 0          # every request sent inside the window, tills and PDAs
    till_requests: int = 0
    frames_in: int = 0         # frames received inside the window (replies and events)
    bytes_in: int = 0          # their size, as UTF-8 text
    errors: Counter[str] = field(default_factory=Counter)    # "verb:code"
    counts: Counter[str] = field(default_factory=Counter)    # holds, recalls, baskets, pay modes…
    failed_devices: list[str] = field(default_factory=list)
    window: float = float("nan")     # seconds from the start signal to the last till's end
    setup: float = float("nan")      # seconds to connect, hello and sign in every device
    cpu_seconds: float = float("nan")  # the server's, over the window (when its pid is given)
    client_cpu_seconds: float = float("nan")  # this process's (the load generator), over the window

    @property
    def sales_per_second(self) -> float:
        return self.sales / self.window if self.window > 0 else float("nan")

    @property
    def requests_per_sale(self) -> float:
        return self.requests / self.sales if self.sales else float("nan")

    @property
    def cpu_per_sale(self) -> float:
        return self.cpu_seconds / self.sales if self.sales else float("nan")


class Device:
    """One websocket connection: requests matched to replies by id; pushed events
    (other sessions' changes) counted in ``frames_in`` and dropped."""

    def __init__(self, name: str, ws, stats: Stats) -> None:
        self.name = name
        self.ws = ws
        self.stats = stats
        self.counting = False
        self._ids = itertools.count(1)
        self._waiting: dict[int, list[Any]] = {}   # id → [trio.Event, frame, arrival]
        self.closed = False

    async def pump(self) -> None:
        """The one reader of the socket."""
        try:
            while True:
                raw = await self.ws.get_message()
                arrived = time.perf_counter()
                if self.counting:
                    self.stats.frames_in += 1
                    self.stats.bytes_in += len(raw)
                frame = _decode(raw)
                slot = self._waiting.pop(frame.get("re"), None) if "re" in frame else None
                if slot is not None:
                    slot[1], slot[2] = frame, arrived
                    slot[0].set()
                elif frame.get("type") == "error":
                    self.stats.errors[f"unaddressed:{frame.get('code')}"] += 1
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            for slot in self._waiting.values():
                slot[0].set()

    async def call(self, verb: str, **fields: Any) -> tuple[dict[str, Any], float, float]:
        """Send one request; returns (reply, sent at, reply arrived at).

        Raises:
            RequestFailed: no reply within ``REQUEST_SECONDS`` or the connection closed.
        """
        request_id = next(self._ids)
        slot: list[Any] = [trio.Event(), None, 0.0]
        self._waiting[request_id] = slot
        if self.counting:
            self.stats.requests += 1
            if self.name.startswith("till"):
                self.stats.till_requests += 1
        sent = time.perf_counter()
        try:
            with trio.fail_after(REQUEST_SECONDS):
                await self.ws.send_message(_encode({"type": verb, "id": request_id, **fields}).decode())
                await slot[0].wait()
        except (trio.TooSlowError, ConnectionClosed) as error:
            raise RequestFailed(f"{self.name}: {verb} got no reply ({error!r})") from None
        if slot[1] is None:
            raise RequestFailed(f"{self.name}: connection closed during {verb}")
        reply = slot[1]
        if reply.get("type") == "error":
            self.stats.errors[f"{verb}:{reply.get('code')}"] += 1
        return reply, sent, slot[2]

    async def ok(self, verb: str, **fields: Any) -> dict[str, Any]:
        reply, _, _ = await self.call(verb, **fields)
        if reply.get("type") != "ok":
            raise RequestFailed(f"{self.name}: {verb} refused: {reply}")
        return reply


# --- a till ---------------------------------------------------------------------------------


class Till:
    def __init__(self, device: Device, lane: str, rng: random.Random, codes: list[str]) -> None:
        self.device = device
        self.lane = lane
        self.rng = rng
        self.codes = codes
        self.stats = device.stats
        self.ticket: dict[str, Any] | None = None   # the open ticket as the last reply showed it

    async def sell(self) -> None:
        """One customer: scans, maybe a hold and recall, payment, finish."""
        rng = self.rng
        scans = rng.randint(1, 30)
        hold_after = rng.randint(1, scans) if rng.random() < HOLD_PROBABILITY else None
        pending_held: list[str] = []
        for i in range(1, scans + 1):
            await self.scan(rng.choice(self.codes), 2 if rng.random() < 0.1 else None)
            if i == hold_after:
                reply, _, _ = await self.device.call("hold")
                if reply.get("type") != "ok":
                    continue
                held = reply["held"]
                self.stats.counts["hold"] += 1
                reply, _, _ = await self.device.call("recall", held=held)
                if reply.get("type") == "ok":
                    self.stats.counts["recall"] += 1
                    self.ticket = reply["ticket"]
                else:  # a PDA emptied a basket onto the new ticket: sell that one first
                    pending_held.append(held)
                    self.ticket = None
        await self.pay_and_finish()
        for held in pending_held:
            reply, _, _ = await self.device.call("recall", held=held)
            if reply.get("type") == "ok":
                self.stats.counts["recall"] += 1
                self.ticket = reply["ticket"]
                await self.pay_and_finish()

    async def scan(self, code: str, qty: int | None) -> None:
        fields: dict[str, Any] = {"code": code} if qty is None else {"code": code, "qty": qty}
        reply, sent, answered = await self.device.call("scan", **fields)
        if reply.get("type") != "ok":
            return
        self.ticket = reply["ticket"]
        # The reply carries the ticket with the new line: no event comes for our own scan.
        self.stats.scan_reply.append(answered - sent)
        self.stats.scan_to_event.append(answered - sent)

    async def pay_and_finish(self) -> None:
        device, stats = self.device, self.stats
        if self.ticket is None:
            self.ticket = (await device.ok("ticket"))["ticket"]
        if not self.ticket["lines"]:
            return
        balance = Decimal(self.ticket["balance"])
        mode = self.rng.choices(list(PAY_WEIGHTS), weights=list(PAY_WEIGHTS.values()))[0]
        stats.counts[f"pay_{mode}"] += 1
        if mode == "cash":
            # The customer hands over the next multiple of 5: change is due.
            tendered = (balance / FIVE).to_integral_value(ROUND_CEILING) * FIVE
            await device.call("pay", mode="cash", amount=str(max(tendered, FIVE).quantize(CENT)))
        elif mode == "card":
            await device.call("pay", mode="card")
        else:
            share = (balance * Decimal(self.rng.randint(20, 80)) / 100).quantize(CENT)
            if CENT <= share < balance:
                await device.call("pay", mode="card", amount=str(share))
            await device.call("pay", mode="cash")
        for _ in range(3):
            reply, sent, answered = await device.call("finish")
            if reply.get("type") == "ok":
                stats.finish.append(answered - sent)
                stats.sales += 1
                self.ticket = None
                return
            if reply.get("code") != "balance_not_zero":
                return
            # A basket came in between our last reply and the payment: pay the rest.
            await device.call("pay", mode="cash")


# --- a PDA ----------------------------------------------------------------------------------


class Pda:
    def __init__(self, device: Device, index: int, rng: random.Random, codes: list[str], articles: list[str],
                 lanes: list[str], think: tuple[float, float]) -> None:
        self.device = device
        self.index = index
        self.rng = rng
        self.codes = codes
        self.articles = articles
        self.lanes = lanes
        self.think = think
        self.stats = device.stats
        self._baskets = itertools.count(1)

    async def act(self) -> None:
        rng = self.rng
        if rng.random() < 0.5:
            reply, sent, answered = await self.device.call("stock", article=rng.choice(self.articles))
            if reply.get("type") == "ok":
                self.stats.stock.append(answered - sent)
            return
        lines = [{"code": rng.choice(self.codes), "qty": rng.randint(1, 3)} for _ in range(rng.randint(1, 4))]
        basket = f"pda{self.index}-{next(self._baskets)}"
        reply, sent, answered = await self.device.call("basket_empty", basket=basket, lane=rng.choice(self.lanes),
                                                       lines=lines)
        if reply.get("type") == "ok":
            self.stats.basket.append(answered - sent)
            self.stats.counts["basket_ok"] += 1
        else:  # a ticket being paid takes no basket: the PDA goes to another till
            self.stats.counts["basket_refused"] += 1


# --- the run ----------------------------------------------------------------------------------


async def run_load(
    url: str,
    till_tokens: dict[str, str],
    pda_tokens: list[str] | tuple[str, ...] = (),
    *,
    sellers: list[tuple[str, str]],
    codes: list[str],
    articles: list[str],
    sales: int,
    seed: int,
    duration: float,
    pda_think: tuple[float, float] = (0.1, 0.5),
    server_pid: int | None = None,
    setup_concurrency: int = 4,
) -> Stats:
    """Play ``len(till_tokens)`` tills and ``len(pda_tokens)`` PDAs against ``url``.

    Args:
        url: the server's websocket URL (``ws://127.0.0.1:PORT/ws``).
        till_tokens: lane id → the token of a till paired on that lane.
        pda_tokens: tokens of paired PDAs.
        sellers: (name, PIN) pairs, handed to the devices round robin.
        codes: codes that scan to one active article; articles: ids for ``stock``.
        sales: sales per till (a till stops after that many, or at ``duration``).
        seed: everything random is drawn from generators seeded from it.
        duration: seconds after which tills start no new sale.
        server_pid: read the server's CPU seconds at the window's edges (/proc).
        setup_concurrency: devices signing in at once (a PIN check is deliberately slow).

    Returns:
        ``Stats``; devices that failed (no reply in time) are named in ``failed_devices``.
    """
    from bench.server import cpu_seconds

    stats = Stats()
    lanes = list(till_tokens)
    go = trio.Event()
    tills_left = len(till_tokens)
    tills_done = trio.Event()
    signed_in = trio.CapacityLimiter(setup_concurrency)
    stop_at = [float("inf")]

    async def open_device(name: str, token: str, seller: tuple[str, str], role, *,
                          task_status=trio.TASK_STATUS_IGNORED) -> None:
        nonlocal tills_left
        # The connection is opened inside the limiter too: the server makes a websocket
        # beyond ``[server] max_unauthenticated`` (64) wait for its place before hello.
        await signed_in.acquire()
        holding = [True]

        def release() -> None:
            if holding[0]:
                holding[0] = False
                signed_in.release()

        try:
            async with open_websocket_url(url, max_message_size=16 << 20) as ws:
                device = Device(name, ws, stats)
                async with trio.open_nursery() as inner:
                    inner.start_soon(device.pump)
                    try:
                        await device.ok("hello", token=token)
                        await device.ok("sign_in", seller=seller[0], pin=seller[1])
                    finally:
                        release()
                    task_status.started()
                    await go.wait()
                    device.counting = True
                    try:
                        await role(device)
                    except RequestFailed as error:
                        stats.failed_devices.append(str(error))
                    inner.cancel_scope.cancel()
        finally:
            release()
            if name.startswith("till"):
                tills_left -= 1
                if tills_left == 0:
                    tills_done.set()

    def till_role(lane: str):
        async def role(device: Device) -> None:
            till = Till(device, lane, random.Random(f"{seed}:till:{lane}"), codes)
            for _ in range(sales):
                if time.perf_counter() >= stop_at[0]:
                    break
                await till.sell()
        return role

    def pda_role(index: int):
        async def role(device: Device) -> None:
            pda = Pda(device, index, random.Random(f"{seed}:pda:{index}"), codes, articles, lanes, pda_think)
            while not tills_done.is_set():
                with trio.move_on_after(pda.rng.uniform(*pda_think)):
                    await tills_done.wait()
                if tills_done.is_set():
                    return
                await pda.act()
        return role

    with trio.move_on_after(duration + HARD_EXTRA_SECONDS) as hard:
        async with trio.open_nursery() as nursery:
            setup_started = time.perf_counter()
            with trio.fail_after(120):
                async with trio.open_nursery() as setup:
                    for i, (lane, token) in enumerate(till_tokens.items()):
                        setup.start_soon(nursery.start, open_device, f"till{lane}", token,
                                         sellers[i % len(sellers)], till_role(lane))
                    for j, token in enumerate(pda_tokens):
                        setup.start_soon(nursery.start, open_device, f"pda{j}", token,
                                         sellers[(len(till_tokens) + j) % len(sellers)], pda_role(j))
            stats.setup = time.perf_counter() - setup_started
            cpu_before = cpu_seconds(server_pid) if server_pid else float("nan")
            client_before = _own_cpu_seconds()
            started = time.perf_counter()
            stop_at[0] = started + duration
            go.set()
            await tills_done.wait()
            stats.window = time.perf_counter() - started
            stats.client_cpu_seconds = _own_cpu_seconds() - client_before
            if server_pid:
                stats.cpu_seconds = cpu_seconds(server_pid) - cpu_before
    if hard.cancelled_caught:
        stats.failed_devices.append(f"hard deadline of {duration + HARD_EXTRA_SECONDS:.0f} s reached")
    return stats


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_searches(url: str, token: str, seller: tuple[str, str], queries: list[str], *,
                       limit: int = 20) -> list[float]:
    """Send each query as a ``search`` request, one after the other, on one connection;
    returns the reply times (seconds) of the ``ok`` replies. Bounded by ``len(queries)``
    and each request's deadline."""
    samples: list[float] = []
    async with open_websocket_url(url, max_message_size=16 << 20) as ws:
        device = Device("search", ws, Stats())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(device.pump)
            await device.ok("hello", token=token)
            await device.ok("sign_in", seller=seller[0], pin=seller[1])
            for text in queries:
                reply, sent, answered = await device.call("search", text=text, limit=limit)
                if reply.get("type") == "ok":
                    samples.append(answered - sent)
            nursery.cancel_scope.cancel()
    return samples
