"""Server processes for the bench: prepare a shop, start it, watch it through /proc, stop it.

Every process started here is a child of the bench, stopped by its own pid
(SIGTERM, then SIGKILL after a bounded wait). All of them listen on 127.0.0.1
with port 0 and print the URL they got.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_CSV = REPO / "laneserver" / "demo" / "catalog.csv"
SERVER_URL = re.compile(r"till page:\s+(http://\S+)/till/")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- /proc -----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        stat = f.read()
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLK_TCK


@dataclass(frozen=True)
class Memory:
    hwm_kib: int  # VmHWM: peak resident set size
    rss_kib: int  # VmRSS: resident set size now

    @property
    def hwm_mib(self) -> float:
        return self.hwm_kib / 1024

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / 1024


def memory(pid: int) -> Memory:
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])  # "12345 kB"
    return Memory(values["VmHWM"], values["VmRSS"])


# --- a child process that prints its URL -------------------------------------------------


class UrlProcess:
    """A child process that prints a URL line when it is ready.

    ``startup_to_url`` and ``startup_to_health`` are seconds from just before the
    process was spawned to the URL line, and to the first ``/healthz`` 200.
    """

    def __init__(self, cmd: list[str], pattern: re.Pattern[str], log_path: Path) -> None:
        self.cmd = cmd
        self.pattern = pattern
        self.log_path = log_path
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.startup_to_url = float("nan")
        self.startup_to_health = float("nan")
        self.output: list[str] = []

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> "UrlProcess":
        ready = threading.Event()
        log = open(self.log_path, "ab")
        started = time.perf_counter()
        try:
            self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            log.close()  # the child has its own descriptor

        def pump(stream) -> None:
            for line in stream:  # ends when the child closes stdout (it exits)
                self.output.append(line.rstrip("\n"))
                match = self.pattern.search(line)
                if match and not ready.is_set():
                    self.startup_to_url = time.perf_counter() - started
                    self.url = match.group(1)
                    ready.set()

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"{self.cmd[2:4]} did not print its URL within {timeout} s; log: {self.log_path}\n"
                               + "\n".join(self.output[-20:]))
        try:
            self.startup_to_health = self._wait_healthy(started, timeout)
        except BaseException:
            self.stop()  # ``with proc.start()`` was never entered: nothing else would stop it
            raise
        return self

    def _wait_healthy(self, started: float, timeout: float) -> float:
        deadline = started + timeout
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.url}/healthz did not answer 200 within {timeout} s")

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws"

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (the server drains and flushes), SIGKILL if it does not end in time."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def __enter__(self) -> "UrlProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def laneserver_process(data: Path, config: Path, log_path: Path) -> UrlProcess:
    cmd = [sys.executable, "-m", "laneserver", "serve", "--data", str(data), "--config", str(config), "--port", "0"]
    return UrlProcess(cmd, SERVER_URL, log_path)


# --- a shop to run ---------------------------------------------------------------------------


@dataclass
class ShopSetup:
    data: Path
    config: Path
    till_tokens: dict[str, str]             # lane id → till token
    pda_tokens: list[str]
    sellers: list[tuple[str, str]]           # (name, PIN), handed out round robin
    codes: list[str] = field(default_factory=list)     # codes that scan to one active article
    articles: list[str] = field(default_factory=list)  # article ids (for `stock`)


def write_config(path: Path, lanes: int) -> Path:
    """A shop with ``lanes`` lanes (ids "1"…"N") on one stock point, no printers."""
    parts = ['[shop]\nname = "Bench shop"\n', '[[stock_points]]\nid = "main"\n']
    parts += [f'[[lanes]]\nid = "{i}"\nstock_point = "main"\n' for i in range(1, lanes + 1)]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def prepare_shop(root: Path, *, lanes: int, pdas: int, sellers: int, import_demo: bool = True) -> ShopSetup:
    """Write the config, import the demo catalog (unless the database has a catalog
    already), add sellers and pair the devices, with laneserver's own store functions
    (what ``catalog import``, ``seller add`` and ``pair`` do, without a process each)."""
    from laneserver.clock import SystemClock
    from laneserver.store import admin
    from laneserver.store.schema import DB_NAME, connect

    root.mkdir(parents=True, exist_ok=True)
    config = write_config(root / "shop.toml", lanes)
    data = root / "data"
    lane_ids = [str(i) for i in range(1, lanes + 1)]
    now = SystemClock().now()
    db = connect(data / DB_NAME)
    try:
        if import_demo:
            admin.import_articles(db, demo_articles())
        people = [(f"seller{i:02d}", f"{1000 + i:04d}") for i in range(1, sellers + 1)]
        for name, pin in people:
            admin.add_seller(db, name, pin, "cashier", now)
        tills = {lane: admin.pair_device(db, "till", lane, now, lane_ids)[1] for lane in lane_ids}
        pda_tokens = [admin.pair_device(db, "pda", None, now, lane_ids)[1] for _ in range(pdas)]
    finally:
        db.close()
    return ShopSetup(data=data, config=config, till_tokens=tills, pda_tokens=pda_tokens, sellers=people)


def demo_articles():
    from laneserver.rules.catalog_csv import parse_catalog_csv

    return parse_catalog_csv(DEMO_CSV.read_text(encoding="utf-8-sig"))


def scannable(articles) -> tuple[list[str], list[str]]:
    """The codes that scan to exactly one active, priced article, and the ids of the
    active articles (asked by the lane's own lookup, so the bench never sends a code
    the server would find ambiguous)."""
    from laneserver.rules.catalog import Catalog, Found

    catalog = Catalog(articles)
    codes = [b.code for a in articles for b in a.barcodes
             if isinstance(found := catalog.lookup(b.code), Found) and found.article.price > 0]
    ids = [a.id for a in articles if a.active]
    return codes, ids
