"""The systemd unit passes ``systemd-analyze verify`` with no output at all.

``systemd-analyze verify`` exits 0 on many mistakes (an unknown key, a bad value:
systemd logs "ignoring" and carries on), so any output on stdout or stderr fails
the test, not only the exit code.

verify also checks that the ExecStart binary exists and is executable; the unit
names the installed path (/opt/laneserver/venv/bin/laneserver), so these tests
verify a copy pointing at the ``laneserver`` script of the running environment.
The unit as shipped, installed the documented way (docs/operations.md: the venv at
/opt/laneserver/venv, the unit under /etc/systemd/system), is verified by
tests/e2e/test_install.py, in a private mount namespace.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "laneserver.service"
SYSUSERS = ROOT / "systemd" / "laneserver.sysusers"
INSTALLED_BINARY = "/opt/laneserver/venv/bin/laneserver"

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or (
    "/usr/bin/systemd-analyze" if Path("/usr/bin/systemd-analyze").exists() else None
)
needs_systemd_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")


def laneserver_script() -> Path:
    """The ``laneserver`` console script of the environment running the tests."""
    beside_python = Path(sys.executable).parent / "laneserver"
    if beside_python.exists():
        return beside_python
    found = shutil.which("laneserver")
    if found is None:
        pytest.fail("the laneserver console script is not installed: pip install -e .")
    return Path(found)


def service_settings(text: str) -> dict[str, list[str]]:
    """``Key=value`` settings of a unit file (every section), in order."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def local_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit (or ``text``) copied to tmp_path with ExecStart made runnable here."""
    text = UNIT.read_text(encoding="utf-8") if text is None else text
    script = laneserver_script()
    substituted = text.replace(INSTALLED_BINARY, str(script))
    assert substituted != text, f"{INSTALLED_BINARY} not found in the unit"
    exec_start = service_settings(substituted)["ExecStart"]
    assert exec_start == [f"{script} serve --config /etc/laneserver/laneserver.toml --data /var/lib/laneserver"]
    # verify derives the unit's name from the file name: keep it.
    copy = tmp_path / "laneserver.service"
    copy.write_text(substituted, encoding="utf-8")
    return copy


def verify(unit: Path) -> str:
    """Everything ``systemd-analyze verify`` says about ``unit`` (stdout + stderr).

    --man=no: Documentation= man pages need not be installed on the test machine.
    --generators=no: do not run this machine's generators (fstab, getty...), so
    only our unit and the stock units it references (network-online.target,
    multi-user.target) are loaded. The log level and colours are pinned so the
    caller's environment cannot add noise or hide messages.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SYSTEMD_") and key not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
    }
    env |= {"SYSTEMD_LOG_LEVEL": "info", "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": "cat", "LC_ALL": "C"}
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", "--generators=no", str(unit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 and not output:
        output = f"exit status {result.returncode}"
    return output


@needs_systemd_analyze
def test_unit_verifies_without_any_output(tmp_path):
    output = verify(local_copy(tmp_path))
    assert output == "", f"systemd-analyze verify complained:\n{output}"


@needs_systemd_analyze
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("Type=notify", "Type=notfy"), "service type"),
        (("WatchdogSec=30", "WatchdogSec=30\nWatchdogSeconds=30"), "Unknown key"),
        (("WatchdogSec=30", "WatchdogSec=thirty"), "thirty"),
        (("Restart=on-failure", "Restart=sometimes"), "sometimes"),
        (("[Install]", "[Instal]"), "Instal"),
    ],
    ids=["bad-type", "unknown-key", "bad-timespan", "bad-restart", "unknown-section"],
)
def test_a_broken_unit_is_reported(tmp_path, change, expected):
    old, new = change
    text = UNIT.read_text(encoding="utf-8")
    assert old in text
    output = verify(local_copy(tmp_path, text.replace(old, new, 1)))
    assert expected in output, output


@needs_systemd_analyze
def test_a_missing_binary_is_reported(tmp_path):
    # The unit as shipped, where /opt/laneserver is not installed (it never is on
    # a test machine): verify must notice, which is why the test substitutes it.
    if Path(INSTALLED_BINARY).exists():
        pytest.skip(f"{INSTALLED_BINARY} is installed on this machine")
    copy = tmp_path / "laneserver.service"
    shutil.copy(UNIT, copy)
    assert "not executable" in verify(copy)


def test_unit_has_the_settings_operations_relies_on():
    settings = service_settings(UNIT.read_text(encoding="utf-8"))
    one = {key: values[-1] for key, values in settings.items()}
    assert one["Type"] == "notify"
    assert one["NotifyAccess"] == "main"
    assert re.fullmatch(r"\d+", one["WatchdogSec"]) and int(one["WatchdogSec"]) > 0
    assert one["Restart"] == "on-failure"
    assert one["RestartSec"] == "2"
    assert one["TimeoutStopSec"] == "20"
    assert one["KillSignal"] == "SIGTERM"
    assert one["StateDirectory"] == "laneserver"
    assert one.get("User") or one.get("DynamicUser") == "yes"
    assert one["ExecStart"].startswith(INSTALLED_BINARY + " serve ")
    assert "--data /var/lib/laneserver" in one["ExecStart"]
    assert "--config /etc/laneserver/laneserver.toml" in one["ExecStart"]
    assert one["WantedBy"] == "multi-user.target"
    assert "network-online.target" in one["After"]
    assert "network-online.target" in one["Wants"]
    for hardening in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "ProtectKernelTunables", "ProtectControlGroups"):
        assert one[hardening] == "yes", hardening
    assert one["ProtectSystem"] == "strict"
    families = one["RestrictAddressFamilies"].split()
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(families)


def test_sysusers_file_creates_the_units_user(tmp_path):
    settings = service_settings(UNIT.read_text(encoding="utf-8"))
    user = settings["User"][-1]
    lines = [
        line.split()
        for line in SYSUSERS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ["u", user] in [fields[:2] for fields in lines]

    sysusers = shutil.which("systemd-sysusers")
    if sysusers is None:
        return
    # Into an empty root, so the machine's own /etc is never touched.
    result = subprocess.run(
        [sysusers, f"--root={tmp_path}", "--dry-run", str(SYSUSERS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "SYSTEMD_LOG_COLOR": "0"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"Creating user '{user}'" in output, output


def test_the_unit_the_sysusers_file_and_the_docs_name_one_sysusers_path():
    """The unit's comment once said /usr/lib/sysusers.d, the docs /etc/sysusers.d."""
    docs = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    named = set()
    for text in (UNIT.read_text(encoding="utf-8"), SYSUSERS.read_text(encoding="utf-8"), docs):
        named |= set(re.findall(r"/[\w/.]*sysusers\.d/[\w.]+", text))
    assert named == {"/etc/sysusers.d/laneserver.conf"}, named
    assert "install -m 0644 systemd/laneserver.sysusers /etc/sysusers.d/laneserver.conf" in docs


def test_a_refused_start_is_not_restarted():
    """serve exits 3 when it refuses the books (laneserver/cli.py EXIT_BOOKS_REFUSED)."""
    from laneserver.cli import EXIT_BOOKS_REFUSED

    settings = service_settings(UNIT.read_text(encoding="utf-8"))
    assert str(EXIT_BOOKS_REFUSED) in settings["RestartPreventExitStatus"][-1].split()


# --- hardening: the devices and the exposure ------------------------------------------

SECURITY_TARGET = 2.5  # systemd-analyze security's overall exposure (0 best, 10 worst)


def exposure(unit: Path) -> float:
    """``systemd-analyze security --offline=yes`` of a unit file: its overall exposure."""
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": "cat"},
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert found, result.stdout[-2000:] + result.stderr
    return float(found[1])


SHOP = """
[[stock_points]]
id = "main"

[[printers]]
id = "serial"
kind = "serial"
address = "/dev/ttyUSB0:19200"

[[printers]]
id = "usb"
kind = "usb"
address = "0x04b8:0x0202"

[[printers]]
id = "usblp"
kind = "file"
address = "/dev/usb/lp0"

[[printers]]
id = "linked"
kind = "serial"
address = "/dev/laneserver/printer-1"

[[printers]]
id = "spool"
kind = "file"
address = "/var/lib/laneserver/receipts.bin"

[[lanes]]
id = "1"
printer = "serial"
drawer = "/dev/ttyS0:9600"

[[lanes]]
id = "2"
printer = "linked"
"""


def test_the_unit_closes_the_devices_but_the_shop_classes():
    one = service_settings(UNIT.read_text(encoding="utf-8"))
    assert one["DevicePolicy"] == ["closed"]
    assert {"char-ttyS rw", "char-ttyUSB rw", "char-ttyACM rw", "char-usb rw", "char-usb_device rw"} <= set(
        one["DeviceAllow"])
    assert set(one["SupplementaryGroups"][-1].split()) == {"dialout", "lp"}


def test_the_drop_in_allows_the_shop_files_devices_only():
    from laneserver.config import parse_config
    from laneserver.server.systemd_devices import drop_in

    links = {"/dev/laneserver/printer-1": "/dev/ttyACM0"}
    allowed = service_settings(drop_in(parse_config(SHOP), links.get))["DeviceAllow"]
    assert allowed == ["", "/dev/ttyUSB0 rw", "char-ttyUSB rw", "char-usb_device rw", "/dev/usb/lp0 rw",
                       "char-usb rw", "/dev/laneserver/printer-1 rw", "char-ttyACM rw", "/dev/ttyS0 rw",
                       "char-ttyS rw"]
    unplugged = drop_in(parse_config(SHOP), lambda node: None)
    assert "/dev/laneserver/printer-1 is not plugged in now" in unplugged
    assert "char-ttyACM" not in unplugged


@needs_systemd_analyze
def test_the_exposure_is_at_most_the_target_with_and_without_the_drop_in(tmp_path):
    from laneserver.config import parse_config
    from laneserver.server.systemd_devices import drop_in

    shipped = local_copy(tmp_path)
    assert exposure(shipped) <= SECURITY_TARGET
    # The drop-in's lines after the unit's (what systemd does with a drop-in): still
    # verifies without a word, and no worse.
    narrowed = tmp_path / "narrowed" / "laneserver.service"
    narrowed.parent.mkdir()
    narrowed.write_text(shipped.read_text(encoding="utf-8") + "\n" + drop_in(parse_config(SHOP)), encoding="utf-8")
    assert verify(narrowed) == ""
    assert exposure(narrowed) <= exposure(shipped)


def test_laneserver_systemd_devices_prints_the_drop_in(tmp_path, capsys):
    from laneserver.cli import main

    shop = tmp_path / "shop.toml"
    shop.write_text(SHOP, encoding="utf-8")
    assert main(["systemd-devices", "--config", str(shop)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# The devices this shop's laneserver may open")
    assert "DeviceAllow=/dev/ttyUSB0 rw" in printed
