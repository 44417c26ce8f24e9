"""Getting print-job bytes to a printer: one transport per ``PrinterConfig.kind``.

A transport has one method, ``async def send(self, data: bytes) -> None``, which
delivers one complete job or raises ``PrinterUnavailable``. Every I/O failure is
mapped to that one exception (a printer that is off, unplugged, out of paper,
black-holed on the network, or a device node that is missing), because for the
printer actor they all mean the same thing: keep the job, report the printer
offline, try again later. Anything else escaping ``send`` is a bug.

Invariants:
  - nothing blocks the event loop: file, serial and USB I/O run in a worker
    thread, one at a time per transport (a ``CapacityLimiter(1)`` the transport
    owns), so two jobs never interleave on the wire;
  - every ``send`` is bounded in time (``timeout`` seconds, set per transport):
    a printer that never answers becomes ``PrinterUnavailable`` instead of a
    stuck actor;
  - a bad address is a configuration error: the constructors raise ``ValueError``
    naming it, at start-up, rather than failing on every job.

A job cut short by a failure may have printed in part; it is sent again whole.
A torn receipt followed by a complete one is the lesser evil next to a lost one.

Transports that can read the printer's answers (network, serial, USB) also have
``async def ask(self, data: bytes, count: int, wait: float) -> bytes``: send ``data``
(a job followed by a status request, or status requests alone) and return the up
to ``count`` bytes the printer answers within ``wait`` seconds of the send (fewer,
or none, when it does not answer: a printer that does not speak ``DLE EOT``, or one
that went away after the send). It raises ``PrinterUnavailable`` as ``send`` does.
The file transport cannot read: a file printer's status is never known.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol

import serial
import trio


NETWORK_TIMEOUT = 5.0
#: Local links are slow (a receipt at 9600 baud takes a couple of seconds) but a
#: write that has not finished after this long is not going to.
LOCAL_TIMEOUT = 30.0
DEFAULT_BAUDRATE = 9600


class PrinterUnavailable(Exception):
    """The printer cannot take the job now; ``reason`` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Transport(Protocol):
    async def send(self, data: bytes) -> None: ...


class AskingTransport(Transport, Protocol):
    async def ask(self, data: bytes, count: int, wait: float) -> bytes: ...


class PrinterPlace(Protocol):
    """Where a printer is (a ``[[printers]]`` entry, config.py ``PrinterConfig``): its id,
    ``kind`` and ``address``. Named by its shape, so this floor does not import the
    configuration's."""

    id: str
    kind: str
    address: str


def open_transport(config: PrinterPlace) -> Transport:
    """The transport for ``config.kind``, aimed at ``config.address``.

    Nothing is opened here: each ``send`` connects, writes and closes, so a
    printer that is switched off and on again needs no reconnection logic.

    Raises:
        ValueError: ``config.address`` does not fit ``config.kind``.
    """
    match config.kind:
        case "network":
            return NetworkTransport(config.address)
        case "file":
            return FileTransport(config.address)
        case "serial":
            return SerialTransport(config.address)
        case "usb":
            return UsbTransport(config.address)
    raise ValueError(f"printer {config.id!r}: unknown kind {config.kind!r}")


# -- addresses -----------------------------------------------------------------


def parse_network_address(address: str) -> tuple[str, int]:
    """``"192.168.1.50:9100"`` → ``("192.168.1.50", 9100)``; ``"[::1]:9100"`` too.

    Raises:
        ValueError: not ``host:port`` with a port in 1..65535.
    """
    host, _, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"printer address {address!r} is not host:port")
    return host, int(port)


def parse_serial_address(address: str) -> tuple[str, int]:
    """``"/dev/ttyUSB0:19200"`` → ``("/dev/ttyUSB0", 19200)``; the baud rate defaults to 9600.

    Raises:
        ValueError: no port, or a baud rate that is not a positive integer.
    """
    port, colon, baud = address.rpartition(":")
    if not colon:
        port, baud = address, ""
    if not port:
        raise ValueError(f"serial printer address {address!r} has no port")
    if not baud:
        return port, DEFAULT_BAUDRATE
    if not (baud.isascii() and baud.isdigit()) or int(baud) == 0:
        raise ValueError(f"serial printer address {address!r}: {baud!r} is not a baud rate")
    return port, int(baud)


def parse_usb_address(address: str) -> tuple[int, int]:
    """``"0x04b8:0x0202"`` (or ``"04b8:0202"``) → ``(0x04B8, 0x0202)``.

    Raises:
        ValueError: not two 16-bit hexadecimal ids separated by ``:``.
    """
    vendor, colon, product = address.partition(":")
    try:
        if not colon:
            raise ValueError
        ids = int(vendor, 16), int(product, 16)
    except ValueError:
        raise ValueError(f"USB printer address {address!r} is not vendor:product, e.g. 0x04b8:0x0202") from None
    if not all(0 < ident <= 0xFFFF for ident in ids):
        raise ValueError(f"USB printer address {address!r}: ids must be between 0x0001 and 0xffff")
    return ids


# -- transports ----------------------------------------------------------------


class NetworkTransport:
    """A printer listening on a raw TCP port (9100, "JetDirect"): one connection per job."""

    def __init__(self, address: str, *, timeout: float = NETWORK_TIMEOUT) -> None:
        """
        Args:
            address: ``host:port``.
            timeout: seconds for connect, send and close together.

        Raises:
            ValueError: ``address`` is not ``host:port``.
        """
        self.address = address
        self.host, self.port = parse_network_address(address)
        self.timeout = timeout

    async def send(self, data: bytes) -> None:
        """Connect, send ``data``, close.

        Raises:
            PrinterUnavailable: refused, unreachable, reset, or not done within
                ``timeout`` seconds (a black-holed printer).

        Cancellation: safe; the connection is closed and the job may be torn.
        """
        try:
            with trio.fail_after(self.timeout):
                stream = await trio.open_tcp_stream(self.host, self.port)
                async with stream:
                    await stream.send_all(data)
        except trio.TooSlowError:
            raise PrinterUnavailable(f"{self.address}: no answer within {self.timeout:g} s") from None
        except (OSError, trio.BrokenResourceError) as error:
            raise PrinterUnavailable(f"{self.address}: {_describe(error)}") from error

    async def ask(self, data: bytes, count: int, wait: float) -> bytes:
        """Connect, send ``data``, read up to ``count`` reply bytes for ``wait`` seconds, close.

        Raises:
            PrinterUnavailable: refused, unreachable, reset during the send, or the
                send not done within ``timeout`` seconds. A connection closed by the
                printer after the send is not an error: the reply is what came.

        Cancellation: safe; the connection is closed.
        """
        try:
            with trio.fail_after(self.timeout + wait):
                stream = await trio.open_tcp_stream(self.host, self.port)
                async with stream:
                    await stream.send_all(data)
                    reply = b""
                    with trio.move_on_after(wait):
                        while len(reply) < count:
                            try:
                                chunk = await stream.receive_some(count - len(reply))
                            except (OSError, trio.BrokenResourceError):
                                break  # reset after the send: what came is the answer
                            if not chunk:
                                break
                            reply += chunk
                    return reply
        except trio.TooSlowError:
            raise PrinterUnavailable(f"{self.address}: no answer within {self.timeout:g} s") from None
        except (OSError, trio.BrokenResourceError) as error:
            raise PrinterUnavailable(f"{self.address}: {_describe(error)}") from error


class _ThreadedTransport:
    """Runs one blocking write at a time in a worker thread, bounded in time."""

    def __init__(self, address: str, timeout: float) -> None:
        self.address = address
        self.timeout = timeout
        # One write at a time: jobs must not interleave on the device, and a
        # write abandoned after a timeout keeps the limiter until its thread
        # ends, so the next job waits for it (and times out too) instead of
        # racing it.
        self._limiter = trio.CapacityLimiter(1)

    async def _run(self, write: Callable[[], None]) -> None:
        """Run ``write`` in a thread.

        Raises:
            PrinterUnavailable: ``write`` raised it or an ``OSError``, or did not
                finish within ``timeout`` seconds.

        Cancellation: immediate. The thread is abandoned (it cannot be
        interrupted) and finishes or fails on its own; the limiter stays held
        until it does.
        """
        try:
            with trio.fail_after(self.timeout):
                await trio.to_thread.run_sync(write, limiter=self._limiter, abandon_on_cancel=True)
        except trio.TooSlowError:
            raise PrinterUnavailable(f"{self.address}: write not done within {self.timeout:g} s") from None
        except OSError as error:  # serial.SerialException is an OSError too
            raise PrinterUnavailable(f"{self.address}: {_describe(error)}") from error

    async def _run_reading(self, exchange: Callable[[], bytes], wait: float) -> bytes:
        """``_run`` for an exchange that reads back: bounded by ``timeout + wait``."""
        try:
            with trio.fail_after(self.timeout + wait):
                return await trio.to_thread.run_sync(exchange, limiter=self._limiter, abandon_on_cancel=True)
        except trio.TooSlowError:
            raise PrinterUnavailable(f"{self.address}: write not done within {self.timeout:g} s") from None
        except OSError as error:
            raise PrinterUnavailable(f"{self.address}: {_describe(error)}") from error


class FileTransport(_ThreadedTransport):
    """A device node (``/dev/usb/lp0``) or a plain file (tests, a spool): bytes are appended."""

    def __init__(self, address: str, *, timeout: float = LOCAL_TIMEOUT) -> None:
        """
        Args:
            address: the path to append to.
            timeout: seconds for one job's open, write and close.

        Raises:
            ValueError: ``address`` is empty.
        """
        if not address:
            raise ValueError("file printer address is empty")
        super().__init__(address, timeout)

    async def send(self, data: bytes) -> None:
        """Append ``data`` to the file.

        Raises:
            PrinterUnavailable: the path cannot be opened or written (missing
                device, permission, disk full), or the write took too long.

        Cancellation: see ``_ThreadedTransport._run``.
        """
        await self._run(lambda: _append(self.address, data))


class SerialTransport(_ThreadedTransport):
    """A printer on a serial port, 8N1, no flow control."""

    def __init__(self, address: str, *, timeout: float = LOCAL_TIMEOUT) -> None:
        """
        Args:
            address: ``/dev/ttyUSB0`` or ``/dev/ttyUSB0:19200``.
            timeout: seconds for one job; also pyserial's write timeout, so the
                thread itself gives up rather than lingering.

        Raises:
            ValueError: the address does not parse.
        """
        super().__init__(address, timeout)
        self.port, self.baudrate = parse_serial_address(address)

    async def send(self, data: bytes) -> None:
        """Open the port, write ``data``, drain, close.

        Raises:
            PrinterUnavailable: the port is missing or busy, or the write timed out.

        Cancellation: see ``_ThreadedTransport._run``.
        """
        await self._run(lambda: _write_serial(self.port, self.baudrate, data, self.timeout))

    async def ask(self, data: bytes, count: int, wait: float) -> bytes:
        """Open the port, drop stale input, write ``data``, read up to ``count`` bytes
        for ``wait`` seconds, close.

        Raises:
            PrinterUnavailable: the port is missing or busy, or the write timed out.
        """
        return await self._run_reading(
            lambda: _ask_serial(self.port, self.baudrate, data, count, wait, self.timeout), wait)


class UsbTransport(_ThreadedTransport):
    """A printer speaking USB natively, through python-escpos and pyusb (libusb)."""

    def __init__(self, address: str, *, timeout: float = LOCAL_TIMEOUT) -> None:
        """
        Args:
            address: ``vendor:product`` in hexadecimal, e.g. ``0x04b8:0x0202``.
            timeout: seconds for one job; also the USB write timeout.

        Raises:
            ValueError: the address does not parse.
        """
        super().__init__(address, timeout)
        self.vendor, self.product = parse_usb_address(address)

    async def send(self, data: bytes) -> None:
        """Find the device, claim it, write ``data``, release it.

        Raises:
            PrinterUnavailable: pyusb or libusb is missing, the device is not
                plugged in or not accessible (udev permissions), or the write failed.

        Cancellation: see ``_ThreadedTransport._run``.
        """
        await self._run(lambda: _write_usb(self.address, self.vendor, self.product, data, self.timeout))

    async def ask(self, data: bytes, count: int, wait: float) -> bytes:
        """Write ``data`` and read up to ``count`` bytes from the printer's IN endpoint
        for ``wait`` seconds (python-escpos ``Usb._read``); a model without one answers
        nothing, and its status stays unknown.

        Raises:
            PrinterUnavailable: as ``send``.
        """
        return await self._run_reading(
            lambda: _write_usb(self.address, self.vendor, self.product, data, self.timeout, read=(count, wait)), wait)


# -- the blocking parts, run in worker threads -----------------------------------


def _append(path: str, data: bytes) -> None:
    # Buffered: the file object's close() writes everything or raises, where a
    # raw write may stop short on a device node.
    with open(path, "ab") as device:
        device.write(data)


def _write_serial(port: str, baudrate: int, data: bytes, timeout: float) -> None:
    with serial.Serial(port, baudrate, write_timeout=timeout) as link:
        link.write(data)
        link.flush()


def _ask_serial(port: str, baudrate: int, data: bytes, count: int, wait: float, timeout: float) -> bytes:
    # pyserial's read timeout bounds the whole read(count) call.
    with serial.Serial(port, baudrate, write_timeout=timeout, timeout=wait) as link:
        link.reset_input_buffer()  # a late answer to an earlier request is not this one's
        link.write(data)
        link.flush()
        return link.read(count)


def _write_usb(address: str, vendor: int, product: int, data: bytes, timeout: float,
               read: tuple[int, float] | None = None) -> bytes:
    try:
        import usb.core  # pyusb: optional at run time, only USB printers need it
        from escpos.exceptions import DeviceNotFoundError
        from escpos.printer import Usb
    except ImportError as error:
        raise PrinterUnavailable(f"{address}: USB printing needs pyusb ({error})") from None
    milliseconds = int(math.ceil(timeout * 1000))
    try:
        printer = Usb(vendor, product, timeout=milliseconds)
        printer.open(raise_not_found=True)
        try:
            printer._raw(data)  # python-escpos's raw write: the job is already ESC/POS
            return _read_usb(printer, *read) if read is not None else b""
        finally:
            printer.close()
    except usb.core.NoBackendError:
        raise PrinterUnavailable(f"{address}: no libusb backend (install libusb-1.0)") from None
    except DeviceNotFoundError:
        raise PrinterUnavailable(f"{address}: USB printer not found, unplugged, or not accessible") from None
    except usb.core.USBError as error:
        raise PrinterUnavailable(f"{address}: USB error: {error}") from None


def _read_usb(printer, count: int, wait: float) -> bytes:
    import time

    import usb.core

    reply = b""
    deadline = time.monotonic() + wait
    while len(reply) < count and time.monotonic() < deadline:
        try:
            reply += bytes(printer._read())
        except usb.core.USBTimeoutError:
            continue
        except (usb.core.USBError, AttributeError):
            break  # no IN endpoint, or the read is refused: nothing to tell
    return reply[:count]


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
