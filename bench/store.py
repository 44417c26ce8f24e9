"""``store``: a whole store at human pace, and a reconnect storm (issue 12, target 3).

For each N of the capacity curve, on a fresh shop of N lanes:

1. **sign-in**: N tills and N/5 PDAs (one websocket each) connect, say ``hello`` and
   ``sign_in`` with a PIN, one device every 1/``rate`` s (50 a second), interleaved;
2. **selling**, ``duration`` seconds from a common start: each till sells sales of
   5–40 scans, a scan every 1–4 s, then (1–4 s later) pays cash (the next multiple of
   5: change due) and finishes; its first sale is one already under way (a random
   part of a 5–40 scan sale), so sales end all through the window. Each PDA asks
   ``stock`` for an article every 5–20 s. At the end of the window every device
   stops where it is (nothing is timed past it);
3. **reconnect storm**: the server is stopped (SIGTERM) and started again on the same
   data, then every device connects at once and says ``hello`` with the resume
   secret its sign-in got (what the till page does after a restart; one whose seller
   does not come back signs in with its PIN). A refused attempt (an error reply, a
   close such as 1013, a failed handshake) is counted and tried again 0.5–1.5 s later.

Measured, from raw samples: a scan's and a finish's reply time (sent → reply), a
``stock`` reply time, every refusal (error replies, closed or failed connections),
the server's CPU over the window (/proc), the load generator's own CPU (each client
process's rusage over the window: a process near 100 % of a core would be the
bottleneck), and for the storm the time until every device is in.

The devices run in ``procs`` client processes (``python -m bench.store client``,
driven over stdin/stdout: a job, then ``start`` and ``go`` lines); each process
bounds itself with a hard deadline.
"""

from __future__ import annotations

import json
import math
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from contextlib import suppress
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

from bench.report import Row, Target
from bench.stats import p50, p99

SCAN_P99_MS = 25.0
FINISH_P99_MS = 50.0
STORM_SECONDS = 30.0       # every device in within this (target)
STORM_DEADLINE = 60.0      # then the storm gives up on devices not in
SIGNIN_DEADLINE = 120.0    # a device not in this long after its turn gives up
TILL_THINK = (1.0, 4.0)    # seconds between a till's scans (× pace)
SALE_SCANS = (5, 40)
PDA_THINK = (5.0, 20.0)    # seconds between a PDA's look-ups (× pace)
DEVICES_PER_PROC = 1000
TARGET_N = 1000
MS = 1e3
FIVE = Decimal(5)
CENT = Decimal("0.01")


# --- the client process ---------------------------------------------------------------------


def _kind(error: BaseException) -> str:
    """A short name for why a connection attempt failed (for the refusal counts)."""
    if isinstance(error, BaseExceptionGroup):
        return _kind(error.exceptions[0])
    from trio_websocket import ConnectionClosed, ConnectionRejected, ConnectionTimeout, HandshakeError

    if isinstance(error, ConnectionRejected):
        return f"rejected:{error.status_code}"
    if isinstance(error, ConnectionTimeout):
        return "connect_timeout"
    if isinstance(error, ConnectionClosed):
        return f"closed:{error.reason.code}"
    if isinstance(error, HandshakeError):
        return "handshake"
    if isinstance(error, OSError):
        return f"os:{error.errno}"
    return type(error).__name__


class Refused(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


async def _client(job: dict[str, Any], lines) -> dict[str, Any]:
    """Run one client process's share of the devices (see the module's docstring)."""
    import trio
    from trio_websocket import open_websocket_url

    from bench.loadgen import Device, RequestFailed, Stats

    # Every time here is trio's clock (``trio.sleep_until`` reads it); reply times are
    # taken by ``Device.call`` (perf_counter differences).
    url, seed, pace = job["url"], job["seed"], job["pace"]
    storm = job["mode"] == "storm"
    devices = job["devices"]
    stats = Stats()
    refusals: Counter[str] = Counter()
    signin_s: list[float] = []          # from the device's turn to signed in
    in_at: list[float] = []             # seconds from the start to signed in
    resumed = Counter()
    resumes: dict[str, str] = {}
    not_in: list[str] = []
    scan_s: list[float] = []
    finish_s: list[float] = []
    stock_s: list[float] = []
    go = trio.Event()
    all_in = trio.Event()
    end = trio.Event()
    pending = [len(devices)]
    window: dict[str, float] = {}
    failed: list[str] = []

    def one_in() -> None:
        pending[0] -= 1
        if pending[0] == 0:
            all_in.set()

    async def till(device: Device, rng: random.Random, first: bool, stop: float) -> None:
        codes = job["codes"]
        while True:
            size = rng.randint(*SALE_SCANS)
            if first:
                size, first = rng.randint(1, size), False
            ticket = None
            for _ in range(size):
                await trio.sleep_until(min(trio.current_time() + rng.uniform(*TILL_THINK) * pace, stop))
                if trio.current_time() >= stop:
                    return
                reply, sent, answered = await device.call("scan", code=rng.choice(codes))
                if reply.get("type") == "ok":
                    scan_s.append(answered - sent)
                    ticket = reply["ticket"]
            await trio.sleep_until(min(trio.current_time() + rng.uniform(*TILL_THINK) * pace, stop))
            if trio.current_time() >= stop:
                return
            if ticket is None or not ticket["lines"]:
                continue
            balance = Decimal(ticket["balance"])
            tendered = max((balance / FIVE).to_integral_value(ROUND_CEILING) * FIVE, FIVE).quantize(CENT)
            reply, _, _ = await device.call("pay", mode="cash", amount=str(tendered))
            if reply.get("type") != "ok":
                continue
            reply, sent, answered = await device.call("finish")
            if reply.get("type") == "ok":
                finish_s.append(answered - sent)
                stats.sales += 1

    async def pda(device: Device, rng: random.Random, stop: float) -> None:
        articles = job["articles"]
        while True:
            await trio.sleep_until(min(trio.current_time() + rng.uniform(*PDA_THINK) * pace, stop))
            if trio.current_time() >= stop:
                return
            reply, sent, answered = await device.call("stock", article=rng.choice(articles))
            if reply.get("type") == "ok":
                stock_s.append(answered - sent)

    async def attempt(dev: dict[str, Any]) -> bool:
        """One connection: in, then (store) sells until the end. False: refused, retry."""
        connect_within = max(1.0, min(30.0, dev["deadline"] - trio.current_time()))
        async with open_websocket_url(url, max_message_size=16 << 20, connect_timeout=connect_within) as ws:
            device = Device(dev["name"], ws, stats)
            async with trio.open_nursery() as inner:
                inner.start_soon(device.pump)
                try:
                    return await signed_in_then_work(dev, ws, device)
                finally:
                    inner.cancel_scope.cancel()

    async def signed_in_then_work(dev: dict[str, Any], ws, device: Device) -> bool:
        fields = {"token": dev["token"]}
        if storm and dev.get("resume"):
            fields["resume"] = dev["resume"]
        # Getting in is bounded by the device's deadline (an attempt could otherwise
        # outlive it: connect 30 s + hello 30 s + sign_in 30 s).
        try:
            with trio.move_on_at(dev["deadline"]) as bounded:
                reply, _, _ = await device.call("hello", **fields)
                if reply.get("type") != "ok":
                    refusals[f"hello:{reply.get('code')}"] += 1
                    return False
                if reply.get("seller") is None:
                    reply, _, _ = await device.call("sign_in", seller=dev["seller"][0], pin=dev["seller"][1])
                    if reply.get("type") != "ok":
                        refusals[f"sign_in:{reply.get('code')}"] += 1
                        return False
                    resumes[dev["name"]] = reply["resume"]
                    resumed["pin"] += 1
                else:
                    resumed["resume"] += 1
        except RequestFailed:
            closed = ws.closed
            refusals[f"closed:{closed.code}" if closed is not None else "no_reply"] += 1
            return False
        if bounded.cancelled_caught:
            refusals["no_reply_by_deadline"] += 1
            return False
        in_at.append(trio.current_time() - window["t0"])
        signin_s.append(trio.current_time() - dev["turn"])
        one_in()
        if storm:
            await end.wait()
            return True
        await go.wait()
        device.counting = True
        rng = random.Random(f"{seed}:store:{dev['name']}")
        try:
            if dev["kind"] == "till":
                await till(device, rng, True, window["stop"])
            else:
                await pda(device, rng, window["stop"])
        except RequestFailed as error:
            failed.append(str(error))
        return True

    async def device_task(dev: dict[str, Any]) -> None:
        dev["turn"] = window["t0"] + (0 if storm else dev["index"] / job["rate"])
        await trio.sleep_until(dev["turn"])
        rng = random.Random(f"{seed}:retry:{dev['name']}")
        deadline = dev["deadline"] = dev["turn"] + (STORM_DEADLINE if storm else SIGNIN_DEADLINE)
        while True:
            try:
                if await attempt(dev):
                    return
            except Exception as error:  # a refused or failed connection: counted, tried again
                refusals[_kind(error)] += 1
            if trio.current_time() + 1 > deadline:
                not_in.append(dev["name"])
                one_in()
                return
            await trio.sleep(rng.uniform(0.5, 1.5))

    hard = (STORM_DEADLINE + 30) if storm else (len(devices) / job["rate"] * job["procs"] + SIGNIN_DEADLINE
                                                 + job["duration"] + 60)
    with trio.move_on_after(hard) as hard_scope:
        async with trio.open_nursery() as nursery:
            await lines.receive()  # "start"
            window["t0"] = trio.current_time()
            for dev in devices:
                nursery.start_soon(device_task, dev)
            await all_in.wait()
            window["all_in"] = trio.current_time() - window["t0"]
            window["ready"] = True
            if storm:
                print(json.dumps({"ready": True}), flush=True)
                await lines.receive()  # "go": every process is done
                end.set()
            else:
                print(json.dumps({"ready": True, "not_in": len(not_in)}), flush=True)
                await lines.receive()  # "go"
                cpu0 = _own_cpu()
                window["start"] = trio.current_time()
                window["stop"] = window["start"] + job["duration"]
                go.set()
                # Every device returns at the window's end (or fails).
        if not storm and "start" in window:
            window["seconds"] = trio.current_time() - window["start"]
            window["cpu"] = _own_cpu() - cpu0
    if hard_scope.cancelled_caught:
        failed.append("hard deadline reached")
        if not window.get("ready"):  # the parent reads a ready line, then the result
            print(json.dumps({"ready": True, "hard_deadline": True}), flush=True)
    return {
        "signin_s": signin_s, "in_at": in_at, "all_in_s": window.get("all_in", float("nan")),
        "not_in": not_in, "refusals": dict(refusals), "resumed": dict(resumed), "resumes": resumes,
        "scan_s": scan_s, "finish_s": finish_s, "stock_s": stock_s, "sales": stats.sales,
        "requests": stats.requests, "errors": dict(stats.errors), "failed": failed,
        "window_s": window.get("seconds", float("nan")), "client_cpu_s": window.get("cpu", float("nan")),
    }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def client_main() -> int:
    """``python -m bench.store client``: a job (one JSON line) on stdin, then ``start``
    and ``go`` lines; prints ``{"ready": …}`` once its devices are in, then its result."""
    import trio

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    job = json.loads(sys.stdin.readline())

    async def run() -> dict[str, Any]:
        send, receive = trio.open_memory_channel(4)

        async def read_lines() -> None:
            while True:
                line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
                if not line:
                    return
                await send.send(line.strip())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_lines)
            print(json.dumps({"loaded": True}), flush=True)
            result = await _client(job, receive)
            nursery.cancel_scope.cancel()
        return result

    print(json.dumps(trio.run(run)), flush=True)
    return 0


# --- the parent: one step of the curve --------------------------------------------------------


class Clients:
    """``procs`` client processes, each with its share of the devices."""

    def __init__(self, jobs: list[dict[str, Any]], log_dir: Path) -> None:
        from bench.server import REPO

        self.procs = []
        for k, job in enumerate(jobs):
            log = open(log_dir / f"client-{job['mode']}-{k}.log", "ab")
            proc = subprocess.Popen([sys.executable, "-m", "bench.store", "client"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO)
            log.close()
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
            self.procs.append(proc)

    def read_all(self) -> list[dict[str, Any]]:
        out = []
        for proc in self.procs:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"a store client process ended early (exit {proc.wait(10)}); see its log")
            out.append(json.loads(line))
        return out

    def say(self, word: str) -> None:
        for proc in self.procs:
            # A client that ended (its hard deadline) is told nothing more; its result is read all the same.
            with suppress(OSError):
                proc.stdin.write(word + "\n")
                proc.stdin.flush()

    def close(self) -> None:
        for proc in self.procs:
            with suppress(OSError):  # already ended
                proc.stdin.close()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def __enter__(self) -> "Clients":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for r in results:
        for key, value in r.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            elif isinstance(value, dict):
                bucket = merged.setdefault(key, {})
                for k, v in value.items():
                    bucket[k] = bucket.get(k, 0) + v if isinstance(v, (int, float)) else v
            elif isinstance(value, (int, float)):
                merged.setdefault(key + "_each", []).append(value)
    return merged


def _pct(samples: list[float], fn) -> float:
    return fn(samples) * MS if samples else float("nan")


def store_step(workdir: Path, settings, tills: int, log) -> dict[str, Any]:
    from bench.server import cpu_seconds, demo_articles, laneserver_process, prepare_shop, scannable

    pdas = tills // 5
    label = f"store {tills} tills + {pdas} PDAs"
    root = workdir / f"store{tills}"
    total = tills + pdas
    log(f"[{label}] preparing the shop ({tills} lanes, {min(50, total)} sellers, pairing {total} devices)")
    shop = prepare_shop(root, lanes=tills, pdas=pdas, sellers=min(50, total))
    codes, ids = scannable(demo_articles())
    # Sign-in order: tills and PDAs interleaved (a PDA after every 5 tills).
    till_list = [{"name": f"till{lane}", "kind": "till", "token": token} for lane, token in shop.till_tokens.items()]
    pda_list = [{"name": f"pda{j}", "kind": "pda", "token": token} for j, token in enumerate(shop.pda_tokens)]
    devices: list[dict[str, Any]] = []
    for i, dev in enumerate(till_list):
        devices.append(dev)
        if i % 5 == 4 and pda_list:
            devices.append(pda_list.pop(0))
    devices += pda_list
    for i, dev in enumerate(devices):
        dev["index"] = i
        dev["seller"] = shop.sellers[i % len(shop.sellers)]
    procs = settings.store_procs or max(1, math.ceil(total / DEVICES_PER_PROC))
    shares = [devices[k::procs] for k in range(procs)]
    base = {"seed": settings.seed, "pace": settings.store_pace, "rate": settings.store_signin_rate,
            "duration": settings.store_duration, "codes": codes, "articles": ids, "procs": procs}
    out: dict[str, Any] = {"label": label, "tills": tills, "pdas": pdas, "procs": procs}

    log(f"[{label}] signing in at {settings.store_signin_rate:.0f} devices/s ({procs} client process(es)), "
        f"then {settings.store_duration:.0f} s of selling")
    with laneserver_process(shop.data, shop.config, root / "server.log").start() as server:
        jobs = [{**base, "mode": "store", "url": server.ws_url, "devices": share} for share in shares]
        with Clients(jobs, root) as clients:
            clients.read_all()                 # loaded
            clients.say("start")
            started = time.perf_counter()
            clients.read_all()                 # ready: every device in (or given up)
            out["signin_all_s"] = time.perf_counter() - started
            cpu0 = cpu_seconds(server.pid)
            clients.say("go")
            results = clients.read_all()
            out["server_cpu_s"] = cpu_seconds(server.pid) - cpu0
        server.stop()
    sold = _merge(results)
    out["selling"] = {k: v for k, v in sold.items() if k != "resumes"}
    resumes = sold.get("resumes", {})

    log(f"[{label}] reconnect storm: restarting the server, then {total} devices at once")
    for dev in devices:
        dev["resume"] = resumes.get(dev["name"])
    with laneserver_process(shop.data, shop.config, root / "server-restart.log").start() as server:
        out["restart_to_health_s"] = server.startup_to_health
        jobs = [{**base, "mode": "storm", "url": server.ws_url, "devices": share} for share in shares]
        with Clients(jobs, root) as clients:
            clients.read_all()
            cpu0 = cpu_seconds(server.pid)
            clients.say("start")
            clients.read_all()                 # every device in, or given up
            clients.say("go")
            storm = clients.read_all()
            out["storm_server_cpu_s"] = cpu_seconds(server.pid) - cpu0
    out["storm"] = {k: v for k, v in _merge(storm).items() if k != "resumes"}
    return out


def _summary(step: dict[str, Any]) -> dict[str, Any]:
    s, st = step["selling"], step["storm"]
    total = step["tills"] + step["pdas"]
    # Error replies to hello and sign_in are in "refusals" already (counted where they happen).
    errors = sum(n for key, n in s.get("errors", {}).items() if not key.startswith(("hello:", "sign_in:")))
    refused = sum(s.get("refusals", {}).values()) + errors + len(s.get("failed", [])) + len(s.get("not_in", []))
    storm_refused = sum(st.get("refusals", {}).values())
    in_at = st.get("in_at", [])
    storm_all = max(in_at) if len(in_at) == total else STORM_DEADLINE
    window = max(s.get("window_s_each", [float("nan")]))
    cpu_each = s.get("client_cpu_s_each", [])
    return {
        "scan_p50_ms": _pct(s.get("scan_s", []), p50), "scan_p99_ms": _pct(s.get("scan_s", []), p99),
        "finish_p50_ms": _pct(s.get("finish_s", []), p50), "finish_p99_ms": _pct(s.get("finish_s", []), p99),
        "stock_p99_ms": _pct(s.get("stock_s", []), p99), "signin_p99_ms": _pct(s.get("signin_s", []), p99),
        "scans": len(s.get("scan_s", [])), "finishes": len(s.get("finish_s", [])),
        "stocks": len(s.get("stock_s", [])), "requests": sum(s.get("requests_each", [])),
        "refused": refused, "signed_in": len(s.get("signin_s", [])), "window_s": window,
        "client_cpu_max_share": max(cpu_each) / window if cpu_each and window > 0 else float("nan"),
        "client_cpu_s": sum(cpu_each), "server_cpu_share": step["server_cpu_s"] / window if window > 0 else math.nan,
        "storm_all_in_s": storm_all, "storm_in": len(in_at), "storm_refused": storm_refused,
        "storm_resumed": st.get("resumed", {}), "storm_refusals": st.get("refusals", {}),
        "devices": total,
    }


def holds(summary: dict[str, Any]) -> bool:
    return (summary["scan_p99_ms"] <= SCAN_P99_MS and summary["finish_p99_ms"] <= FINISH_P99_MS
            and summary["refused"] == 0)


def step_rows(step: dict[str, Any], summary: dict[str, Any]) -> list[Row]:
    label = step["label"]
    scan_target, finish_target = f"the target ({SCAN_P99_MS:.0f} ms)", f"the target ({FINISH_P99_MS:.0f} ms)"
    return [
        Row(label, "store: scan reply p50 (ms)", summary["scan_p50_ms"], SCAN_P99_MS, scan_target + " for p99"),
        Row(label, "store: scan reply p99 (ms)", summary["scan_p99_ms"], SCAN_P99_MS, scan_target,
            Target("value_max", SCAN_P99_MS)),
        Row(label, "store: finish p99 (ms)", summary["finish_p99_ms"], FINISH_P99_MS, finish_target,
            Target("value_max", FINISH_P99_MS)),
        Row(label, "store: stock look-up p99 (ms)", summary["stock_p99_ms"], summary["scan_p99_ms"],
            "the scan reply p99 of the same run"),
        Row(label, "store: refused (sign-ins and requests)", summary["refused"],
            summary["requests"] + summary["devices"], "every request and sign-in of the step", Target("value_max", 0)),
        Row(label, "reconnect storm: every device in (s)", summary["storm_all_in_s"], STORM_SECONDS,
            f"the target ({STORM_SECONDS:.0f} s; {STORM_DEADLINE:.0f} printed when some never got in)",
            Target("value_max", STORM_SECONDS)),
        Row(label, "reconnect storm: refused", summary["storm_refused"], summary["devices"],
            "the devices reconnecting", Target("value_max", 0)),
    ]


def store_scenario(workdir: Path, settings, log) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    steps = []
    for tills in settings.store_n:
        step = store_step(workdir, settings, tills, log)
        summary = _summary(step)
        step["summary"] = summary
        steps.append(step)
        rows += step_rows(step, summary)
        log(f"[{step['label']}] scan p99 {summary['scan_p99_ms']:.1f} ms, finish p99 {summary['finish_p99_ms']:.1f} "
            f"ms, stock p99 {summary['stock_p99_ms']:.1f} ms, refused {summary['refused']}; storm "
            f"{summary['storm_all_in_s']:.1f} s, refused {summary['storm_refused']} → "
            f"{'holds' if holds(summary) else 'does not hold'}")
    held = [step["tills"] for step in steps if holds(step["summary"])]
    largest = max(held, default=0)
    rows.append(Row("store", "largest N that holds (tills, + N/5 PDAs)", largest, TARGET_N,
                    f"the target ({TARGET_N:,} tills + {TARGET_N // 5} PDAs); tried {', '.join(map(str, settings.store_n))}",
                    Target("ratio_min", 1)))
    raw = {"steps": [{k: v for k, v in step.items() if k not in ("selling", "storm")} | {
        "selling_counts": {k: v for k, v in step["selling"].items()
                           if not isinstance(v, list) or k.endswith("_each") or k in ("not_in", "failed")},
        "storm_counts": {k: v for k, v in step["storm"].items() if not isinstance(v, list) or k.endswith("_each")},
    } for step in steps], "largest_n": largest, "settings": {
        "n": settings.store_n, "duration": settings.store_duration, "pace": settings.store_pace,
        "signin_rate": settings.store_signin_rate}}
    return rows, raw


def _refusal_words(counts: dict[str, Any]) -> str:
    """The refusals of a step by kind: connections and sign-ins, then other requests'
    error replies (those of hello and sign_in are in the first already)."""
    kinds = dict(counts.get("refusals") or {})
    kinds.update({k: v for k, v in (counts.get("errors") or {}).items() if not k.startswith(("hello:", "sign_in:"))})
    kinds["devices never in"] = len(counts.get("not_in") or [])
    kinds["devices stopped"] = len(counts.get("failed") or [])
    return str({k: v for k, v in kinds.items() if v}) if any(kinds.values()) else ""


def notes(data: dict[str, Any]) -> str:
    lines = [f"- store (sign-in at {data['settings']['signin_rate']:.0f}/s, {data['settings']['duration']:.0f} s of "
             f"selling, think times × {data['settings']['pace']}): largest N that holds {data['largest_n']}"]
    for step in data["steps"]:
        s = step["summary"]
        lines.append(
            f"  {step['label']}: {'HOLDS' if holds(s) else 'does not hold'}; scan p50/p99 {s['scan_p50_ms']:.1f}/"
            f"{s['scan_p99_ms']:.1f} ms (n={s['scans']}), finish p50/p99 {s['finish_p50_ms']:.1f}/"
            f"{s['finish_p99_ms']:.1f} ms (n={s['finishes']}), stock p99 {s['stock_p99_ms']:.1f} ms "
            f"(n={s['stocks']}), refused {s['refused']} {_refusal_words(step['selling_counts'])}; sign-in: "
            f"{s['signed_in']}/{s['devices']} in after "
            f"{step['signin_all_s']:.1f} s, p99 {s['signin_p99_ms']:.0f} ms; server CPU {s['server_cpu_share']:.0%} of "
            f"a core over the {s['window_s']:.1f} s window; load generator {step['procs']} process(es), "
            f"{s['client_cpu_s']:.1f} CPU s, busiest {s['client_cpu_max_share']:.0%} of a core"
            f"{' (NEAR SATURATION: more --store-procs)' if s['client_cpu_max_share'] > 0.7 else ''}; "
            f"storm after a restart ({step['restart_to_health_s']:.1f} s to /healthz): {s['storm_in']}/{s['devices']} "
            f"in after {s['storm_all_in_s']:.1f} s, refused {s['storm_refused']} {s['storm_refusals'] or ''}, "
            f"back by resume/PIN {s['storm_resumed']}, server CPU {step['storm_server_cpu_s']:.1f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["client"]:
        sys.exit(client_main())
    sys.exit("usage: python -m bench.store client (run by python -m bench --scenario store)")
