"""Copies of a receipt end to end (issue 13, chain ``copy``): a real server whose lane 1
prints to a file, a real websocket client, the real SQLite file.

The original printed at finish is the sale's print 1; ``reprint`` prints a duplicate,
a gift receipt, the payment proof (once: a second is ``conflict`` and prints nothing),
each a record of the ``copy`` chain committed before the reply; the counter goes on
after a restart; a counter-entry's receipt is its own sale's print 1; ``verify`` walks
the chain. Every receipt ends with the software and its sale record's hash extract.
"""

from __future__ import annotations

import json
from pathlib import Path

import trio

from laneserver import __version__
from tests.e2e.configured import (
    CASHIER,
    PAUL,
    SOPHIE_PIN,
    SUPERVISOR,
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
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
T30,Article à 30,30.00,20,3000000000304
"""
A30 = "3000000000304"


def _copies(server, sale: int) -> list[tuple[str, int]]:
    """(kind, counter) of the copy chain's records of ``sale``, in chain order."""
    return [(r["kind"], r["counter"]) for (text,) in rows(server, "SELECT record FROM fiscal_records WHERE"
                                                                   " chain='copy' ORDER BY number")
            for r in [json.loads(text)] if r["sale"] == sale]


def _hash(server, sale: int) -> str:
    return rows(server, "SELECT hash FROM sales WHERE number=?", sale)[0][0]


async def test_reprints_count_every_print_and_the_proof_prints_once(tmp_path: Path):
    config = toml(table("shop", name="Copies"), stock_point("main"), lane("1", printer="p1"), lane("2"),
                  file_printer(tmp_path))
    server = configured_server(tmp_path, config, CATALOG, sellers=[CASHIER, SUPERVISOR]).start()
    try:
        one, two, pda = server.pair("till", "1"), server.pair("till", "2"), server.pair("pda")
        with trio.fail_after(90):
            async with connect(server.ws_url, one, seller=PAUL) as till, \
                    connect(server.ws_url, two, seller=PAUL) as other:
                await till.ok("scan", code=A30)
                await till.ok("pay", mode="card", amount="10.00")
                await till.ok("pay", mode="cash", amount="50.00")
                sale = (await till.ok("finish"))["number"]
                # The original: print 1, in the sale's unit; its footer names the software and the record.
                assert _copies(server, sale) == [("original", 1)]
                await printed(server, f"laneserver {__version__}", f"Empreinte : {_hash(server, sale)[:8]}")

                reply = await till.ok("reprint", sale=sale)
                assert (reply["copy"], reply["sale"], reply["kind"]) == (2, sale, "duplicate")
                assert _copies(server, sale)[-1] == ("duplicate", 2)  # committed before the reply
                await printed(server, "DUPLICATA", "Impression n° 2")
                assert (await till.ok("reprint", sale=sale, kind="gift"))["copy"] == 3
                await printed(server, "TICKET CADEAU", "Impression n° 3")
                assert (await till.ok("reprint", sale=sale, kind="proof", key="proof-1"))["copy"] == 4
                proof = await printed(server, "JUSTIFICATIF", "Impression n° 4", "TOTAL PAYÉ")
                assert "Espèces                            20,00 €" in proof.decode("cp858")  # 50 less 30 change

                # The same key again: the first reply, nothing printed or written twice.
                assert (await till.ok("reprint", sale=sale, kind="proof", key="proof-1"))["copy"] == 4
                # A second proof: conflict, nothing written, nothing printed.
                before = (server.receipts.read_bytes(), _copies(server, sale))
                again = await till.call("reprint", sale=sale, kind="proof")
                assert (again["type"], again["code"]) == ("error", "conflict")
                # Hostile or wrong fields: a clear error, nothing changed.
                for fields, code in (({"sale": 999}, "not_found"), ({"sale": sale, "kind": "triplicate"}, "bad_request"),
                                     ({"sale": "one"}, "bad_request"), ({"sale": 2**70}, "bad_request"),
                                     ({"kind": "gift"}, "bad_request")):
                    error = await till.call("reprint", **fields)
                    assert (error["type"], error["code"]) == ("error", code), (fields, error)
                # A cashier reprints the sales of their own lane; a lane with no printer prints no copy.
                error = await other.call("reprint", sale=sale)
                assert error["code"] == "forbidden", error
                await other.ok("scan", code=A30)
                await other.ok("pay", mode="card")
                elsewhere = (await other.ok("finish"))["number"]
                assert _copies(server, elsewhere) == []  # no printer: no print
                assert (await other.call("reprint", sale=elsewhere))["code"] == "not_supported"
                async with connect(server.ws_url, pda, seller=PAUL) as handheld:  # no lane, no printer
                    assert (await handheld.call("reprint", sale=sale))["code"] == "forbidden"
                await trio.sleep(0.3)
                assert (server.receipts.read_bytes(), _copies(server, sale)) == before

                # A counter-entry is a sale: its receipt is its own print 1, then its copies.
                cancel = await till.ok("sale_cancel", sale=sale, reason="erreur", supervisor_pin=SOPHIE_PIN)
                counter = cancel["number"]
                assert _copies(server, counter) == [("original", 1)]
                await printed(server, "ANNULATION", f"Empreinte : {_hash(server, counter)[:8]}")
                assert (await till.ok("reprint", sale=counter))["copy"] == 2
        server.stop()
        server.restart()
        with trio.fail_after(60):
            async with connect(server.ws_url, one, seller=("sophie", SOPHIE_PIN)) as till:
                # The counter is durable; a supervisor may reprint another lane's sale (on this till's printer).
                assert (await till.ok("reprint", sale=sale))["copy"] == 5
                assert (await till.ok("reprint", sale=elsewhere, kind="gift"))["copy"] == 1
                assert (await till.call("reprint", sale=sale, kind="proof"))["code"] == "conflict"
        assert _copies(server, sale) == [("original", 1), ("duplicate", 2), ("gift", 3), ("proof", 4),
                                         ("duplicate", 5)]
        server.stop()
        report = verify(server)
        [line] = [line for line in report.splitlines() if line.endswith("(copies)")]
        assert line.startswith("ok: 8 records, last 8"), report
    finally:
        server.stop()
