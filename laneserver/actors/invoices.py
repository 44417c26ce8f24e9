"""The invoices actor: writes invoices' PDF files, off the lanes' tasks; and the
documents' (quotes, orders, delivery notes, deposit invoices, credit notes), which the
documents actor tells it of once they are durable (``RenderDocument``: read from the
journal, rendered by hw/document_pdf.py, kept if already there).

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
from typing import Any

import trio

from laneserver.actors import document_pdfs
from laneserver.actors.invoice_messages import RenderDocument, RenderInvoice
from laneserver.actors.journal import ReadFailed
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.hw.document_pdf import read_or_write_document
from laneserver.hw.invoice_pdf import write_invoice
from laneserver.log import get_logger

#: Invoices waiting to be written; a lane that finds it full leaves the PDF to the
#: ``invoice`` request (the lane never waits on it).
MAILBOX = 64


class InvoicesActor:
    def __init__(self, data_folder: Path, *, journal: Address | None = None, config: Any = None) -> None:
        self.data_folder = data_folder
        self.journal = journal  # documents' records (None: documents' PDFs left to ``document_pdf``)
        self.config = config
        self.log = get_logger("invoices")

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case RenderInvoice(invoice=invoice):
                        await self._write(invoice)
                    case RenderDocument(kind=kind, number=number):
                        await self._write_document(kind, number)
                    case other:
                        raise TypeError(f"invoices got {other!r}")

    async def _write(self, invoice) -> None:
        try:
            path, _ = await trio.to_thread.run_sync(write_invoice, invoice, self.data_folder)
        except OSError as error:  # a full or read-only disk: the invoice verb renders it later
            self.log.error("invoice_render_failed", invoice=invoice.number, sale=invoice.sale, error=repr(error))
            return
        self.log.info("invoice_written", invoice=invoice.number, sale=invoice.sale, path=str(path))

    async def _write_document(self, kind: str, number: int) -> None:
        if self.journal is None or self.config is None:
            return
        try:
            made = await document_pdfs.printed(self.journal, self.config, kind, number)
            if made is None:
                self.log.error("document_pdf_unknown", kind=kind, number=number)
                return
            await trio.to_thread.run_sync(read_or_write_document, made[0], self.data_folder)
        except (OSError, ReadFailed, ActorFailed) as error:  # the document_pdf request renders it later
            self.log.error("document_render_failed", kind=kind, number=number, error=repr(error))
            return
        self.log.info("document_pdf_written", document=made[0].name)
