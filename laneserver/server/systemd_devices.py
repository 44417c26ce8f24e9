"""The unit's device list from the shop file: ``laneserver systemd-devices`` prints a
drop-in that lets the service open only the devices the shop configures.

The shipped unit (systemd/laneserver.service) has ``DevicePolicy=closed`` (only the
pseudo devices: /dev/null, /dev/zero, /dev/urandom…) plus ``DeviceAllow=`` for the
classes of shop devices (serial ports, USB-serial adapters, USB printers), so it works
with any shop file. The drop-in empties that list (``DeviceAllow=``) and names what this
shop uses instead:

- a serial port (a serial printer, a drawer's port, a serial display or scanner): the
  node itself, and its class (``char-ttyUSB`` for ``/dev/ttyUSB0``…), since the node is
  resolved when the service starts and an adapter plugged in later gets a new minor;
- a stable udev name (``/dev/laneserver/printer``, systemd/99-laneserver.rules): the
  node, and the class of the device it points to now (none if it is not plugged in:
  then the drop-in says so, and the class must be added by hand);
- a USB printer (``vendor:product``, through libusb): ``char-usb_device``;
- a printer writing into a device file (``kind = "file"``, ``/dev/usb/lp0``): the node
  and its class.

Pure except ``resolve`` (reading a symlink under /dev), which the caller passes in.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from laneserver.config import Config

# Device node name → its class in /proc/devices (what DeviceAllow=char-NAME names).
_CLASSES = ((re.compile(r"ttyUSB\d+"), "char-ttyUSB"), (re.compile(r"ttyACM\d+"), "char-ttyACM"),
            (re.compile(r"ttyS\d+"), "char-ttyS"), (re.compile(r"usb/lp\d+"), "char-usb"),
            (re.compile(r"lp\d+"), "char-lp"), (re.compile(r"hidraw\d+"), "char-hidraw"))
USB_DEVICE = "char-usb_device"


def device_class(node: str) -> str | None:
    """``/dev/ttyUSB0`` → ``char-ttyUSB``; None for a name that says nothing (a udev link)."""
    name = node.removeprefix("/dev/")
    return next((cls for pattern, cls in _CLASSES if pattern.fullmatch(name)), None)


def _serial_port(address: str) -> str:
    """``/dev/ttyUSB0:19200`` → ``/dev/ttyUSB0``."""
    port, colon, baud = address.rpartition(":")
    return port if colon and baud.isdigit() else address


def configured_devices(config: Config) -> list[tuple[str, str]]:
    """What the shop file opens under /dev: ``(what, node or class)``, in file order."""
    found: list[tuple[str, str]] = []
    for printer in config.printers:
        if printer.kind == "serial":
            found.append((f"printers {printer.id}", _serial_port(printer.address)))
        elif printer.kind == "usb":
            found.append((f"printers {printer.id} (USB {printer.address}, through libusb)", USB_DEVICE))
        elif printer.kind == "file" and printer.address.startswith("/dev/"):
            found.append((f"printers {printer.id}", printer.address))
    for lane in config.lanes:
        if lane.drawer is not None and lane.drawer.startswith("/dev/"):
            found.append((f"lanes {lane.id} drawer", _serial_port(lane.drawer)))
    # Serial customer displays, scanners and batch scanners' cradles ([[displays]],
    # [[scanners]], [[cradles]]), where the shop file has them.
    for section in ("displays", "scanners", "cradles"):
        for device in getattr(config, section, ()):
            address = getattr(device, "address", "")
            if address.startswith("/dev/"):
                found.append((f"{section} {device.id}", _serial_port(address)))
            elif getattr(device, "kind", "") == "usb":
                found.append((f"{section} {device.id} (USB)", USB_DEVICE))
    return found


def drop_in(config: Config, resolve: Callable[[str], str | None] = lambda node: None) -> str:
    """The drop-in text (``/etc/systemd/system/laneserver.service.d/devices.conf``).

    Args:
        resolve: the node a udev link points to now (None: absent), to find its class.
    """
    lines = ["# The devices this shop's laneserver may open (laneserver systemd-devices;",
             "# docs/operations.md, \"Hardening: the devices\"). Generated from the shop file:",
             "# run it again after adding or moving a device.",
             "[Service]",
             "# Empty first: only what follows is allowed (besides /dev/null, /dev/zero, /dev/urandom…).",
             "DeviceAllow="]
    seen: set[str] = set()

    def allow(spec: str, comment: str | None = None) -> None:
        if spec in seen:
            return
        seen.add(spec)
        if comment:
            lines.append(f"# {comment}")
        lines.append(f"DeviceAllow={spec} rw")

    for what, node in configured_devices(config):
        if node.startswith("char-"):
            allow(node, what)
            continue
        allow(node, what)
        cls = device_class(node)
        if cls is None:
            target = resolve(node)
            cls = device_class(target) if target else None
            if cls is None:
                lines.append(f"# {node} is not plugged in now: its class is unknown, add the one it will "
                             "be (e.g. DeviceAllow=char-ttyUSB rw) or plug it in and run this again")
                continue
        allow(cls, f"{node}'s class: the node is looked up when the service starts; a device plugged in "
                   "later is reached through its class")
    return "\n".join(lines) + "\n"
