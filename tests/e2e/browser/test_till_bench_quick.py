"""The till page bench (bench/till_page.py) runs, small, and prints its table."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.support import REPO

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="needs the system's chromium")


def test_till_page_bench_quick_prints_its_table():
    result = subprocess.run([sys.executable, "-m", "bench.till_page", "--quick"], cwd=REPO,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for row in ("page load, cold", "page load, reload", "scan → line rendered (page)",
                "baseline: ws `scan` round trip, bare browser socket", "baseline: ws `scan` round trip, Python client",
                "baseline: ws `ticket` round trip, Python client"):
        assert row in out, out
    assert "p50" in out and "p95" in out and "target" in out
    scan_row = next(line for line in out.splitlines() if line.startswith("scan → line rendered"))
    assert scan_row.split()[-1] in ("PASS", "MISS") and " 20 " in scan_row, scan_row
    assert out.rstrip().splitlines()[-1].startswith("targets: ")
