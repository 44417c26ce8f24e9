"""The bench works: ``python -m bench --quick`` runs every scenario small (issue 12's
ticket growth and store too) and prints one table in which every row has numbers. Whether the targets pass is the full run's
business (docs/performance.md), not this test's."""

from __future__ import annotations

import math
import subprocess
import sys

from tests.support import REPO

SCENARIOS = ("2 lanes", "4 lanes + 2 PDAs", "10,000 articles", "ticket growth", "store 20 tills + 4 PDAs")
LOAD_METRICS = (
    "scan → ticket event p50 (ms)", "scan → ticket event p99 (ms)", "finish, durable p50 (ms)",
    "finish, durable p99 (ms)", "sales/s", "server CPU s per sale", "server RSS VmHWM (MiB)",
    "server RSS VmRSS (MiB)", "protocol floor: round trip p99 (ms)", "protocol floor: CPU per request (ms)",
    "server CPU per request (ms)",
)
CATALOG_METRICS = (
    "barcode lookup p99, in process (ms)", "name search p99, in process (ms)", "name search p99, websocket (ms)",
    "scan → ticket event p99, websocket (ms)", "start-up to URL line (s)", "start-up to /healthz 200 (s)",
    "server RSS VmHWM (MiB)", "server RSS VmRSS (MiB)",
)
GROWTH_METRICS = (  # issue 12, target 2
    "scan reply p50, lines 181–200 (ms)", "scan reply p50, beside 20 held × 20 lines (ms)",
)
DESIGN_METRICS = (  # the decided design's skeleton beside the protocol floor (bench/design_floor.py)
    "design floor, session → lane actor: CPU per request (ms)",
    "design floor, → lane → journal, durable: CPU per request (ms)",
    "server CPU per request, beside the design floor (ms)",
)
STORE_METRICS = (  # issue 12, target 3
    "store: scan reply p99 (ms)", "store: finish p99 (ms)", "store: stock look-up p99 (ms)",
    "store: refused (sign-ins and requests)", "reconnect storm: every device in (s)", "reconnect storm: refused",
)


def _table(output: str) -> list[list[str]]:
    lines = [line for line in output.splitlines() if line.startswith("|")]
    assert lines, f"no table printed:\n{output}"
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == ["scenario", "metric", "value", "baseline", "baseline is", "ratio", "target", "result"]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_quick_bench_prints_a_full_table():
    result = subprocess.run([sys.executable, "-m", "bench", "--quick"], cwd=REPO, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    rows = _table(result.stdout)
    for scenario, metric, value, baseline, _what, ratio, target, verdict in rows:
        for cell in (value, baseline, ratio):
            assert math.isfinite(float(cell)), (scenario, metric, value, baseline, ratio)
        expected = ("info",) if target.startswith("info:") else ("PASS", "MISS") if target else ("",)
        assert verdict in expected, (scenario, metric, target, verdict)
    seen = {(row[0], row[1]) for row in rows}
    for scenario in SCENARIOS[:2]:
        assert {(scenario, metric) for metric in LOAD_METRICS} <= seen, scenario
    assert {(SCENARIOS[1], metric) for metric in DESIGN_METRICS} <= seen
    assert not {(SCENARIOS[0], metric) for metric in DESIGN_METRICS} & seen  # target 1's scenario only
    assert {(SCENARIOS[2], metric) for metric in CATALOG_METRICS} <= seen
    assert {(SCENARIOS[3], metric) for metric in GROWTH_METRICS} <= seen
    assert {(SCENARIOS[4], metric) for metric in STORE_METRICS} <= seen
    assert ("store", "largest N that holds (tills, + N/5 PDAs)") in seen
    # Target 1 is PASS/MISS; the old ratio to the plain echo is information.
    verdicts = {(row[0], row[1]): row[7] for row in rows}
    assert verdicts[(SCENARIOS[1], "server CPU per request (ms)")] in ("PASS", "MISS")
    assert verdicts[(SCENARIOS[1], "scan → ticket event p99 (ms)")] == "info"
    assert "search results differing from the linear scan: 0" in result.stdout
    assert "STOPPED EARLY" not in result.stdout


def test_journal_batch_bench_prints_both_ways():
    result = subprocess.run([sys.executable, "-m", "bench.journal_batch", "--batches", "5"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    for way in ("one statement a row", "deferred (json_each)"):
        [line] = [line for line in result.stdout.splitlines() if way in line]
        p50, p90 = (float(part.split()[0]) for part in line.split(" p50 ")[1].split(" p90 "))
        assert 0 < p50 <= p90, line


def test_design_floor_prints_its_three_shapes():
    result = subprocess.run([sys.executable, "-m", "bench.design_floor", "--seconds", "1", "--busy", "4",
                             "--paced", "2", "--rounds", "2"], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-4000:]
    rows = [line.strip("|").split("|") for line in result.stdout.splitlines() if line.startswith("| ")]
    shapes = {cells[0].strip(): ([float(cell) for cell in cells[1:4]], cells[4].split()) for cells in rows[1:]}
    assert list(shapes) == ["protocol", "lane", "journal"], result.stdout
    assert shapes["protocol"][0][2] == 1.0 and shapes["protocol"][1] == ["1.00", "1.00"]
    for (per_second, cpu_ms, ratio), each_round in shapes.values():
        assert per_second > 0 and cpu_ms > 0 and ratio > 0, result.stdout
        assert len(each_round) == 2 and all(float(r) > 0 for r in each_round), result.stdout


def test_design_floor_refuses_a_wrong_argument():
    for argv in (["--seconds", "0"], ["--frame-bytes", "-3"], ["--busy", "0"], ["--rounds", "0"],
                 ["serve", "--shape", "nope"]):
        result = subprocess.run([sys.executable, "-m", "bench.design_floor", *argv], cwd=REPO, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2, (argv, result.stdout, result.stderr)
        assert "usage:" in result.stderr and "Traceback" not in result.stderr, (argv, result.stderr)


def test_a_bench_process_that_never_answers_healthz_is_stopped(tmp_path):
    """``UrlProcess.start`` gives up on a child that prints its URL but never answers
    ``/healthz``, and stops it: ``with proc.start()`` never entered, so nothing else would
    (a design floor or echo shape left serving after the bench failed)."""
    import re

    import pytest

    from bench.server import UrlProcess

    child = "print('echo ready: http://127.0.0.1:9', flush=True); import time; time.sleep(120)"
    proc = UrlProcess([sys.executable, "-c", child], re.compile(r"echo ready:\s+(http://\S+)"), tmp_path / "child.log")
    try:
        with pytest.raises(RuntimeError, match="healthz"):
            proc.start(timeout=1.5)
        assert proc.proc is not None and proc.proc.poll() is not None, "the child was left running"
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait(10)


def test_the_design_floors_journal_queues_and_batches_as_the_servers():
    """The skeleton's journal has the server's mailbox (run.py opens the journal's with
    ``journal.MAILBOX``) and batch bound: with 64 lanes asking at once, none waits for
    room in either (it was the runtime's default of 16: 48 lanes parked in ``send``)."""
    import trio

    from bench import design_floor
    from laneserver.actors import journal

    async def room() -> int:
        address, _receive = design_floor.journal_mailbox()
        count = 0
        while address.tell_nowait(count):
            count += 1
        return count

    assert trio.run(room) == journal.MAILBOX == 256
    assert design_floor.MAX_BATCH == journal.MAX_BATCH
