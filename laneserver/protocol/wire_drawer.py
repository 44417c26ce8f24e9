"""The cash drawer (rules/drawer.py): cash in and out that is no sale, a no-sale
opening, the closing count, and the ``drawer_alert`` event. Tills only: each acts on
the drawer of the till's lane."""

from __future__ import annotations

from typing import Literal

import msgspec

from laneserver.protocol.frames import Denomination, MoneyIn, Reply, Request


class DrawerMovement(Request, tag="drawer_movement"):
    """Cash in or out of the drawer, not from a sale. A withdrawal needs ``destination``,
    ``count`` (adding up to ``amount``) and ``supervisor_pin``; an expense needs ``detail``."""

    kind: Literal["float", "add", "expense", "withdrawal"]
    amount: MoneyIn
    reason: str
    detail: str | None = None
    destination: Literal["bank", "safe"] | None = None
    count: dict[Denomination, int] | None = None  # pieces by denomination: {"50.00": 2, "0.20": 5}
    supervisor_pin: str | None = None


class DrawerOpen(Request, tag="drawer_open"):
    """Open the drawer without a sale ("no sale"): a supervisor's PIN, always."""

    reason: str
    supervisor_pin: str | None = None


class DrawerCount(Request, tag="drawer_count"):
    """The closing count by denomination; it closes the drawer's period."""

    count: dict[Denomination, int]


class GetDrawer(Request, tag="drawer"):
    """``drawer``: the lane's cash drawer as it stands."""


class DrawerMovementView(msgspec.Struct, frozen=True):
    at: str
    kind: str
    amount: str
    reason: str
    seller: str
    detail: str | None
    destination: str | None
    count: dict[str, int]
    approved_by: str | None


class DrawerView(msgspec.Struct, frozen=True):
    lane: str
    since: str | None  # the last closing count; null: never counted
    float: str
    added: str
    expenses: str
    withdrawals: str
    cash_sales: str
    sales: int
    cash_in: str  # other cash received: customer top-ups, deposits, vouchers sold for cash
    expected: str
    alert_threshold: str | None
    alert: bool  # expected is above alert_threshold: a withdrawal is due
    movements: list[DrawerMovementView]


class DrawerOk(Reply):
    drawer: DrawerView


class DrawerOpenOk(Reply):
    lane: str
    approved_by: str


class DrawerCountOk(Reply):
    lane: str
    expected: str
    counted: str
    difference: str  # counted - expected: negative when cash is missing
    drawer: DrawerView  # the new, empty period


class DrawerSensorEvent(msgspec.Struct, frozen=True, tag_field="type", tag="drawer_sensor"):
    """The lane's drawer sensor (read through its printer, DLE EOT 1): ``open`` (None:
    not known) and ``left_open`` once it has stayed open ``drawer_left_open_seconds``."""

    lane: str
    open: bool | None
    left_open: bool = False


class DrawerAlertEvent(msgspec.Struct, frozen=True, tag_field="type", tag="drawer_alert"):
    """The expected cash of a lane's drawer rose above ``[shop] drawer_alert``: a withdrawal is due."""

    lane: str
    expected: str
    threshold: str
