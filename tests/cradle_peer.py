"""A batch scanner sitting in its cradle, for the tests: the far end of a socat pty
pair (tests/actors/test_printer.py ``pty_pair``) answering the host's commands as the
protocol says (hw/opn.py; written from docs/protocol.md, "Batch scanners in a
cradle"). It holds codes with time stamps, answers interrogate, set-clock, upload and
clear, and can be told to misbehave:

* ``present = False``: lifted out of the cradle (answers nothing);
* ``cut_upload``: sends half of the next upload, then goes silent (lifted out mid-upload);
* ``corrupt``: the next upload's CRC is wrong; ``garbage``: the next answer is noise;
* ``flood``: answers the upload with endless bytes;
* ``lose_clear``: the clear is lost (neither done nor answered);
* ``hold_clear``: an event the clear waits for before it clears and answers (a test
  kills the server meanwhile).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from laneserver.hw import opn

SERIAL = 7100000000042
FIRMWARE = "RBBV0242"


class ScannerInCradle:
    def __init__(self, codes: list[str] | None = None, *, at: dt.datetime | None = None,
                 serial: int = SERIAL) -> None:
        self.serial = serial
        self.records: list[tuple[int, bytes, int]] = []
        self.present = True
        self.cut_upload = False
        self.corrupt = False
        self.garbage = False
        self.flood = False
        self.lose_clear = False
        self.hold_clear: trio.Event | None = None
        self.clock: bytes | None = None  # the last set-clock payload
        self.commands: list[int] = []
        self.uploads = 0  # whole uploads sent
        self.cleared = 0
        self.changed = trio.Event()
        for code in codes or []:
            self.scan(code, at)

    def scan(self, code: str, at: dt.datetime | None = None) -> None:
        at = at or dt.datetime(2026, 12, 6, 9, 30, 0)
        self.records.append((0x16, code.encode("ascii"), opn.pack_stamp(at)))

    async def serve(self, stream: trio.abc.Stream) -> None:
        """Answer commands on ``stream`` until cancelled."""
        data = bytearray()
        while True:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return
            data += chunk
            while len(data) >= 3:
                size = data[2] & 0x1F
                total = 3 + size + (1 if size else 0) + 2
                if len(data) < total:
                    break
                command = opn.FrameDecoder(data[0]).feed(bytes(data[:total]))
                del data[:total]
                if isinstance(command, opn.Frame):
                    self.commands.append(command.opcode)
                    await self._answer(stream, command)
                    self.changed.set()
                    self.changed = trio.Event()

    async def _answer(self, stream: trio.abc.Stream, command: opn.Frame) -> None:
        if not self.present:
            return
        if self.flood and command.opcode == opn.UPLOAD:
            while True:
                await stream.send_all(b"\x07\x02" + b"\x55" * 4094)
        if self.garbage:
            self.garbage = False
            await stream.send_all(b"\x15\x15noise\x00\xff" * 8)
            return
        match command.opcode:
            case opn.INTERROGATE:
                await stream.send_all(opn.frame(opn.INTERROGATE, opn.identity_payload(self.serial, FIRMWARE)))
            case opn.SET_TIME:
                self.clock = command.payload
                await stream.send_all(opn.frame(opn.SET_TIME, command.payload))
            case opn.UPLOAD:
                data = bytearray(opn.upload_bytes(self.serial, self.records))
                if self.corrupt:
                    self.corrupt = False
                    data[-1] ^= 0xFF
                if self.cut_upload:
                    self.cut_upload = False
                    self.present = False
                    await stream.send_all(bytes(data[: len(data) // 2]))
                    return
                await stream.send_all(bytes(data))
                self.uploads += 1
            case opn.CLEAR:
                if self.lose_clear:
                    return
                if self.hold_clear is not None:
                    await self.hold_clear.wait()
                self.records.clear()
                self.cleared += 1
                await stream.send_all(opn.frame(opn.CLEAR))

    async def wait_for(self, check) -> None:
        while not check(self):
            await self.changed.wait()


@asynccontextmanager
async def in_cradle(far_end: str, scanner: ScannerInCradle) -> AsyncIterator[ScannerInCradle]:
    """``scanner`` answering on ``far_end`` (a pty path) for the block."""
    stream = trio.lowlevel.FdStream(os.open(far_end, os.O_RDWR | os.O_NOCTTY))
    async with stream, trio.open_nursery() as nursery:
        nursery.start_soon(scanner.serve, stream)
        yield scanner
        nursery.cancel_scope.cancel()
