"""Install as docs/operations.md says, then run what was installed.

The install steps are read from the docs' "Installing" block, not written again here:
step 2 (a fresh virtualenv at /opt/laneserver/venv, the wheel built from the source
folder, installed with its dependencies from the package index) and, from step 5,
the unit installed under /etc/systemd/system and ``systemd-analyze verify`` on it,
which must print nothing. They run as written, in a private mount namespace
(``unshare --mount --map-root-user``) where /opt and /etc/systemd/system are empty
temporary folders, so the machine's own are never touched. Then the installed
``laneserver serve`` runs from another folder and serves the pages: ``/till/`` and
``/pda/`` answer 200 with their HTML (the wheel once shipped without them, and the
server crashed at start: "Directory '…/site-packages/clients/web_till' does not exist").

It needs the package index (PyPI, or pip's configured mirror) for the dependencies,
as the install itself does; about 20 s with pip's cache warm.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import urllib.request

import pytest

from tests.support import REPO

DOCS = REPO / "docs" / "operations.md"
SOURCE = ("pyproject.toml", "README.md", "laneserver", "docs", "systemd")


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "--map-root-user", "true"], capture_output=True, timeout=10)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _can_unshare() or shutil.which("systemd-analyze") is None,
    reason="needs unshare (a private mount namespace, so /opt and /etc/systemd/system stay untouched) "
           "and systemd-analyze (the docs' unit check)",
)


def documented_install() -> list[str]:
    """The commands of step 2, and step 5's unit install and check, from docs/operations.md."""
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"## Installing\n.*?```sh\n(.*?)```", text, re.S).group(1)
    step2 = re.search(r"^# 2\..*?\n(.*?)^# 3\.", block, re.S | re.M).group(1)
    commands = [line for line in step2.splitlines() if line.strip() and not line.startswith("#")]
    step5 = re.search(r"^# 5\..*", block, re.S | re.M).group(0)
    commands += [line.split("#")[0].strip() for line in step5.splitlines()
                 if line.startswith(("install -m 0644 systemd/laneserver.service", "systemd-analyze verify"))]
    assert len(commands) >= 6, commands
    return commands


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read().decode()


def test_the_documented_install_serves_the_pages_from_another_folder(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCE:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(REPO / name, source / name)
    for folder in ("opt", "units", "elsewhere"):
        (tmp_path / folder).mkdir()
    commands = documented_install()
    verify = next(i for i, c in enumerate(commands) if c.startswith("systemd-analyze verify"))
    # The check prints nothing when all is well: anything it says fails the install.
    commands[verify] = f'said=$({commands[verify]} 2>&1) && [ -z "$said" ] || {{ echo "verify: $said" >&2; exit 97; }}'
    port = free_port()
    script = "\n".join([
        "set -euo pipefail",
        f"mount --bind {tmp_path}/opt /opt",
        f"mount --bind {tmp_path}/units /etc/systemd/system",
        f"cd {source}",
        *commands,
        "echo INSTALLED",
        f"cd {tmp_path}/elsewhere",
        f"exec /opt/laneserver/venv/bin/laneserver serve --data {tmp_path}/data --port {port}",
    ])
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SYSTEMD_", "VIRTUAL_ENV", "PYTHON")) and key not in ("NOTIFY_SOCKET",)}
    env |= {"LC_ALL": "C", "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": "cat", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.Popen(["unshare", "--mount", "--map-root-user", "bash", "-c", script], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while True:
            try:
                line = lines.get(timeout=240)
            except queue.Empty:
                pytest.fail("install or start took over 240 s:\n" + "".join(output[-40:]))
            if line is None:
                pytest.fail(f"install or start failed (exit {proc.wait(10)}):\n" + "".join(output[-40:]))
            output.append(line)
            if "till page:" in line:
                break
        assert "INSTALLED" in "".join(output)
        base = f"http://127.0.0.1:{port}"
        status, till = get(base + "/till/")
        assert status == 200 and "<title>Caisse — laneserver</title>" in till and "till.js" in till
        status, pda = get(base + "/pda/")
        assert status == 200 and "<title>PDA — laneserver</title>" in pda
        assert get(base + "/till/till.js")[0] == 200
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
