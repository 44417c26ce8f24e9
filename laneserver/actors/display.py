"""The customer display actor: one per pole display, showing its lane to the customer.

Two tasks share the actor's state, both in its own nursery:

* the command loop reads the mailbox: the lane's ``ShowTicket`` after each change,
  the edge's ``LaneOpen`` when the lane's last seller signs out or one signs in,
  ``GetDeviceState``. It only notes what to show (rules/customer_display.py
  ``Shown``) and wakes the writer: it never waits on the display, so the mailbox is
  drained as fast as the lane fills it;
* the writer opens the port (hw/device_links.py), sends the opening bytes and the
  screen now, then each newer screen (hw/pole_display.py).

Invariants:
  - only the newest screen is ever written: updates that come while the display is
    busy or down replace each other (counted in ``skipped``), they never queue;
  - a display that is absent or pulled out is a state (``up`` False, its reason in
    ``error``), never an exception, and one ``device_failure`` entry of the technical
    event journal (actors/device_failure.py; not one per retry): the port is opened
    again after a backoff
    (``RETRY_SECONDS`` doubling to ``RETRY_MAX_SECONDS``), and when it comes back it
    gets the opening bytes and the current screen at once;
  - the screen is written again every ``refresh`` seconds while nothing changes: a
    display switched off and on shows the lane again, and a pulled cable is noticed
    even when the lane is idle;
  - the lane only ever tells this actor with ``tell_nowait``: a display that is slow,
    gone or crashed never holds a lane up. A restarted actor starts from the lane's
    newest ticket (its publisher keeps it) and the lane's open state (``is_open``);
  - when the mailbox is closed (the server stops), "closed" is shown if the display
    is up, within a second.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import trio

from laneserver.actors.device_failure import record_device_failure
from laneserver.actors.device_messages import DeviceState, GetDeviceState, LaneOpen, ShowTicket
from laneserver.actors.publisher import Publisher
from laneserver.actors.runtime import Address
from laneserver.clock import Clock, SystemClock
from laneserver.config import DisplayConfig
from laneserver.hw.device_links import Link, LinkDown, SerialLink
from laneserver.hw.pole_display import CODECS, opening, render
from laneserver.log import get_logger
from laneserver.rules import customer_display as rules

MAILBOX = 8
RETRY_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0
REFRESH_SECONDS = 30.0
CLOSING_SECONDS = 1.0


class DisplayActor:
    """The device actor of one customer display."""

    def __init__(
        self,
        config: DisplayConfig,
        *,
        lane: str,
        shop_name: str,
        locale: str = "fr",
        link: Link | None = None,
        publisher: Publisher | None = None,
        is_open: Callable[[], bool] = lambda: True,
        on_state: Callable[[DeviceState], None] = lambda state: None,
        refresh: float = REFRESH_SECONDS,
        retry: float = RETRY_SECONDS,
        journal: Address | None = None,
        clock: Clock | None = None,
    ) -> None:
        """
        Args:
            config: the display (``id``, ``protocol``, ``address``).
            lane: the lane it shows.
            shop_name: the greeting's first row.
            locale: the words' language (``[shop] locale``: ``fr``, ``en``).
            link: its port; a ``SerialLink`` on ``config.address`` when omitted.
            publisher: the lane's publisher: its newest ticket is what a (re)started
                display shows first.
            is_open: whether a seller is signed in on the lane now (the edge knows).
            on_state: called with the new state at each change; quick, never blocking.
            refresh: seconds between two writes of an unchanged screen.
            retry: the first backoff before opening the port again.
            journal: where a failure is recorded (the JET's ``device_failure``); none: not recorded.
            clock: the wall clock of those entries.
        """
        self._config = config
        self._journal = journal
        self._clock = clock if clock is not None else SystemClock()
        self._failure_recorded = False  # this failure's entry is written: no more until it is up again
        self._protocol = config.protocol
        self._codec = CODECS[config.protocol]
        self._lane = lane
        self._shop_name = shop_name
        self._locale = locale
        self._link = link if link is not None else SerialLink(config.address)
        newest = publisher.newest() if publisher is not None else None
        self._shown = rules.Shown(ticket=getattr(newest, "ticket", None), open=is_open())
        self._on_state = on_state
        self._refresh = refresh
        self._retry = retry
        self._changed = trio.Event()
        self._pending = False
        self._state = DeviceState(device=config.id, kind="display", lane=lane, address=config.address)
        self._log = get_logger("display", display=config.id, lane=lane)

    @property
    def state(self) -> DeviceState:
        return self._state

    def screen(self) -> rules.Screen:
        """The screen for what the display knows now."""
        return rules.screen(self._shown, shop_name=self._shop_name, codec=self._codec, locale=self._locale)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve ``inbox`` until it is closed, writing to the display in the background.

        Raises:
            ExceptionGroup: a bug, so the supervisor restarts the actor. Never for a
                display that is absent or pulled out.

        Cancellation: stops at once; the port is closed (in its worker thread).
        """
        self._log.info("display_started", protocol=self._protocol, address=self._config.address)
        self._on_state(self._state)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._writer)
                task_status.started()
                await self._serve(inbox)
                nursery.cancel_scope.cancel()
            await self._say_closed()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(CLOSING_SECONDS):
                await self._link.close()
            self._log.info("display_stopped", screens=self._state.screens, skipped=self._state.skipped)

    async def _serve(self, inbox: trio.MemoryReceiveChannel) -> None:
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case ShowTicket(ticket=ticket, sale=sale):
                        self._show(rules.shown_after(self._shown, ticket, sale))
                    case LaneOpen(open=is_open):
                        self._show(msgspec.structs.replace(self._shown, open=is_open))
                    case GetDeviceState():
                        envelope.reply(self._state)
                    case other:
                        raise TypeError(f"display {self._config.id} got {other!r}")

    def _show(self, shown: rules.Shown) -> None:
        self._shown = shown
        if self._pending:  # the one waiting is replaced before it was shown
            self._set_state(skipped=self._state.skipped + 1)
        self._pending = True
        self._changed.set()

    async def _writer(self) -> None:
        backoff = self._retry
        while True:
            try:
                await self._link.open()
                self._pending = False
                screen = self.screen()
                await self._link.write(opening(self._protocol) + render(screen, self._protocol))
                self._came_up()
                backoff = self._retry
                await self._keep_showing(screen)
            except LinkDown as down:
                self._went_down(down.reason)
                await self._link.close()
                if not self._failure_recorded:
                    self._failure_recorded = True
                    await record_device_failure(self._journal, self._clock, device=f"display:{self._config.id}",
                                                reason=down.reason, lane=self._lane, log=self._log)
                await trio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_SECONDS)

    async def _keep_showing(self, shown: rules.Screen) -> None:
        """Each newer screen, and the same one again every ``refresh`` seconds.

        Raises:
            LinkDown: a write failed.
        """
        while True:
            # A fresh event before looking: a change from here on, even during the
            # write, wakes the next wait.
            self._changed = trio.Event()
            if not self._pending:
                with trio.move_on_after(self._refresh):
                    await self._changed.wait()
            self._pending = False
            screen = self.screen()
            await self._link.write(render(screen, self._protocol))
            if screen != shown:
                self._set_state(screens=self._state.screens + 1)
            shown = screen

    async def _say_closed(self) -> None:
        """The server stops: "closed" on a display that is up (bounded)."""
        if not self._state.up:
            return
        self._shown = msgspec.structs.replace(self._shown, open=False)
        with trio.move_on_after(CLOSING_SECONDS):
            try:
                await self._link.write(render(self.screen(), self._protocol))
            except LinkDown:
                pass  # going away anyway

    def _came_up(self) -> None:
        if not self._state.up:
            self._log.info("display_up")
        self._failure_recorded = False
        self._set_state(up=True, error=None, screens=self._state.screens + 1)

    def _went_down(self, reason: str) -> None:
        if self._state.up or reason != self._state.error:
            self._log.warning("display_down", reason=reason)
        self._set_state(up=False, error=reason)

    def _set_state(self, **changes) -> None:
        self._state = msgspec.structs.replace(self._state, **changes)
        self._on_state(self._state)
