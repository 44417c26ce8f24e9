"""The running shop: the addresses of its actors, handed to the web layer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from laneserver.actors.lane import payment_policy
from laneserver.actors.publisher import Publisher
from laneserver.actors.runtime import Address
from laneserver.actors.terminal import ABORT_SECONDS as TERMINAL_ABORT_SECONDS
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.rules.auth import PinPolicy
from laneserver.rules.catalog import Catalog
from laneserver.rules.payment import Policy as PaymentPolicy
from laneserver.rules.roles import role_table
from laneserver.protocol.messages import KeyboardPageView, Pay, RemovePayment
from laneserver.server.metrics import Metrics
from laneserver.server.pairing import PairingGate
from laneserver.server.pins import PinGate
from laneserver.store.status import Facts


@dataclass
class Shop:
    config: Config
    clock: Clock
    journal: Address
    catalog: Catalog
    lanes: dict[str, Address]
    stock_points: dict[str, Address]
    # The cash drawer actor of each lane (actors/drawer.py), by lane id.
    drawers: dict[str, Address] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    # Every PIN check (server/pins.py); made from [server] pin_* in __post_init__.
    pins: PinGate = field(init=False)
    # ``pair`` with a one-time code (server/pairing.py); made in __post_init__.
    pairing: PairingGate = field(init=False)
    # Which role each verb needs (rules/roles.py, with the shop's ``[roles]``).
    roles: Mapping[str, str] = field(init=False)
    # The shop's payment policy (actors/lane.py ``payment_policy``); made in __post_init__.
    payments: PaymentPolicy = field(init=False)
    keyboard: list[KeyboardPageView] = field(default_factory=list)
    # The layout a manager saved (``keyboard_save``), or None: the shop file's pages.
    keyboard_layout: Any = None
    # The catalog version loaded (store/catalog_meta.py; server/edge_catalog.py watches it).
    catalog_version: int = 0
    accepting: bool = True
    # Open sessions' cancel scopes, so shutdown can end them at once instead of
    # waiting out the grace period for browsers that never hang up.
    sessions: set = field(default_factory=set)
    # The open sessions themselves (server/access.py ends or signs out some of them).
    open_sessions: set = field(default_factory=set)
    # Payment terminals by id (device actors; the lanes hold their own).
    terminals: dict[str, Address] = field(default_factory=dict)
    # The customers actor (actors/customers.py): directory, credit, wallet, vouchers.
    customers: Address | None = None
    # The sales actor (actors/sales.py): corrections, cancels and debts of finished sales.
    sales: Address | None = None
    # The fiscal actor (actors/fiscal.py): X reports and Z closures.
    fiscal: Address | None = None
    # The documents actor (actors/documents.py): quotes, orders, delivery notes.
    documents: Address | None = None
    # The data folder (the database, the anchor, the invoices' PDFs under invoices/).
    data_folder: Path | None = None
    # Core actors out of service after repeated failures ("lane:1", "stock:main", …).
    out_of_service: set[str] = field(default_factory=set)
    # The publishers (actors/publisher.py) of the lanes and stock points, by actor name
    # (``lane:1``, ``stock:main``): their sessions subscribe there.
    publishers: dict[str, Publisher] = field(default_factory=dict)
    # For store IT (server/status.py): when it started (trio time and ISO UTC), the URLs
    # it serves, each printer's last state (True: online), the books' facts as last read.
    started: float = 0.0
    started_at: str = ""
    urls: list[str] = field(default_factory=list)
    printers_online: dict[str, bool] = field(default_factory=dict)
    facts: Facts = field(default_factory=Facts)
    # Head office's credit and wallet holds, counted (actors/hq_holds.py ``HoldStats``).
    hold_stats: Any = None
    # And the holds themselves (actors/hq_holds.py ``HqHolds``): the customer replies'
    # chain-wide balances (server/edge_customers.py). None without [head_office].
    hq_holds: Any = None
    # The customer display actor of each lane that has one (actors/display.py), by lane
    # id, and every display's and scanner's newest state by "display:ID" / "scanner:ID"
    # (server/devices.py: /status, device list, /metrics).
    displays: dict[str, Address] = field(default_factory=dict)
    device_states: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.payments = payment_policy(self.config)  # the lanes' payment modes and rules, made once
        server = self.config.server
        self.pins = PinGate(self.journal, self.clock, PinPolicy(
            max_failures=server.pin_failures, lockout=server.pin_lockout, lockout_max=server.pin_lockout_max))
        self.pairing = PairingGate(self.journal, self.clock)
        self.roles = role_table(self.config.roles)

    def close_sessions(self) -> None:
        self.accepting = False
        for scope in list(self.sessions):
            scope.cancel()

    def ask_timeout(self, request: Any, lane: str | None = None) -> float:
        """How long a session waits for ``request``: ``[server] ask_timeout``, plus
        the lane's terminal timeout for a card payment (the customer may take a
        while over the PIN, and the lane waits for the terminal, not for us) and for
        a payment removed (a card payment the terminal took is refunded on it first)."""
        base = self.config.server.ask_timeout
        if (isinstance(request, Pay) and request.mode == "card") or isinstance(request, RemovePayment):
            terminal = self.config.terminal_of(lane)
            if terminal is not None:
                return base + terminal.timeout_seconds + TERMINAL_ABORT_SECONDS
        return base

    @property
    def payment_modes(self) -> list[str]:
        return self.payments.mode_ids  # built-in, then the shop's own
