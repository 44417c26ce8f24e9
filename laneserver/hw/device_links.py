"""Links to the lane devices that stay open: a customer display and scanners.

A link is opened once and kept while it works (a printer's transport opens per job,
hw/printer_io.py; a scanner must be listened to all the time). Its methods are
``open``, ``write``, ``read`` and ``close``; every failure of the device — missing,
unplugged, busy, broken — is one exception, ``LinkDown``, and the device actor
(actors/display.py, actors/scanner.py) answers it the same way: close, say the device
is down, open it again after a backoff. Anything else escaping is a bug.

Invariants:
  - nothing blocks the event loop: pyserial and pyusb calls run in a worker thread
    through ``trio.to_thread.run_sync`` with the link's own ``CapacityLimiter(1)``
    (one call at a time per device; made with the link, so by the device actor that
    owns it);
  - every call is bounded: a read returns after ``READ_SECONDS`` with what came (maybe
    nothing), a write gives up after ``WRITE_SECONDS``; so cancelling a device actor
    never waits long on a thread.

``MemoryLink`` is a link with no device behind it, for tests and for trying a shop
file on a machine without the hardware: bytes written are kept, bytes to read are
fed in, and it can be unplugged and plugged back.
"""

from __future__ import annotations

import contextlib
import termios
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import serial
import trio

READ_SECONDS = 0.2
WRITE_SECONDS = 2.0
READ_SIZE = 4096
HID_REPORT_SIZE = 64
DEFAULT_BAUDRATE = 9600

T = TypeVar("T")


class LinkDown(Exception):
    """The device cannot be reached now; ``reason`` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Link(Protocol):
    address: str

    async def open(self) -> None: ...

    async def write(self, data: bytes) -> None: ...

    async def read(self) -> bytes: ...

    async def close(self) -> None: ...


def serial_port(address: str) -> tuple[str, int]:
    """``"/dev/ttyUSB0:19200"`` → ``("/dev/ttyUSB0", 19200)``; 9600 baud when not said."""
    port, colon, baud = address.rpartition(":")
    if colon and baud.isascii() and baud.isdigit() and int(baud) > 0:
        return port, int(baud)
    return address, DEFAULT_BAUDRATE


def usb_ids(address: str) -> tuple[int, int]:
    """``"0x05e0:0x1200"`` → ``(0x05E0, 0x1200)``.

    Raises:
        ValueError: not two hexadecimal ids separated by ``:``.
    """
    vendor, _, product = address.partition(":")
    return int(vendor, 16), int(product, 16)


class _Threaded:
    def __init__(self, address: str) -> None:
        self.address = address
        self._limiter = trio.CapacityLimiter(1)  # one call at a time on this device

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker thread.

        Raises:
            LinkDown: it raised ``OSError`` (pyserial's ``SerialException`` is one),
                ``termios.error`` (a port setting refused: pyserial does not wrap it
                when it reconfigures the port it opens) or pyusb's ``USBError``, or took
                longer than ``WRITE_SECONDS`` + 1.

        Cancellation: immediate; the thread finishes on its own (each call is bounded)
        and holds the limiter until it does.
        """
        try:
            with trio.fail_after(WRITE_SECONDS + 1):
                return await trio.to_thread.run_sync(function, *args, limiter=self._limiter,
                                                     abandon_on_cancel=True)
        except trio.TooSlowError:
            raise LinkDown(f"{self.address}: no answer within {WRITE_SECONDS + 1:g} s") from None
        except OSError as error:
            raise LinkDown(f"{self.address}: {_describe(error)}") from error
        except termios.error as error:  # pyserial lets a refused port setting through as is
            raise LinkDown(f"{self.address}: the port refused its settings: {error}") from error
        except Exception as error:
            if type(error).__module__.startswith("usb"):  # usb.core.USBError, NoBackendError
                raise LinkDown(f"{self.address}: USB: {error}") from error
            raise


class SerialLink(_Threaded):
    """A serial port (8 data bits, 1 stop bit, no parity unless ``parity`` says
    ``"odd"`` or ``"even"``; no flow control), kept open."""

    def __init__(self, address: str, *, parity: str = "none") -> None:
        super().__init__(address)
        self.port, self.baudrate = serial_port(address)
        self.parity = {"none": serial.PARITY_NONE, "odd": serial.PARITY_ODD, "even": serial.PARITY_EVEN}[parity]
        self._link: serial.Serial | None = None

    async def open(self) -> None:
        await self.close()
        self._link = await self._call(self._open)

    def _open(self) -> serial.Serial:
        return serial.Serial(self.port, self.baudrate, parity=self.parity, timeout=READ_SECONDS,
                             write_timeout=WRITE_SECONDS)

    async def write(self, data: bytes) -> None:
        link = self._opened()
        await self._call(_write_all, link, data)

    async def read(self) -> bytes:
        """What came within ``READ_SECONDS`` (maybe nothing)."""
        link = self._opened()
        return await self._call(_read_some, link)

    async def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            try:
                await self._call(link.close)
            except LinkDown:
                pass  # closing a port that is gone: nothing left to do

    def _opened(self) -> serial.Serial:
        if self._link is None:
            raise LinkDown(f"{self.address}: not open")
        return self._link


def _write_all(link: serial.Serial, data: bytes) -> None:
    written = link.write(data)
    if written is not None and written < len(data):
        raise serial.SerialTimeoutException("write timeout")
    link.flush()


def _read_some(link: serial.Serial) -> bytes:
    """Up to ``READ_SIZE`` bytes waiting, or what comes within the timeout (maybe
    nothing). A port whose other end is gone (a pulled USB adapter, a pty whose master
    closed) raises ``SerialException`` (an ``OSError``)."""
    return link.read(min(max(link.in_waiting, 1), READ_SIZE))


class UsbHidLink(_Threaded):
    """A USB HID POS scanner through pyusb (libusb): its interrupt IN endpoint, one
    report per read. Writing is not needed (nothing is sent to a scanner)."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.vendor, self.product = usb_ids(address)
        self._device: Any = None
        self._endpoint: Any = None

    async def open(self) -> None:
        await self.close()
        self._device, self._endpoint = await self._call(self._open)

    def _open(self) -> tuple[Any, Any]:
        import usb.core  # pyusb: only USB scanners need it
        import usb.util

        device = usb.core.find(idVendor=self.vendor, idProduct=self.product)
        if device is None:
            raise LinkDown(f"{self.address}: USB scanner not found, unplugged, or not accessible")
        interface = device.get_active_configuration()[(0, 0)]
        if device.is_kernel_driver_active(interface.bInterfaceNumber):
            device.detach_kernel_driver(interface.bInterfaceNumber)
        usb.util.claim_interface(device, interface.bInterfaceNumber)
        endpoint = usb.util.find_descriptor(
            interface, custom_match=lambda e: usb.util.endpoint_direction(e.bEndpointAddress) == usb.util.ENDPOINT_IN)
        if endpoint is None:
            raise LinkDown(f"{self.address}: no input endpoint (not a HID POS scanner?)")
        return device, endpoint

    async def write(self, data: bytes) -> None:
        raise LinkDown(f"{self.address}: a USB scanner takes nothing")

    async def read(self) -> bytes:
        if self._endpoint is None:
            raise LinkDown(f"{self.address}: not open")
        return await self._call(self._read)

    def _read(self) -> bytes:
        import usb.core

        try:
            return bytes(self._endpoint.read(HID_REPORT_SIZE, timeout=int(READ_SECONDS * 1000)))
        except usb.core.USBTimeoutError:
            return b""

    async def close(self) -> None:
        device, self._device, self._endpoint = self._device, None, None
        if device is not None:
            import usb.util

            with contextlib.suppress(LinkDown):  # a device already gone has nothing to give back
                await self._call(usb.util.dispose_resources, device)


class MemoryLink:
    """A link with no device behind it (see the module's docstring).

    ``written`` is every byte written, in order; ``feed`` gives bytes to read (one
    ``read`` each); ``unplug`` makes every call fail with ``LinkDown`` until ``plug``.
    Reads wait for fed bytes (at most ``READ_SECONDS``, like a real port).
    """

    def __init__(self, address: str = "memory") -> None:
        self.address = address
        self.written = bytearray()
        self.plugged = True
        self.opened = 0  # times opened
        self._open = False
        self._chunks: list[bytes] = []
        self._fed = trio.Event()
        self.wrote = trio.Event()  # set at each write (a fresh one after)

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._fed.set()

    def unplug(self) -> None:
        self.plugged = False
        self._open = False
        self._fed.set()

    def plug(self) -> None:
        self.plugged = True

    async def open(self) -> None:
        await trio.lowlevel.checkpoint()
        self._check(opening=True)
        self._open = True
        self.opened += 1

    async def write(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint()
        self._check()
        self.written += data
        self.wrote.set()
        self.wrote = trio.Event()

    async def read(self) -> bytes:
        self._check()
        if not self._chunks:
            with trio.move_on_after(READ_SECONDS):
                await self._fed.wait()
            self._fed = trio.Event()
            self._check()
        if not self._chunks:
            return b""
        return self._chunks.pop(0)

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()
        self._open = False

    def _check(self, *, opening: bool = False) -> None:
        if not self.plugged:
            raise LinkDown(f"{self.address}: unplugged")
        if not opening and not self._open:
            raise LinkDown(f"{self.address}: not open")


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
