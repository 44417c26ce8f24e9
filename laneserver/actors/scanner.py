"""The scanner actor: one per barcode scanner, bound to a lane.

Three tasks in the actor's own nursery:

* the reader opens the scanner (a serial port, or a USB HID POS device: hw/device_links.py),
  reads what comes and turns it into codes (hw/scanner_input.py);
* the deliverer hands each code to ``deliver``: the edge's (server/devices.py), which
  makes it a ``scan`` on the lane by the lane's signed-in seller, exactly as a till's
  ``scan`` (or tells the lane's tills why not);
* the command loop answers ``GetDeviceState``.

Invariants:
  - the reader never waits on the lane: codes go to the deliverer through a bounded
    channel (``QUEUE``), and at most ``MAX_CODES_PER_SECOND`` are passed on in any
    second; a code past either bound is dropped and counted (``dropped``), with a
    warning at most every ``WARN_EVERY`` seconds (a flooding scanner cannot flood the
    log either);
  - hostile input (a code too long, control bytes, binary noise) is refused by the
    framer and counted (``refused``), never passed on, never a crash;
  - a scanner absent at start or pulled out is a state (``up`` False), never an
    exception, and one ``device_failure`` entry of the technical event journal
    (actors/device_failure.py; not one per retry): it is opened again after a backoff; what a pulled scanner had half
    sent is dropped with its framer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
import trio

from laneserver.actors.device_failure import record_device_failure
from laneserver.actors.device_loop import serve_state
from laneserver.actors.device_messages import DeviceState
from laneserver.actors.runtime import Address
from laneserver.clock import Clock, SystemClock
from laneserver.config import ScannerConfig
from laneserver.hw.device_links import Link, LinkDown, SerialLink, UsbHidLink
from laneserver.hw.scanner_input import Code, HidAssembler, Refused, SerialFramer
from laneserver.log import get_logger

MAILBOX = 4
QUEUE = 8
MAX_CODES_PER_SECOND = 25
WARN_EVERY = 10.0
RETRY_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0


def open_link(config: ScannerConfig) -> Link:
    return UsbHidLink(config.address) if config.kind == "usb" else SerialLink(config.address)


class ScannerActor:
    """The device actor of one scanner."""

    def __init__(
        self,
        config: ScannerConfig,
        *,
        lane: str,
        deliver: Callable[[str], Awaitable[None]],
        link: Link | None = None,
        on_state: Callable[[DeviceState], None] = lambda state: None,
        retry: float = RETRY_SECONDS,
        journal: Address | None = None,
        clock: Clock | None = None,
    ) -> None:
        """
        Args:
            config: the scanner (``id``, ``kind``, ``address``, ``suffix``, ``framing``,
                ``max_length``).
            lane: the lane its codes go to.
            deliver: hands one code to the lane (the edge's); it owns its timeout and
                never raises for a refused code.
            link: its port; built from ``config`` when omitted.
            on_state: called with the new state at each change; quick, never blocking.
            retry: the first backoff before opening the scanner again.
            journal: where a failure is recorded (the JET's ``device_failure``); none: not recorded.
            clock: the wall clock of those entries.
        """
        self._config = config
        self._journal = journal
        self._clock = clock if clock is not None else SystemClock()
        self._failure_recorded = False  # this failure's entry is written: no more until it is up again
        self._deliver = deliver
        self._link = link if link is not None else open_link(config)
        self._on_state = on_state
        self._retry = retry
        self._state = DeviceState(device=config.id, kind="scanner", lane=lane, address=config.address)
        self._log = get_logger("scanner", scanner=config.id, lane=lane)
        self._codes_send, self._codes = trio.open_memory_channel[str](QUEUE)
        self._second = -1.0  # the start of the current second (trio time) and codes in it
        self._in_second = 0
        self._warned: dict[str, float] = {}

    @property
    def state(self) -> DeviceState:
        return self._state

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve ``inbox`` until it is closed, reading the scanner in the background.

        Raises:
            ExceptionGroup: a bug, so the supervisor restarts the actor. Never for a
                scanner that is absent, pulled out or sending garbage.

        Cancellation: stops at once; codes read and not yet delivered are lost.
        """
        self._log.info("scanner_started", kind=self._config.kind, address=self._config.address)
        self._on_state(self._state)
        try:
            await serve_state(inbox, f"scanner {self._config.id}", lambda: self._state, (self._reader, self._deliverer),
                              self._link, task_status)
        finally:
            state = self._state
            self._log.info("scanner_stopped", codes=state.codes, refused=state.refused, dropped=state.dropped)

    def _framer(self) -> SerialFramer | HidAssembler:
        config = self._config
        if config.kind == "usb":
            return HidAssembler(max_length=config.max_length)
        return SerialFramer(suffix=config.suffix, stx_etx=config.framing == "stx_etx", max_length=config.max_length)

    async def _reader(self) -> None:
        backoff = self._retry
        while True:
            try:
                await self._link.open()
                self._came_up()
                backoff = self._retry
                framer = self._framer()  # what was half read before is gone with the old one
                while True:
                    chunk = await self._link.read()
                    if chunk:
                        for event in framer.feed(chunk):
                            self._take(event)
            except LinkDown as down:
                self._went_down(down.reason)
                await self._link.close()
                if not self._failure_recorded:
                    self._failure_recorded = True
                    await record_device_failure(self._journal, self._clock, device=f"scanner:{self._config.id}",
                                                reason=down.reason, lane=self._state.lane, log=self._log)
                await trio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_SECONDS)

    def _take(self, event: Code | Refused) -> None:
        if isinstance(event, Refused):
            self._set_state(refused=self._state.refused + 1)
            self._warn("scanner_code_refused", reason=event.reason, size=event.size)
            return
        now = trio.current_time()
        if now - self._second >= 1.0:
            self._second, self._in_second = now, 0
        self._in_second += 1
        if self._in_second > MAX_CODES_PER_SECOND:
            self._dropped(f"more than {MAX_CODES_PER_SECOND} codes in a second")
            return
        try:
            self._codes_send.send_nowait(event.text)
        except trio.WouldBlock:
            self._dropped("the lane has not taken the codes before it")
            return
        self._set_state(waiting=self._codes_send.statistics().current_buffer_used)

    def _dropped(self, why: str) -> None:
        self._set_state(dropped=self._state.dropped + 1)
        self._warn("scanner_codes_dropped", why=why)

    async def _deliverer(self) -> None:
        async for code in self._codes:
            self._set_state(waiting=self._codes_send.statistics().current_buffer_used)
            await self._deliver(code)
            self._set_state(codes=self._state.codes + 1)

    def _warn(self, event: str, **fields) -> None:
        """A warning, at most once every ``WARN_EVERY`` seconds per kind, with the counts."""
        now = trio.current_time()
        last = self._warned.get(event)
        if last is None or now - last >= WARN_EVERY:
            self._warned[event] = now
            self._log.warning(event, refused=self._state.refused, dropped=self._state.dropped, **fields)

    def _came_up(self) -> None:
        if not self._state.up:
            self._log.info("scanner_up")
        self._failure_recorded = False
        self._set_state(up=True, error=None)

    def _went_down(self, reason: str) -> None:
        if self._state.up or reason != self._state.error:
            self._log.warning("scanner_down", reason=reason)
        self._set_state(up=False, error=reason)

    def _set_state(self, **changes) -> None:
        self._state = msgspec.structs.replace(self._state, **changes)
        self._on_state(self._state)
