"""The invoices actor: writes invoices' PDF files, off the lanes' tasks.

A lane that finished a sale billed on an invoice tells this actor once the sale is
durable (``RenderInvoice``); rendering and writing a PDF takes some 10 ms
(hw/invoice_pdf.py), which would hold up the lane's next scan. The actor writes one
PDF at a time in a worker thread (``trio.to_thread.run_sync``): the event loop never
waits on fpdf2 or the disk.

A device actor: what it does is a convenience, never the record. The database holds
the invoice; the ``invoice`` request renders a PDF that is not there (yet, or any
more: a crash, a full mailbox, a disk error) again from it
(server/queries.py, ``read_or_write_invoice``). Two writers of one invoice each write
a whole file (atomically renamed), and the same invoice gives the same bytes. So a
failure is logged and changes nothing, and a crash restarts it (DEVICE_POLICY) with
the invoices still queued in its mailbox.
"""

from __future__ import annotations

from pathlib import Path

import trio

from laneserver.actors.invoice_messages import RenderInvoice
from laneserver.hw.invoice_pdf import write_invoice
from laneserver.log import get_logger

#: Invoices waiting to be written; a lane that finds it full leaves the PDF to the
#: ``invoice`` request (the lane never waits on it).
MAILBOX = 64


class InvoicesActor:
    def __init__(self, data_folder: Path) -> None:
        self.data_folder = data_folder
        self.log = get_logger("invoices")

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case RenderInvoice(invoice=invoice):
                        await self._write(invoice)
                    case other:
                        raise TypeError(f"invoices got {other!r}")

    async def _write(self, invoice) -> None:
        try:
            path, _ = await trio.to_thread.run_sync(write_invoice, invoice, self.data_folder)
        except OSError as error:  # a full or read-only disk: the invoice verb renders it later
            self.log.error("invoice_render_failed", invoice=invoice.number, sale=invoice.sale, error=repr(error))
            return
        self.log.info("invoice_written", invoice=invoice.number, sale=invoice.sale, path=str(path))
