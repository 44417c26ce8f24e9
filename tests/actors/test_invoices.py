"""The invoices actor (actors/invoices.py): writes the PDFs the lanes tell it of, one at
a time in a worker thread, and survives a disk that refuses one (the ``invoice``
request renders a missing PDF from the database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
import trio

from laneserver.actors.invoice_messages import RenderInvoice
from laneserver.actors.invoices import InvoicesActor
from laneserver.actors.runtime import open_mailbox
from laneserver.hw.invoice_pdf import pdf_path, render_invoice
from laneserver.rules.invoice import make_invoice
from laneserver.rules.ticket import Line

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)


def invoice(number: int):
    lines = (Line(line=1, article="B", name="Pain", qty=Decimal(2), unit_price=Decimal("3.20"),
                  vat_rate=Decimal("5.5")),)
    made = make_invoice(lines=lines, at=NOW, lane="1", seller="marie", customer="C1", customer_name="SARL Martin",
                        customer_contact=None, shop_name="Épicerie du Port", header=(), payments=())
    return msgspec.structs.replace(made, number=number, sale=40 + number)


async def test_the_invoices_told_are_written_and_a_refused_one_does_not_stop_the_next(tmp_path):
    address, inbox = open_mailbox("invoices", 8)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(InvoicesActor(tmp_path).run, inbox)
            (tmp_path / "invoices").mkdir()
            pdf_path(tmp_path, 2).mkdir()  # the disk refuses invoice 2: a folder where its file goes
            for number in (1, 2, 3):
                assert address.tell_nowait(RenderInvoice(invoice(number)))
            address.close()  # the actor drains its mailbox, then stops
    assert pdf_path(tmp_path, 1).read_bytes() == render_invoice(invoice(1))
    assert pdf_path(tmp_path, 3).read_bytes() == render_invoice(invoice(3))
    assert pdf_path(tmp_path, 2).is_dir()
