"""Copies of documents end to end (issue 18: ``reprint`` with ``document``): a real
server whose lane 1 prints to a file, a real websocket client, the real SQLite file.

A quote reprinted twice is copies 2 and 3 (its original is print 1), each a record of
the ``copy`` chain, printed as DUPLICATA on the lane's printer; a PDF copy comes back
in the reply with DUPLICATA and a scannable barcode of the document; an invoice is
copied too (its original PDF, from ``invoice``, has the same barcode); the same key
gives the same copy; hostile values get a clear error and change nothing;
``laneserver verify`` exits 0 afterwards.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import trio

from tests.e2e.configured import (
    CASHIER,
    PAUL,
    configured_server,
    file_printer,
    lane,
    printed,
    rows,
    stock_point,
    table,
    toml,
    verify,
)
from tests.hw.test_document_barcode import decode
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
C1,Champagne brut 75 cl,30.00,20,3000000000014
"""


def _copies(server) -> list[tuple[str, int]]:
    return [(r.get("document") or r["sale"], r["counter"])
            for (text,) in rows(server, "SELECT record FROM fiscal_records WHERE chain='copy' ORDER BY number")
            for r in [json.loads(text)]]


async def test_a_quote_reprinted_twice_is_copies_two_and_three_and_the_chains_verify(tmp_path: Path):
    config = toml(table("shop", name="Cave du Port"), stock_point("main"), lane("1", printer="p1"),
                  file_printer(tmp_path))
    server = configured_server(tmp_path, config, CATALOG, sellers=[CASHIER]).start()
    try:
        till_token, pda_token = server.pair("till", "1"), server.pair("pda")
        with trio.fail_after(90):
            async with connect(server.ws_url, till_token, seller=PAUL) as till:
                await till.ok("add", article="C1", qty=6)
                quote = (await till.ok("quote"))["document"]
                assert (quote["name"], quote["barcode"]) == ("Q-000001", "DQ000001")
                await printed(server, "N° Q-000001", b"DQ000001")  # the original: print 1

                first = await till.ok("reprint", document="DQ000001", key="copy-1")
                assert (first["copy"], first["document"], first["kind"]) == (2, "Q-000001", "duplicate")
                assert "sale" not in first and "pdf" not in first
                await printed(server, "DUPLICATA", "Impression n° 2", "N° Q-000001")
                again = await till.ok("reprint", document="DQ000001", key="copy-1")  # the same key: the same copy
                assert {**again, "re": None} == {**first, "re": None}
                both = await till.ok("reprint", document="q-000001", output="both")
                assert both["copy"] == 3
                await printed(server, "Impression n° 3")
                pdf = base64.b64decode(both["pdf"])
                assert b"DUPLICATA" in pdf and "Impression n° 3".encode("latin-1") in pdf
                assert decode(pdf)[0] == "DQ000001"  # its barcode scans back to the quote
                assert _copies(server) == [("Q-000001", 2), ("Q-000001", 3)]

                # An invoice is a document too: its copy counts apart from its sale's.
                dupont = (await till.ok("customer_create", name="SARL Dupont", business=True))["customer"]
                await till.ok("add", article="C1", qty=1)
                await till.ok("set_customer", customer=dupont)
                await till.ok("pay", mode="card")
                sale = (await till.ok("finish", receipt="invoice"))["number"]
                original = base64.b64decode((await till.ok("invoice", sale=sale))["pdf"])
                assert b"DUPLICATA" not in original and decode(original)[0] == "F-000001"  # the original scans too
                copy = await till.ok("reprint", document="F-000001", output="pdf")
                assert (copy["copy"], copy["document"]) == (2, "F-000001")
                invoice_pdf = base64.b64decode(copy["pdf"])
                assert b"FACTURE F-000001" in invoice_pdf and decode(invoice_pdf)[0] == "F-000001"

                # Hostile or wrong values: a clear error, nothing written.
                before = _copies(server)
                for fields, code in (({"document": "Q-000009"}, "not_found"),
                                     ({"document": "F-000009"}, "not_found"),
                                     ({"document": "x" * 5000}, "bad_request"),
                                     ({"document": "Q-" + "9" * 30}, "bad_request"),
                                     ({"document": 5}, "bad_request"),
                                     ({"document": "DQ000001", "sale": sale}, "bad_request"),
                                     ({"document": "DQ000001", "kind": "gift"}, "bad_request"),
                                     ({"document": "DQ000001", "output": "fax"}, "bad_request"),
                                     ({"sale": sale, "output": "pdf"}, "bad_request"),
                                     ({}, "bad_request")):
                    error = await till.call("reprint", **fields)
                    assert (error["type"], error["code"]) == ("error", code), (fields, error)
                    assert len(error["message"]) < 300
                async with connect(server.ws_url, pda_token, seller=PAUL) as handheld:  # no lane, no printer
                    assert (await handheld.call("reprint", document="DQ000001"))["code"] == "forbidden"
                    assert (await handheld.ok("reprint", document="DQ000001", output="pdf"))["copy"] == 4
                assert _copies(server) == [*before, ("Q-000001", 4)]
        server.stop()
        server.restart()
        with trio.fail_after(60):
            async with connect(server.ws_url, till_token, seller=PAUL) as till:
                assert (await till.ok("reprint", document="Q-000001"))["copy"] == 5  # durable
        assert "Q-000001" in json.dumps(_copies(server))
        verify(server)
    finally:
        server.stop()
