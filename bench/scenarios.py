"""The scenarios of a bench run, each measured beside its own baselines, in the same run.

* ``lanes8``: 8 tills selling back to back.
* ``lanes64``: 64 tills and 32 PDAs (stock look-ups, baskets emptied into lanes).
* ``catalog``: a catalog of a million generated articles: in process (lookups and name
  searches on the ``Catalog``), and a real server on it (start-up, memory, ``scan`` end
  to end), beside the same server on the 76-article demo catalog.

Each load scenario first measures its baselines: SQLite commits on the same
filesystem as the server's data folder, and a websocket echo process driven with the
same connections and pacing as the scenario's tills and PDAs. After the server's load,
the same echo shaped like the protocol (a JSON request, a reply and an event of the
size the server's frames had) gives the floor any server of this protocol on this stack
starts from: the "protocol floor" rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench import design_floor
from bench.baselines import CommitStats, EchoStats, measure_echo, sqlite_commits
from bench.loadgen import Stats, run_load, run_searches
from bench.report import Row, Target
from bench.server import REPO, demo_articles, laneserver_process, memory, prepare_shop, scannable
from bench.stats import p50, p99

PDA_THINK = (0.1, 0.5)   # seconds between two actions of a PDA (uniform)
MS = 1e3
MIB = 1 / 1024           # KiB → MiB


@dataclass(frozen=True)
class Settings:
    seed: int = 1
    duration: float = 45.0            # seconds of selling per load scenario (at most)
    sales: int = 10_000               # per till (at most)
    lanes8: tuple[int, int] = (8, 0)  # tills, PDAs
    lanes64: tuple[int, int] = (64, 32)
    echo_seconds: float = 8.0
    commit_count: int = 5_000
    commit_seconds: float = 4.0
    articles: int = 1_000_000
    lookups: int = 20_000
    searches: int = 300
    reference_searches: int = 24
    catalog_sales: int = 40           # sales of the one till on the catalog servers
    websocket_searches: int = 200     # of the in-process queries, sent as `search` requests
    catalog_duration: float = 30.0
    growth_tickets: int = 16          # ticket_growth: tickets scanned to 200 lines
    growth_cycles: int = 4            # … cycles of no held / 20 held tickets
    growth_rounds: int = 6            # … tickets of 20 scans on each side of a cycle
    store_n: tuple[int, ...] = (100, 250, 500, 1000, 2000)   # store: tills (PDAs: a fifth)
    store_duration: float = 40.0      # store: seconds of selling per N
    store_pace: float = 1.0           # store: human think times × this (quick: faster, to see finishes)
    store_signin_rate: float = 50.0   # store: devices signing in a second
    store_procs: int = 0              # store: load generator processes (0: one per 1,000 devices)


FULL = Settings()
QUICK = Settings(duration=20.0, sales=5, lanes8=(2, 0), lanes64=(4, 2), echo_seconds=1.5, commit_count=300,
                 commit_seconds=1.5, articles=10_000, lookups=2_000, searches=60, reference_searches=12,
                 catalog_sales=5, catalog_duration=20.0, websocket_searches=30, growth_tickets=2, growth_cycles=1,
                 growth_rounds=2, store_n=(20,), store_duration=8.0, store_pace=0.1)


def _label(tills: int, pdas: int) -> str:
    return f"{tills} lanes" + (f" + {pdas} PDAs" if pdas else "")


# --- load scenarios ----------------------------------------------------------------------------


def load_scenario(workdir: Path, settings: Settings, tills: int, pdas: int, log) -> tuple[list[Row], dict[str, Any]]:
    label = _label(tills, pdas)
    root = workdir / label.replace(" ", "").replace("+", "_")
    log(f"[{label}] preparing the shop (config, catalog, sellers, {tills} tills, {pdas} PDAs)")
    shop = prepare_shop(root, lanes=tills, pdas=pdas, sellers=min(16, tills + pdas))
    codes, ids = scannable(demo_articles())

    commits_dir = root / "commit-baseline"
    commits_dir.mkdir(parents=True, exist_ok=True)
    if os.stat(commits_dir).st_dev != os.stat(shop.data).st_dev:
        raise RuntimeError("the commit baseline must be on the data folder's filesystem")
    log(f"[{label}] baseline: SQLite WAL synchronous=FULL single-row commits")
    commits = sqlite_commits(commits_dir, count=settings.commit_count, seconds=settings.commit_seconds)
    log(f"[{label}] baseline: websocket echo, {tills} busy + {pdas} paced connections, {settings.echo_seconds} s")
    echo = measure_echo(root, busy=tills, paced=pdas, think=PDA_THINK, duration=settings.echo_seconds,
                        max_round_trips=2_000_000, seed=settings.seed)

    log(f"[{label}] load: up to {settings.sales} sales per till, at most {settings.duration:.0f} s")
    with laneserver_process(shop.data, shop.config, root / "server.log").start() as server:
        stats = trio.run(partial(run_load, server.ws_url, shop.till_tokens, shop.pda_tokens, sellers=shop.sellers,
                                 codes=codes, articles=ids, sales=settings.sales, seed=settings.seed,
                                 duration=settings.duration, pda_think=PDA_THINK, server_pid=server.pid))
        mem = memory(server.pid)
        server_stop = server.stop()
    if stats.failed_devices:
        log(f"[{label}] devices that stopped early: {stats.failed_devices[:5]}")
    frame_bytes = round(stats.bytes_in / stats.frames_in) if stats.frames_in else 2000
    log(f"[{label}] baseline: the protocol floor, echo shaped like a scan (2 frames of {frame_bytes} B back), "
        f"{settings.echo_seconds} s")
    floor = measure_echo(root, busy=tills, paced=pdas, think=PDA_THINK, duration=settings.echo_seconds,
                         max_round_trips=2_000_000, seed=settings.seed, shape="protocol", frame_bytes=frame_bytes)
    design: dict[str, EchoStats] = {}
    if pdas:  # the scenario of target 1
        for shape in DESIGN_SHAPES:
            log(f"[{label}] baseline: the design floor, {shape} ({settings.echo_seconds} s)")
            design[shape] = design_floor.measure(root, shape, busy=tills, paced=pdas, think=PDA_THINK,
                                                 frame_bytes=frame_bytes, seconds=settings.echo_seconds,
                                                 seed=settings.seed)
    rows = load_rows(label, stats, echo, commits, mem.hwm_kib, mem.rss_kib, targets=(pdas > 0))
    rows += floor_rows(label, stats, echo, floor, target=(pdas > 0))
    if design:
        rows += design_rows(label, stats, floor, design)
    raw = {"stats": _stats_summary(stats), "echo": _echo_summary(echo), "commits": _commit_summary(commits),
           "floor": _echo_summary(floor), "design": {shape: _echo_summary(d) for shape, d in design.items()},
           "server_hwm_kib": mem.hwm_kib, "server_rss_kib": mem.rss_kib,
           "server_exit": server_stop}
    return rows, raw


def floor_rows(label: str, stats: Stats, echo: EchoStats, floor: EchoStats, *, target: bool = False) -> list[Row]:
    """What the protocol's own frames cost on this stack (the floor), beside the plain
    echo; and the server beside the floor: what is left is the server's own work.

    ``target``: issue 12's target 1, server CPU per request ≤ 2 × the floor's (set for
    the 64 lanes + 32 PDAs scenario)."""
    conns = f"echo, {echo.connections} connections"
    cpu_per_request = stats.cpu_seconds / stats.requests if stats.requests else float("nan")
    shaped = f"protocol floor ({floor.payload_bytes} B reply + event)"
    return [
        Row(label, "protocol floor: round trip p99 (ms)", p99(floor.rtts) * MS, p99(echo.rtts) * MS,
            f"{conns}: round trip p99"),
        Row(label, "protocol floor: CPU per request (ms)", floor.cpu_per_round_trip * MS,
            echo.cpu_per_round_trip * MS, f"{conns}: CPU per round trip"),
        Row(label, "scan → ticket event p99, beside the floor (ms)", p99(stats.scan_to_event) * MS,
            p99(floor.rtts) * MS, f"{shaped}: round trip p99"),
        Row(label, "server CPU per request (ms)", cpu_per_request * MS, floor.cpu_per_round_trip * MS,
            f"{shaped}: CPU per request", Target("ratio_max", 2) if target else None),
    ]


DESIGN_SHAPES = ("lane", "journal")


def design_rows(label: str, stats: Stats, floor: EchoStats, design: dict[str, EchoStats]) -> list[Row]:
    """The decided design's skeleton (bench/design_floor.py) beside the protocol floor, and
    the server beside that skeleton: what the shop's own work costs on top of its shape."""
    cpu_per_request = stats.cpu_seconds / stats.requests if stats.requests else float("nan")
    shaped = "protocol floor: CPU per request"
    skeleton = design["journal"].cpu_per_round_trip
    return [
        Row(label, "design floor, session → lane actor: CPU per request (ms)",
            design["lane"].cpu_per_round_trip * MS, floor.cpu_per_round_trip * MS, shaped),
        Row(label, "design floor, → lane → journal, durable: CPU per request (ms)", skeleton * MS,
            floor.cpu_per_round_trip * MS, shaped),
        Row(label, "server CPU per request, beside the design floor (ms)", cpu_per_request * MS, skeleton * MS,
            "design floor (session → lane → journal, durable): CPU per request"),
    ]


def load_rows(label: str, stats: Stats, echo: EchoStats, commits: CommitStats, hwm_kib: int, rss_kib: int,
              *, targets: bool) -> list[Row]:
    """The ratios to the plain echo were the first targets (scan p99 ≤ 2 × echo p99 at
    64 lanes + 32 PDAs — ``targets`` —, finish and sales/s in every load scenario);
    issue 12 replaced them with target 1 (``floor_rows``): they stay as "info"."""
    conns = f"echo, {echo.connections} connections"
    per_sale = stats.requests_per_sale
    transport_limit = echo.per_second / per_sale
    rows = [
        Row(label, "scan → ticket event p50 (ms)", p50(stats.scan_to_event) * MS, p50(echo.rtts) * MS,
            f"{conns}: round trip p50"),
        Row(label, "scan → ticket event p99 (ms)", p99(stats.scan_to_event) * MS, p99(echo.rtts) * MS,
            f"{conns}: round trip p99", Target("ratio_max", 2, info=True) if targets else None),
        Row(label, "finish, durable p50 (ms)", p50(stats.finish) * MS,
            (p50(echo.rtts) + 2 * p50(commits.samples)) * MS, "echo p50 + 2 × commit p50"),
        Row(label, "finish, durable p99 (ms)", p99(stats.finish) * MS,
            (p99(echo.rtts) + 2 * p99(commits.samples)) * MS, "echo p99 + 2 × commit p99", Target("ratio_max", 1, info=True)),
        Row(label, "sales/s", stats.sales_per_second, transport_limit,
            f"transport limit: echo {echo.per_second:.0f} round trips/s ÷ {per_sale:.1f} requests/sale",
            Target("ratio_min", 0.5, info=True)),
        Row(label, "server CPU s per sale", stats.cpu_per_sale, echo.cpu_per_round_trip * per_sale,
            f"echo process CPU per round trip × {per_sale:.1f}"),
        Row(label, "server RSS VmHWM (MiB)", hwm_kib * MIB, echo.hwm_kib * MIB, f"{conns}: VmHWM"),
        Row(label, "server RSS VmRSS (MiB)", rss_kib * MIB, echo.rss_kib * MIB, f"{conns}: VmRSS"),
    ]
    if stats.basket:
        rows.append(Row(label, "basket_empty reply p99 (ms)", p99(stats.basket) * MS, p99(echo.rtts) * MS,
                        f"{conns}: round trip p99"))
    if stats.stock:
        rows.append(Row(label, "stock reply p99 (ms)", p99(stats.stock) * MS, p99(echo.rtts) * MS,
                        f"{conns}: round trip p99"))
    return rows


# --- the catalog of a million articles -------------------------------------------------------------


def _child(args: list[str], timeout: float) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "bench.catalog_million", *args], capture_output=True, text=True,
                            cwd=REPO, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"bench.catalog_million {args[0]} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout)


def _serve_and_sell(root: Path, settings: Settings, *, import_demo: bool, codes: list[str], ids: list[str],
                    queries: list[str]):
    """One till sells on a fresh server, then sends ``queries`` as ``search`` requests."""
    shop = prepare_shop(root, lanes=1, pdas=0, sellers=1, import_demo=import_demo)
    with laneserver_process(shop.data, shop.config, root / "server.log").start(timeout=120) as server:
        started = (server.startup_to_url, server.startup_to_health, memory(server.pid))
        stats = trio.run(partial(run_load, server.ws_url, shop.till_tokens, (), sellers=shop.sellers, codes=codes,
                                 articles=ids, sales=settings.catalog_sales, seed=settings.seed,
                                 duration=settings.catalog_duration, server_pid=server.pid))
        searches = trio.run(partial(run_searches, server.ws_url, shop.till_tokens["1"], shop.sellers[0], queries))
        mem = memory(server.pid)
    return started, stats, searches, mem


def catalog_scenario(workdir: Path, settings: Settings, log) -> tuple[list[Row], dict[str, Any]]:
    count = settings.articles
    label = f"{count:,} articles"
    root = workdir / f"catalog{count}"
    log(f"[{label}] generating the catalog into a fresh database (store.admin.import_articles)")
    built = _child(["build", str(root / "data"), "--count", str(count), "--seed", str(settings.seed)], timeout=600)
    log(f"[{label}] in process: load, build, {settings.lookups} lookups, {settings.searches} searches")
    inproc = _child(["measure", str(root / "data"), "--seed", str(settings.seed), "--lookups", str(settings.lookups),
                     "--searches", str(settings.searches), "--reference", str(settings.reference_searches)],
                    timeout=900)
    if inproc["search_mismatches"]:
        log(f"[{label}] SEARCH RESULTS DIFFER from the linear scan: {inproc['search_mismatches'][:3]}")

    log(f"[{label}] baseline server: the 76-article demo catalog, 1 till")
    demo_codes, demo_ids = scannable(demo_articles())
    queries = inproc["search_queries"][:settings.websocket_searches]
    (small_url, small_health, small_mem0), small_stats, small_searches, small_mem = _serve_and_sell(
        root / "small", settings, import_demo=True, codes=demo_codes, ids=demo_ids, queries=queries)
    log(f"[{label}] server on {count:,} articles, 1 till, then {len(queries)} searches")
    (big_url, big_health, big_mem0), big_stats, big_searches, big_mem = _serve_and_sell(
        root, settings, import_demo=False, codes=inproc["scan_codes"], ids=inproc["article_ids"], queries=queries)

    barcodes = [t for t, kind in zip(inproc["lookup_seconds"], inproc["lookup_kinds"]) if kind == "barcode"]
    plain = [t for t, kind in zip(inproc["dict_get_seconds"], inproc["lookup_kinds"]) if kind == "barcode"]
    small = "same server, 76 articles"
    rows = [
        Row(label, "barcode lookup p50, in process (ms)", p50(barcodes) * MS, p50(plain) * MS,
            "dict.get p50 on the same barcodes"),
        Row(label, "barcode lookup p99, in process (ms)", p99(barcodes) * MS, p99(plain) * MS,
            "dict.get p99 on the same barcodes", Target("value_max", 1.0)),
        Row(label, "name search p50, in process (ms)", p50(inproc["search_seconds"]) * MS,
            p50(inproc["reference_search_seconds"]) * MS,
            f"linear scan (old search), first {len(inproc['reference_search_seconds'])} queries"),
        Row(label, "name search p99, in process (ms)", p99(inproc["search_seconds"]) * MS,
            p99(inproc["reference_search_seconds"]) * MS,
            f"linear scan (old search), first {len(inproc['reference_search_seconds'])} queries",
            Target("value_max", 20.0)),
        Row(label, "name search p50, websocket (ms)", p50(big_searches) * MS, p50(small_searches) * MS,
            small + ", same queries"),
        Row(label, "name search p99, websocket (ms)", p99(big_searches) * MS, p99(small_searches) * MS,
            small + ", same queries"),
        Row(label, "scan → ticket event p50, websocket (ms)", p50(big_stats.scan_to_event) * MS,
            p50(small_stats.scan_to_event) * MS, small),
        Row(label, "scan → ticket event p99, websocket (ms)", p99(big_stats.scan_to_event) * MS,
            p99(small_stats.scan_to_event) * MS, small),
        Row(label, "start-up to URL line (s)", big_url, small_url, small, Target("value_max", 10.0)),
        Row(label, "start-up to /healthz 200 (s)", big_health, small_health, small, Target("value_max", 10.0)),
        Row(label, "server RSS VmHWM (MiB)", big_mem.hwm_kib * MIB, small_mem.hwm_kib * MIB, small,
            Target("value_max", 1024.0)),
        Row(label, "server RSS VmRSS (MiB)", big_mem.rss_kib * MIB, small_mem.rss_kib * MIB, small),
    ]
    raw = {
        "build": built,
        "in_process": {k: v for k, v in inproc.items() if not isinstance(v, list)} | {
            "lookup_p99_all_kinds_ms": p99(inproc["lookup_seconds"]) * MS,
            "search_mismatches": inproc["search_mismatches"],
            "slowest_searches_ms": sorted(((t * MS, q) for t, q in zip(inproc["search_seconds"],
                                                                      inproc["search_queries"])), reverse=True)[:5],
        },
        "big": {"startup_url_s": big_url, "startup_health_s": big_health, "rss_after_start_kib": big_mem0.rss_kib,
                "stats": _stats_summary(big_stats)},
        "small": {"startup_url_s": small_url, "startup_health_s": small_health,
                  "rss_after_start_kib": small_mem0.rss_kib, "stats": _stats_summary(small_stats)},
    }
    return rows, raw


# --- summaries for --json and the notes under the table ------------------------------------------


def _stats_summary(stats: Stats) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sales": stats.sales, "window_s": stats.window, "setup_s": stats.setup, "requests": stats.requests,
        "requests_per_sale": stats.requests_per_sale, "server_cpu_s": stats.cpu_seconds,
        "loadgen_cpu_s": stats.client_cpu_seconds,
        "frames_in_per_request": stats.frames_in / stats.requests if stats.requests else float("nan"),
        "bytes_in_per_frame": stats.bytes_in / stats.frames_in if stats.frames_in else float("nan"),
        "errors": dict(stats.errors), "counts": dict(stats.counts), "failed_devices": stats.failed_devices,
    }
    for name in ("scan_to_event", "scan_reply", "finish", "basket", "stock"):
        samples = getattr(stats, name)
        if samples:
            out[name] = {"n": len(samples), "p50_ms": p50(samples) * MS, "p99_ms": p99(samples) * MS,
                         "max_ms": max(samples) * MS}
    return out


def _echo_summary(echo: EchoStats) -> dict[str, Any]:
    return {"connections": echo.connections, "round_trips": echo.round_trips, "per_second": echo.per_second,
            "p50_ms": p50(echo.rtts) * MS, "p99_ms": p99(echo.rtts) * MS, "cpu_s": echo.cpu_seconds,
            "payload_bytes": echo.payload_bytes, "hwm_kib": echo.hwm_kib, "rss_kib": echo.rss_kib,
            "shape": echo.shape}


def _commit_summary(commits: CommitStats) -> dict[str, Any]:
    return {"commits": len(commits.samples), "per_second": commits.per_second, "p50_ms": p50(commits.samples) * MS,
            "p99_ms": p99(commits.samples) * MS}


def settings_for(quick: bool, *, seed: int, duration: float | None) -> Settings:
    base = QUICK if quick else FULL
    base = replace(base, seed=seed)
    return base if duration is None else replace(base, duration=duration)
