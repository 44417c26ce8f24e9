"""The messages a printer's device actor takes (actors/printer.py handles them): print
a receipt or a drawer slip, kick the drawer wired to it, and ask its status; and the
``PrinterStatus`` it reports (to the lane, which shows it on the tills).
"""

from __future__ import annotations

import msgspec

from laneserver.rules.closures import Sheet
from laneserver.rules.drawer import DrawerSlip
from laneserver.rules.receipt import Receipt


class PrintReceipt(msgspec.Struct, frozen=True):
    """Print ``receipt`` (tell). ``job`` names the job in logs, e.g. ``"1-000123"``."""

    job: str
    receipt: Receipt


class KickDrawer(msgspec.Struct, frozen=True):
    """Open the cash drawer wired to this printer (tell): ESC p on connector ``pin`` (2
    or 5), the pulse ``on_ms`` long then ``off_ms`` off (the lane's ``drawer_*`` keys)."""

    pin: int = 2
    on_ms: int = 100
    off_ms: int = 100


class PrintSlip(msgspec.Struct, frozen=True):
    """Print a cash drawer slip (tell): a movement or a closing count. Queued like a
    receipt: a printer that is down keeps it."""

    job: str
    slip: DrawerSlip


class PrintSheet(msgspec.Struct, frozen=True):
    """Print an X report or a Z closure (tell), queued like a receipt."""

    job: str
    sheet: Sheet


class GetStatus(msgspec.Struct, frozen=True):
    """Ask for the printer's ``PrinterStatus``."""


PrinterCommand = PrintReceipt | KickDrawer | PrintSlip | PrintSheet | GetStatus


class PrinterStatus(msgspec.Struct, frozen=True):
    """How a printer is doing, as the lane shows it on the tills.

    ``online`` is False from a failed send until the next successful one (it is
    True at start: nothing has failed yet). ``error`` is the last failure's
    reason while offline. ``pending`` counts jobs not yet printed.

    ``status`` is what the printer reports (rules/printer_status.py, DLE EOT): ``ok``,
    ``offline`` (also while it cannot be reached or has stopped answering),
    ``paper_out``, ``paper_near_end``, ``cover_open``; None for a printer that has
    not answered (a file printer, a model without DLE EOT): the wire then says
    ``ok`` or ``offline`` from ``online`` (``wire_status``).
    ``drawer_open``: the drawer's sensor (None: no sensor, or not read);
    ``drawer_left_open``: open longer than the lane's ``drawer_left_open_seconds``.
    """

    printer: str
    online: bool
    pending: int
    error: str | None = None
    status: str | None = None
    drawer_open: bool | None = None
    drawer_left_open: bool = False


def wire_status(status: PrinterStatus) -> str:
    """The ``printer`` event's ``status``: the reported one, else from ``online``."""
    if status.status is not None:
        return status.status
    return "ok" if status.online else "offline"
