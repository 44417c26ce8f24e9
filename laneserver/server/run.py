"""Starting and stopping the whole shop, in order and in layers.

Start: journal → demo seed (if any) → catalog → stock points → printers →
payment terminals → invoices → drawers → customers → sales → lanes → HTTP listener → READY=1 to systemd. Each actor is started with
``nursery.start`` so the next one only starts once the previous is ready.

Stop (SIGTERM, SIGINT, or the ``stop`` event): stop accepting websockets and
close the listener (Hypercorn gives open connections ``shutdown_grace``
seconds), then close the lanes' mailboxes and let them drain under a
deadline, then stock points, printers and terminals, and last the journal, whose final
flush and close are shielded and bounded.
"""

from __future__ import annotations

import datetime as dt
import gc
import secrets

import signal
from decimal import Decimal
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Callable

import trio

from laneserver import __version__
from laneserver.actors.backups import MAILBOX as BACKUPS_MAILBOX
from laneserver.actors.backups import BackupsActor, BackupStatus
from laneserver.actors.journal import MAILBOX as JOURNAL_MAILBOX
from laneserver.actors.journal import CommitFailed, JournalActor, JournalStats, commit, read
from laneserver.actors.journal_messages import JetStart
from laneserver.actors.device_messages import LaneOpen
from laneserver.actors.cradle import MAILBOX as CRADLE_MAILBOX
from laneserver.actors.cradle import CradleActor
from laneserver.actors.display import MAILBOX as DISPLAY_MAILBOX
from laneserver.actors.display import DisplayActor
from laneserver.actors.drawer import DrawerActor
from laneserver.actors.fiscal import FiscalActor
from laneserver.actors.customers import CustomersActor
from laneserver.actors.sales import SalesActor
from laneserver.actors.lane import LaneActor, payment_policy
from laneserver.actors.messages import DeviceStatus
from laneserver.actors.invoices import MAILBOX as INVOICES_MAILBOX
from laneserver.actors.invoices import InvoicesActor
from laneserver.actors.documents import DocumentsActor
from laneserver.actors.printer import DrawerSensorConfig, PrinterActor
from laneserver.actors.printer_messages import PrinterStatus, wire_status
from laneserver.actors.publisher import TICKET, Publisher
from laneserver.actors.runtime import (CORE_POLICY, DEVICE_POLICY, JOURNAL_POLICY, ActorFailed, Address,
                                       open_mailbox, supervise)
from laneserver.actors.scanner import MAILBOX as SCANNER_MAILBOX
from laneserver.actors.scanner import ScannerActor
from laneserver.actors.stock_point import StockPointActor
from laneserver.rules.costs import CostBook
from laneserver.rules.stock import StockTakes
from laneserver.actors.terminal import MAILBOX as TERMINAL_MAILBOX
from laneserver.actors.terminal import TerminalActor
from laneserver.clock import Clock, shop_zone
from laneserver.config import Config
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.rules import jet as jet_rules
from laneserver.rules.catalog import Catalog
from laneserver.rules.catalog_csv import parse_catalog_csv
from laneserver.server import systemd
from laneserver.server.access import watch_access
from laneserver.server.app import build_app, healthy
from laneserver.server.devices import (
    cradle_lane,
    deliver_basket,
    deliver_code,
    keep_state,
    lane_seller,
    register_device_metrics,
)
from laneserver.server.http_edge import Edge, connection_capacity, host_names
from laneserver.server.http_edge import serve as serve_http
from laneserver.server.send_timeout import SendBoundedConfig
from laneserver.server.session import out_of_service_message
from laneserver.server.shop import Shop
from laneserver.server.collector import Collector
from laneserver.server.status import register_hold_metrics, register_metrics, register_shipper_metrics
from laneserver.server.edge_catalog import keyboard_views, watch_catalog
from laneserver.store import admin, catalog_meta, outbox, reads
from laneserver.store.ops import RecordEvent
from laneserver.store.schema import DB_NAME
from laneserver.tls import server_files

DEMO_SELLER = ("marie", "1234", "manager")
DEMO_INITIAL_STOCK = Decimal(24)

log = get_logger("server")


def demo_articles():
    text = resources.files("laneserver.demo").joinpath("catalog.csv").read_text(encoding="utf-8")
    return parse_catalog_csv(text)


async def run_shop(
    config: Config,
    data_dir: Path,
    clock: Clock,
    *,
    host: str | None = None,
    port: int | None = None,
    stop: trio.Event | None = None,
    on_ready: Callable[[Shop, list[str]], None] | None = None,
    handle_signals: bool = True,
) -> None:
    """Run the shop until a signal (or ``stop``) ends it, then shut down in layers."""
    stop = stop if stop is not None else trio.Event()
    server_config = config.server
    # [server] tls: the certificate and key, checked before anything starts (TlsError
    # names the command that makes them).
    tls_files = server_files(data_dir, server_config.tls_cert, server_config.tls_key) if server_config.tls else None
    zone = shop_zone(config.shop.timezone)  # the shop's day (clock.py), for every actor that counts days
    async with trio.open_nursery() as root:
        if handle_signals:
            root.start_soon(_stop_on_signal, stop)

        # Layer 3 (last to stop): the journal.
        journal, journal_inbox = open_mailbox("journal", JOURNAL_MAILBOX)
        journal_stats = JournalStats()  # its batches, for /metrics; outlives a restart of the journal
        started = trio.current_time()
        printers_online = {printer.id: True for printer in config.printers}  # True until a job fails
        # The open websocket sessions (the shop's, made here so a display restarted before
        # the listener opens asks them who is signed in: server/devices.py), and each
        # display's and scanner's newest state (written by its actor's on_state).
        open_sessions: set = set()
        device_states: dict = {}
        async with trio.open_nursery() as core:
            # The journal alone ends the process past its restart budget (JOURNAL_POLICY):
            # without it nothing can be made durable. Every other core actor stays
            # stopped and out of service (_actor_stopped), and the rest of the shop goes on.
            # The technical event journal's start: this version and the configuration as loaded.
            jet = JetStart(version=__version__, config=jet_rules.digest(config))
            await core.start(supervise, "journal",
                             partial(JournalActor, data_dir / DB_NAME, zone=zone, stats=journal_stats, jet=jet,
                                     clock=clock),
                             journal_inbox, JOURNAL_POLICY)
            if config.demo:
                seeded = await read(journal, partial(
                    admin.seed_demo, articles=demo_articles(), seller=DEMO_SELLER,
                    stock_point=config.stock_points[0].id, initial_stock=DEMO_INITIAL_STOCK, now=clock.now(),
                ))
                if seeded:
                    log.info("demo_shop_seeded", seller=DEMO_SELLER[0])
            # A million articles are millions of objects that live as long as the
            # process and hold no cycles: the collector would scan them again and again
            # while they are made (seconds of a large shop's start-up) and during every
            # full collection afterwards. So it rests while they are loaded, and they are
            # then moved out of its sight (gc.freeze).
            gc.disable()
            try:
                catalog_version = await read(journal, catalog_meta.catalog_version)
                articles = await read(journal, reads.articles)
                # A large catalog is ready to scan at once; its name search comes a few
                # seconds later (searches meanwhile get `unavailable`), so a shop of a
                # million articles starts selling without waiting for the word index.
                catalog = Catalog(articles, search_index=len(articles) <= server_config.search_index_at_start)
                del articles
            finally:
                gc.enable()
            gc.freeze()
            log.info("catalog_loaded", articles=len(catalog), searchable=catalog.searchable)
            if not catalog.searchable:
                root.start_soon(_build_name_index, catalog)

            # The core actors that crashed past their restart budget and stay out of
            # service (_actor_stopped): /healthz and /metrics name them.
            out_of_service: set[str] = set()

            # Layer 2: stock points and devices.
            lane_addresses: dict[str, Address] = {}
            lane_inboxes = {}
            for lane in config.lanes:
                lane_addresses[lane.id], lane_inboxes[lane.id] = open_mailbox(f"lane:{lane.id}")
            async with trio.open_nursery() as middle:
                points: dict[str, Address] = {}
                point_inboxes = {}
                # Each lane's copy of its point's purchase costs (rules/costs.py): the point tells
                # it what changed, the lane writes it; it outlives a restart of the lane.
                lane_costs = {lane.id: CostBook() for lane in config.lanes}
                for point in config.stock_points:
                    points[point.id], point_inboxes[point.id] = open_mailbox(f"stock:{point.id}", 64)
                # The sessions of each lane and of each stock point have one owner, a publisher
                # (actors/publisher.py), by the actor's name: sessions tell it subscribe /
                # unsubscribe; the actor (and the lane's drawer, and the supervisor) tell it
                # what to publish. It outlives every restart of them.
                # A point's alerts are events only; a lane's ticket and printer status are
                # given to each newcomer (sticky, the default).
                publishers = {address.name: Publisher(address.name, sticky=()) for address in points.values()}
                publishers.update((address.name, Publisher(address.name, sticky=(TICKET, "printer", "drawer_sensor")))
                                  for address in lane_addresses.values())
                for point in config.stock_points:
                    # Reservations (and the publisher) outlive a restart of the actor.
                    factory = partial(StockPointActor, point.id, journal=journal, catalog=catalog, clock=clock,
                                      policy=config.shop.negative_stock, reservations={},
                                      publisher=publishers[points[point.id].name],
                                      peers=points, sell_by_warning_days=config.shop.sell_by_warning_days,
                                      lanes=[lane_addresses[lane.id] for lane in config.lanes
                                             if config.stock_point_of(lane.id) == point.id],
                                      zone=zone)
                    await middle.start(partial(supervise, on_stopped=partial(_actor_stopped, journal, clock, out_of_service, None)),
                                       points[point.id].name, factory, point_inboxes[point.id], CORE_POLICY)
                printers: dict[str, Address] = {}
                for printer in config.printers:
                    address, inbox = open_mailbox(f"printer:{printer.id}")
                    lanes_served = [lane_addresses[l.id] for l in config.lanes if l.printer == printer.id]
                    # The drawer whose sensor this printer reads (a lane kicking through it).
                    sensing = next((l for l in config.lanes if l.printer == printer.id and l.drawer == "printer"
                                    and l.drawer_sensor), None)
                    drawer = (DrawerSensorConfig(sensing.drawer_sensor, sensing.drawer_left_open_seconds)
                              if sensing is not None else None)
                    drawer_lane = lane_addresses[sensing.id] if sensing is not None else None
                    factory = partial(PrinterActor, printer,
                                      on_status=partial(_printer_status, lanes_served, config, printers_online,
                                                        drawer_lane, {}),
                                      zone=zone, journal=journal, clock=clock, drawer=drawer,
                                      lanes=tuple(l.id for l in config.lanes if l.printer == printer.id))
                    await middle.start(supervise, address.name, factory, inbox, DEVICE_POLICY)
                    printers[printer.id] = address
                terminals: dict[str, Address] = {}
                for terminal in config.terminals:
                    address, inbox = open_mailbox(f"terminal:{terminal.id}", TERMINAL_MAILBOX)
                    serves = next((lane.id for lane in config.lanes if lane.terminal == terminal.id), "-")
                    await middle.start(supervise, address.name,
                                       partial(TerminalActor, terminal, lane=serves,
                                               on_state=partial(keep_state, device_states)),
                                       inbox, DEVICE_POLICY)
                    terminals[terminal.id] = address
                # Invoices' PDFs, written off the lanes' tasks (a device: the invoice request
                # renders a PDF that is missing from the database).
                invoices, invoices_inbox = open_mailbox("invoices", INVOICES_MAILBOX)
                await middle.start(supervise, "invoices", partial(InvoicesActor, data_dir, journal=journal, config=config),
                                   invoices_inbox, DEVICE_POLICY)
                # Scheduled backups ([backup] every): a worker thread and a connection of their own.
                backup_status = BackupStatus()
                backups, backups_inbox = open_mailbox("backups", BACKUPS_MAILBOX)
                if config.backup.every_seconds is not None:
                    folder = Path(config.backup.folder)
                    factory = partial(BackupsActor, data_dir / DB_NAME, folder=data_dir / folder,
                                      every=config.backup.every_seconds, keep=config.backup.keep, journal=journal,
                                      clock=clock, status=backup_status, create_folder=not folder.is_absolute())
                    await middle.start(supervise, "backups", factory, backups_inbox, DEVICE_POLICY)
                # A customer display per lane that names one (a device: the lane tells it
                # each change without waiting; it shows only the newest: actors/display.py).
                displays: dict[str, Address] = {}
                for lane in config.lanes:
                    display = config.display(lane.display) if lane.display else None
                    if display is None:
                        continue
                    address, inbox = open_mailbox(f"display:{display.id}", DISPLAY_MAILBOX)
                    factory = partial(DisplayActor, display, lane=lane.id, shop_name=config.shop.name,
                                      locale=config.shop.locale, publisher=publishers[lane_addresses[lane.id].name],
                                      is_open=partial(_lane_open, open_sessions, lane.id),
                                      on_state=partial(keep_state, device_states), journal=journal, clock=clock)
                    await middle.start(supervise, address.name, factory, inbox, DEVICE_POLICY)
                    displays[lane.id] = address
                # A cash drawer per lane (a device: a crash restarts it, never stalls the
                # lane). It tells the lane's sessions of alerts (through the publisher).
                drawers: dict[str, Address] = {}
                for lane in config.lanes:
                    address, inbox = open_mailbox(f"drawer:{lane.id}")
                    factory = partial(DrawerActor, lane.id, config=config, journal=journal, clock=clock,
                                      printer=printers.get(lane.printer) if lane.printer else None,
                                      publisher=publishers[lane_addresses[lane.id].name])
                    await middle.start(supervise, address.name, factory, inbox, DEVICE_POLICY)
                    drawers[lane.id] = address
                # Head office's holds on credit and wallet (actors/hq_holds.py): the lanes and
                # the customers actor (money given back off a wallet) ask through it.
                hq_holds = None
                if config.head_office.dsn:
                    from laneserver.actors.hq_holds import HoldStats, HqHolds

                    hq_holds = HqHolds(config.head_office, journal=journal, clock=clock, stats=HoldStats())
                # The customers actor (credit, wallet, vouchers): before the lanes, which
                # report their holds on it when they start. Its holds outlive a restart.
                customers, customers_inbox = open_mailbox("customers", 64)
                factory = partial(
                    CustomersActor, journal=journal, config=config, clock=clock,
                    modes=tuple(payment_policy(config).mode_ids), holds={}, coupon_holds={},
                    printers={lane.id: printers[lane.printer] for lane in config.lanes
                              if lane.printer and lane.printer in printers},
                    drawers=drawers, article_name=partial(_article_name, catalog), hq_holds=hq_holds,
                )
                await middle.start(partial(supervise, on_stopped=partial(_actor_stopped, journal, clock, out_of_service, None)),
                                   "customers", factory, customers_inbox, CORE_POLICY)
                # Shipping the journal to head office ([head_office] dsn): its own thread and
                # connections; a device (a crash restarts it, nothing waits on it). After the
                # customers actor: it applies head office's customers through it.
                # psycopg is imported only then (half a second of a start-up on a busy box).
                shippers: list[Address] = []
                if config.head_office.dsn:
                    from laneserver.actors.shipper import MAILBOX as SHIPPER_MAILBOX
                    from laneserver.actors.shipper import ShipperActor, ShipperStats

                    shipper_stats = ShipperStats()
                    shipper, shipper_inbox = open_mailbox("shipper", SHIPPER_MAILBOX)
                    factory = partial(ShipperActor, data_dir, config.head_office, journal=journal, clock=clock,
                                      stats=shipper_stats, apply_catalog=outbox.apply_catalog,
                                      customers=customers)
                    await middle.start(supervise, "shipper", factory, shipper_inbox, DEVICE_POLICY)
                    shippers.append(shipper)
                # The holds' actor tells head office the settles and releases (and renews).
                holders: list[Address] = []
                if hq_holds is not None:
                    from laneserver.actors.hq_holds import MAILBOX as HOLDS_MAILBOX
                    from laneserver.actors.hq_holds import HqHoldsActor

                    holds_address, holds_inbox = open_mailbox("hq_holds", HOLDS_MAILBOX)
                    await middle.start(supervise, "hq_holds", partial(HqHoldsActor, hq_holds), holds_inbox,
                                       DEVICE_POLICY)
                    holders.append(holds_address)
                # The sales actor: finished sales corrected, cancelled or paid later, from any till.
                sales, sales_inbox = open_mailbox("sales", 64)
                factory = partial(SalesActor, journal=journal, config=config, clock=clock,
                                  modes=tuple(payment_policy(config).mode_ids), customers=customers,
                                  stock_points=points, drawers=drawers,
                                  printers={lane.id: printers[lane.printer] for lane in config.lanes
                                            if lane.printer and lane.printer in printers},
                                  hq_holds=hq_holds)
                await middle.start(partial(supervise, on_stopped=partial(_actor_stopped, journal, clock, out_of_service, None)),
                                   "sales", factory, sales_inbox, CORE_POLICY)

                # Quotes, orders, delivery notes (actors/documents.py): before the lanes, which
                # hand it their tickets; it tells the stock points what the open orders hold.
                documents, documents_inbox = open_mailbox("documents", 64)
                factory = partial(DocumentsActor, journal=journal, clock=clock, points=points,
                                  takes=StockTakes(catalog.get).takes, invoices=invoices)
                await middle.start(partial(supervise, on_stopped=partial(_actor_stopped, journal, clock, out_of_service, None)),
                                   "documents", factory, documents_inbox, CORE_POLICY)

                # Layer 1 (first to stop): the lanes, and the HTTP listener.
                async with trio.open_nursery() as front:
                    for lane in config.lanes:
                        publisher = publishers[lane_addresses[lane.id].name]
                        factory = partial(
                            LaneActor, lane.id, config=config, journal=journal, catalog=catalog,
                            stock=points[config.stock_point_of(lane.id)],
                            costs=lane_costs[lane.id],
                            printer=printers.get(lane.printer) if lane.printer else None,
                            clock=clock, publisher=publisher,
                            drawer=drawers[lane.id], customers=customers,
                            terminal=terminals.get(lane.terminal) if lane.terminal else None,
                            invoices=invoices, display=displays.get(lane.id), documents=documents,
                            hq_holds=hq_holds,
                            run_id=secrets.token_hex(8),  # this run's: shared by the actor's restarts (actors/lane.py)
                        )
                        stopped = partial(_lane_stopped, displays.get(lane.id),
                                          partial(_actor_stopped, journal, clock, out_of_service, publisher))
                        await front.start(partial(supervise, on_stopped=stopped), f"lane:{lane.id}", factory,
                                          lane_inboxes[lane.id], CORE_POLICY)
                    # Closing (X, Z): after the lanes, which it asks before a day's Z. At start
                    # it closes the earlier days left unclosed (each its own Z).
                    fiscal, fiscal_inbox = open_mailbox("fiscal", 16)
                    factory = partial(FiscalActor, config=config, journal=journal, clock=clock, zone=zone,
                                      lanes=lane_addresses,
                                      printers={lane.id: printers[lane.printer] for lane in config.lanes
                                                if lane.printer and lane.printer in printers})
                    await front.start(partial(supervise, on_stopped=partial(_actor_stopped, journal, clock,
                                                                            out_of_service, None)),
                                      "fiscal", factory, fiscal_inbox, CORE_POLICY)
                    shop = Shop(config=config, clock=clock, journal=journal, catalog=catalog,
                                lanes=lane_addresses, stock_points=points, terminals=terminals,
                                data_folder=data_dir, out_of_service=out_of_service, publishers=publishers,
                                open_sessions=open_sessions, displays=displays, device_states=device_states)
                    shop.metrics.gauges["articles"] = lambda: len(catalog)
                    shop.metrics.gauges["actors_out_of_service"] = lambda: len(out_of_service)
                    shop.metrics.gauges["backups_failed"] = lambda: backup_status.failures
                    if shippers:
                        register_shipper_metrics(shop, shipper_stats)
                    if hq_holds is not None:
                        register_hold_metrics(shop, hq_holds.stats)
                        shop.hold_stats = hq_holds.stats
                        shop.hq_holds = hq_holds
                    shop.keyboard_layout = await read(journal, catalog_meta.keyboard)
                    shop.keyboard = keyboard_views(config, catalog, shop.keyboard_layout)
                    shop.catalog_version = catalog_version
                    shop.drawers = drawers
                    shop.customers = customers
                    shop.sales = sales
                    shop.fiscal = fiscal
                    shop.documents = documents
                    shop.started = started
                    shop.started_at = clock.now().astimezone(dt.timezone.utc).isoformat(timespec="seconds")
                    shop.printers_online = printers_online
                    # The lanes' scanners (and below, the cradles): once the shop is there (a code goes to the lane
                    # through the edge, server/devices.py), before the listener.
                    scanners: list[Address] = []
                    for lane in config.lanes:
                        for scanner_id in lane.scanners:
                            scanner = config.scanner(scanner_id)
                            assert scanner is not None  # config.py checks each lane's scanners
                            address, inbox = open_mailbox(f"scanner:{scanner.id}", SCANNER_MAILBOX)
                            factory = partial(ScannerActor, scanner, lane=lane.id,
                                              deliver=partial(deliver_code, shop, lane.id, scanner.id),
                                              on_state=partial(keep_state, device_states), journal=journal,
                                              clock=clock)
                            await front.start(supervise, address.name, factory, inbox, DEVICE_POLICY)
                            scanners.append(address)
                    # The cradles: their baskets go to a lane through the edge too.
                    for cradle in config.cradles:
                        address, inbox = open_mailbox(f"cradle:{cradle.id}", CRADLE_MAILBOX)
                        to_lane = cradle_lane(config, cradle)
                        factory = partial(CradleActor, cradle, lane=to_lane,
                                          deliver=partial(deliver_basket, shop, cradle, to_lane), journal=journal,
                                          on_state=partial(keep_state, device_states), clock=clock)
                        await front.start(supervise, address.name, factory, inbox, DEVICE_POLICY)
                        scanners.append(address)
                    register_device_metrics(shop)
                    register_metrics(shop, journal_stats, {a.name: a for a in (
                        journal, customers, sales, invoices, *lane_addresses.values(), *points.values(),
                        *printers.values(), *terminals.values(), *drawers.values(), *displays.values(), *scanners)})
                    collector = Collector(lambda: shop.metrics.frames_in)  # server/collector.py
                    shop.metrics.gauges.update(gc_frozen_objects=gc.get_freeze_count,
                                               gc_full_collections=lambda: collector.full)
                    async with trio.open_nursery() as watching:  # revoke / disable reach open sessions
                        watching.start_soon(watch_access, shop)
                        watching.start_soon(watch_catalog, shop)  # a live `catalog import`
                        watching.start_soon(collector.run)  # what the shop makes frozen each second
                        await _serve_http(shop, host or server_config.host,
                                          server_config.port if port is None else port, stop, on_ready, tls_files)
                        watching.cancel_scope.cancel()
                    # Listener closed: no new requests reach the lanes.
                    _close_all([*scanners, *lane_addresses.values(), fiscal], front, server_config.shutdown_grace)
                for drawer in drawers.values():
                    drawer.close()
                _close_all([documents, sales, customers, invoices, backups, *shippers, *holders, *points.values(), *printers.values(), *terminals.values(),
                            *displays.values()], middle,
                           server_config.shutdown_grace)
            journal.close()
        root.cancel_scope.cancel()
    systemd.notify("STATUS=stopped")
    log.info("server_stopped")


async def _actor_stopped(journal: Address, clock: Clock, out_of_service: set[str], publisher: Publisher | None,
                         name: str, error: BaseException) -> None:
    """A core actor crashed past its restart budget and stays stopped (runtime.supervise).

    It joins ``out_of_service`` (``/healthz``, ``/metrics``); a lane's tills
    (its ``publisher``) are told with a ``lane_status`` event; a technical-journal entry
    (``actor_stopped``) says which actor and why. Its mailbox then answers every
    request ``unavailable`` (session.py) until the service restarts.
    """
    out_of_service.add(name)
    if publisher is not None:
        publisher.publish(encode(wire.LaneStatusEvent(lane=name.partition(":")[2], serving=False,
                                                      reason=out_of_service_message(name))), "lane_status")
    try:
        with trio.fail_after(5):
            await commit(journal, RecordEvent(at=clock.now(), source=name, kind="actor_stopped",
                                              data={"actor": name, "error": repr(error)}))
    except (CommitFailed, ActorFailed, trio.TooSlowError) as failed:
        log.error("actor_stopped_not_journaled", actor=name, error=repr(failed))


def _lane_open(sessions: set, lane: str) -> bool:
    """Whether a seller is signed in on one of ``lane``'s tills (a display's ``is_open``)."""
    return lane_seller(sessions, lane) is not None


async def _lane_stopped(display: Address | None, stopped: Callable, name: str, error: BaseException) -> None:
    """A lane out of service: its display says the lane is closed, then ``_actor_stopped``."""
    if display is not None:
        display.tell_nowait(LaneOpen(False))
    await stopped(name, error)


def _article_name(catalog: Catalog, article_id: str) -> str:
    article = catalog.get(article_id)
    return article.name if article is not None else article_id


async def _build_name_index(catalog: Catalog) -> None:
    """Build the catalog's name index in a worker thread and attach it.

    Cancellation: abandoned on shutdown (the thread only computes; nothing is
    written), so a stop never waits for it.
    """
    started = trio.current_time()
    version = catalog.version
    index = await trio.to_thread.run_sync(catalog.build_name_index, abandon_on_cancel=True)
    if catalog.version != version:
        return  # a live import replaced the catalog meanwhile, with an index of its own
    catalog.set_name_index(index)
    log.info("catalog_search_ready", articles=len(catalog), seconds=round(trio.current_time() - started, 2))


def _close_all(addresses, nursery: trio.Nursery, grace: float) -> None:
    for address in addresses:
        address.close()
    nursery.cancel_scope.deadline = trio.current_time() + grace


def _printer_status(lanes: list[Address], config: Config, online: dict[str, bool], drawer_lane: Address | None,
                    last: dict, status: PrinterStatus) -> None:
    """A printer's status to the lanes it serves (``printer`` events), and its drawer
    sensor to the lane whose drawer it reads, when that changed (``drawer_sensor`` events).
    ``last`` keeps the drawer state last told (one dict per printer)."""
    online[status.printer] = status.online
    for lane in lanes:
        frame = encode(wire.PrinterEvent(lane=lane.name.split(":", 1)[1], printer=status.printer,
                                         online=status.online, pending=status.pending, error=status.error,
                                         status=wire_status(status)))
        lane.tell_nowait(DeviceStatus(frame))
    if drawer_lane is None:
        return
    drawer = (status.drawer_open, status.drawer_left_open)
    if last.get("drawer") != drawer:
        last["drawer"] = drawer
        frame = encode(wire.DrawerSensorEvent(lane=drawer_lane.name.split(":", 1)[1], open=status.drawer_open,
                                        left_open=status.drawer_left_open))
        drawer_lane.tell_nowait(DeviceStatus(frame, kind="drawer_sensor"))


async def _serve_http(shop: Shop, host: str, port: int, stop: trio.Event,
                      on_ready: Callable[[Shop, list[str]], None] | None,
                      tls_files: tuple[Path, Path] | None = None) -> None:
    server_config = shop.config.server
    # Its listening sockets carry the send deadline: a peer that never reads is let go
    # (send_timeout.py: Hypercorn's sends cannot be cancelled).
    hconfig = SendBoundedConfig()
    hconfig.bind = [f"{host}:{port}"]
    if tls_files is not None:  # HTTPS and WSS on the same port (Hypercorn's SSL context, TLS 1.2 at least)
        hconfig.certfile, hconfig.keyfile = (str(path) for path in tls_files)
        # A connection that never finishes its handshake holds a file as long as this
        # (Hypercorn's default is 60 s): as long as a websocket may wait for hello.
        hconfig.ssl_handshake_timeout = server_config.hello_timeout
    hconfig.graceful_timeout = server_config.shutdown_grace
    # What one connection may buffer: a websocket message a little over the largest
    # frame the session accepts (which answers a larger one with bad_request), and the
    # HTTP request head.
    hconfig.websocket_max_message_size = server_config.max_frame_bytes + 1024
    hconfig.h11_max_incomplete_size = 16 * 1024
    hconfig.accesslog = None
    hconfig.errorlog = None
    # Each connection runs inside the edge (http_edge.py): its failures stay in it, and
    # the open-file limit (raised to the hard limit here) bounds how many are open.
    edge = Edge(capacity=connection_capacity(), max_unauthenticated=server_config.max_unauthenticated)
    app = build_app(shop, edge, host_names(server_config.allowed_hosts, host))
    shop.metrics.gauges.update(connections_open=lambda: edge.open, connections_failed=lambda: edge.failed,
                               connections_shed=lambda: edge.shed,
                               websockets_unauthenticated=lambda: edge.unauthenticated,
                               websockets_waiting=lambda: edge.waiting,
                               websockets_waited_out=lambda: edge.waited_out,
                               sign_ins_recalled=lambda: shop.pins.recalled)

    async def shutdown_trigger() -> None:
        await stop.wait()
        # Requests already in a lane finish (the lanes drain after this); the
        # sessions end now, and their browsers reconnect to the next server.
        shop.close_sessions()
        systemd.notify("STOPPING=1")
        log.info("server_stopping")

    http_done = trio.Event()

    async def http_task(*, task_status=trio.TASK_STATUS_IGNORED) -> None:
        try:
            await serve_http(app, hconfig, edge, shutdown_trigger=shutdown_trigger, task_status=task_status)
        finally:
            http_done.set()

    async with trio.open_nursery() as http:
        binds = await http.start(http_task)
        await http.start(systemd.watchdog, partial(_is_healthy, shop))
        systemd.notify("READY=1")
        systemd.notify(f"STATUS=serving {', '.join(binds)}")
        log.info("server_ready", urls=binds, connections=edge.capacity)
        shop.urls = list(binds)
        if on_ready is not None:
            on_ready(shop, binds)
        # Hypercorn returns once ``stop`` is set, its listener is closed and
        # the open connections are done (or their grace ran out).
        await http_done.wait()
        http.cancel_scope.cancel()  # the watchdog


async def _is_healthy(shop: Shop) -> bool:
    return await healthy(shop, within=5.0) is not None


async def _stop_on_signal(stop: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("signal_received", signal=signal.Signals(signum).name)
            stop.set()
            return
