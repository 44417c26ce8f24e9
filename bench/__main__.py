"""``python -m bench``: run the scenarios and print one table (see docs/performance.md).

    python -m bench                       # full run: 8 lanes; 64 lanes + 32 PDAs; 1,000,000 articles;
                                          # ticket growth; a whole store (N = 100 … 2,000)
    python -m bench --quick               # the same, small (2 lanes × 5 sales, 10,000 articles…)
    python -m bench --scenario catalog    # one scenario (repeatable)
    python -m bench --scenario store --store-n 100,250,500   # the store's capacity curve

Everything runs on 127.0.0.1, in a temporary folder removed at the end (``--keep``
keeps it), and stops by itself: every load is bounded in sales and in seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import growth, report, scenarios, store

SCENARIOS = ("lanes8", "lanes64", "catalog", "ticket_growth", "store")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, under a minute (what the tests run)")
    parser.add_argument("--scenario", action="append", choices=(*SCENARIOS, "all"),
                        help="run only this scenario (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    parser.add_argument("--duration", type=float, default=None,
                        help="at most this many seconds of selling per load scenario (default 45, quick 20)")
    parser.add_argument("--store-n", type=_counts, default=None,
                        help="store: tills per step of the capacity curve, e.g. 100,250,500 (PDAs: a fifth; "
                             "default 100,250,500,1000,2000, quick 20)")
    parser.add_argument("--store-duration", type=float, default=None,
                        help="store: seconds of selling per step (default 40, quick 8)")
    parser.add_argument("--store-procs", type=int, default=None,
                        help="store: load generator processes (default: one per 1,000 devices)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to put data folders (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, databases)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    chosen = SCENARIOS if not args.scenario or "all" in args.scenario else tuple(dict.fromkeys(args.scenario))
    settings = scenarios.settings_for(args.quick, seed=args.seed, duration=args.duration)
    settings = scenarios.replace(settings, **{k: v for k, v in (
        ("store_n", args.store_n), ("store_duration", args.store_duration), ("store_procs", args.store_procs))
        if v is not None})
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="laneserver-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"{time.perf_counter() - started:6.1f}s  {message}", file=sys.stderr, flush=True)

    rows: list[report.Row] = []
    raw: dict = {"command": "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:]),
                 "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                 "python": platform.python_version(), "cpus": os.cpu_count(), "load_before": _load_average(),
                 "settings": settings.__dict__, "scenarios": {}}
    try:
        for name in chosen:
            if name == "lanes8":
                got, data = scenarios.load_scenario(workdir, settings, *settings.lanes8, log)
            elif name == "lanes64":
                got, data = scenarios.load_scenario(workdir, settings, *settings.lanes64, log)
            elif name == "ticket_growth":
                got, data = growth.growth_scenario(workdir, settings, log)
            elif name == "store":
                got, data = store.store_scenario(workdir, settings, log)
            else:
                got, data = scenarios.catalog_scenario(workdir, settings, log)
            rows += got
            raw["scenarios"][name] = data
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            log(f"work folder kept: {workdir}")
    raw["seconds"] = time.perf_counter() - started
    raw["load_after"] = _load_average()

    print(f"laneserver bench — {raw['command']} — {raw['date']} — {raw['seconds']:.0f} s — "
          f"{raw['cpus']} CPUs, 1-minute load average {raw['load_before']} before, {raw['load_after']} after")
    print()
    print(report.render(rows))
    print()
    for line in report.verdicts(rows):
        print(line)
    print()
    print(notes(raw))
    if args.json is not None:
        args.json.write_text(json.dumps({**raw, "rows": [r.cells() for r in rows]}, indent=2, default=str))
    return 0


def _counts(text: str) -> tuple[int, ...]:
    counts = tuple(int(part) for part in text.split(",") if part.strip())
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: positive counts separated by commas")
    return counts


def _load_average() -> str:
    """The machine's 1-minute load average (/proc/loadavg): how much else was running."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def notes(raw: dict) -> str:
    """The baselines' own figures and what the load generator saw, under the table."""
    lines = ["Baselines and counts:"]
    for name, data in raw["scenarios"].items():
        if "echo" in data:
            e, c, s = data["echo"], data["commits"], data["stats"]
            lines.append(
                f"- {name}: echo {e['connections']} conns {e['per_second']:.0f} rt/s p50 {e['p50_ms']:.2f} ms "
                f"p99 {e['p99_ms']:.2f} ms ({e['payload_bytes']} B frames); SQLite {c['per_second']:.0f} commits/s "
                f"p50 {c['p50_ms']:.2f} ms p99 {c['p99_ms']:.2f} ms; {s['sales']} sales in {s['window_s']:.1f} s, "
                f"{s['requests_per_sale']:.1f} requests/sale, {s['frames_in_per_request']:.2f} frames of "
                f"{s['bytes_in_per_frame']:.0f} B on average back per request, "
                f"load generator CPU {s['loadgen_cpu_s']:.1f} s; "
                f"counts {s['counts']}; errors {s['errors'] or 'none'}"
                + (f"; STOPPED EARLY: {s['failed_devices'][:3]}" if s["failed_devices"] else ""))
            if "floor" in data:
                f = data["floor"]
                lines.append(
                    f"  protocol floor: {f['per_second']:.0f} requests/s p50 {f['p50_ms']:.2f} ms p99 {f['p99_ms']:.2f} ms "
                    f"(a JSON request, 2 frames of {f['payload_bytes']} B back), echo process CPU {f['cpu_s']:.1f} s")
        elif name == "ticket_growth":
            lines.append(growth.notes(data))
        elif name == "store":
            lines.append(store.notes(data))
        else:
            i, b = data["in_process"], data["build"]
            lines.append(
                f"- {name}: generated {b['articles']} articles in {b['seconds']:.1f} s ({b['db_bytes'] / 2**20:.0f} MiB "
                f"database); in process: decode {i['load_seconds']:.2f} s + Catalog {i['build_seconds']:.2f} s, "
                f"RSS after build {i['rss_kib_after_build'] / 1024:.0f} MiB; lookup p99 over all kinds "
                f"{i['lookup_p99_all_kinds_ms']:.4f} ms; search results differing from the linear scan: "
                f"{len(i['search_mismatches'])}; slowest searches {[(round(t, 1), q) for t, q in i['slowest_searches_ms']]}; "
                f"server RSS after start {data['big']['rss_after_start_kib'] / 1024:.0f} MiB; "
                f"scans: {data['big']['stats'].get('scan_to_event', {}).get('n', 0)}; "
                f"errors {data['big']['stats']['errors'] or 'none'}")
    lines.append("Name search: in process on the Catalog object, and end to end as `search` requests over "
                 "the websocket (one connection, one request at a time).")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
