"""SPEC §6 and §9, issue 16 — a PDA's stock work through a real server: look-up by
barcode, id in any case or name; an inventory counted by zone by two PDAs that ADD UP;
counted vs expected; the adjustments applied only by a supervisor's validation (a
cashier's PDA with a supervisor's PIN); hostile counts refused with nothing changed;
shelf-label requests recorded and listed."""

from __future__ import annotations

import trio

from tests.e2e.configured import configured_server
from tests.e2e.stock_shop import CATALOG, main_point, shop_toml
from tests.support import connect

W1 = "3000000000014"  # Vin rouge 75 cl
C1 = "3000000000045"  # Chips 150 g
PAUL = ("paul", "5678")  # a cashier


async def _real(pda, article):
    return main_point(await pda.ok("stock", article=article))["real"]


async def test_two_pdas_count_a_zone_that_adds_up_and_a_supervisor_validates_it(tmp_path):
    server = configured_server(tmp_path, shop_toml(), CATALOG,
                               sellers=[("marie", "1234", "manager"), ("paul", "5678", "cashier")])
    one_token, two_token = server.pair("pda"), server.pair("pda")
    server.start()
    try:
        with trio.fail_after(60):
            async with connect(server.ws_url, one_token, seller=PAUL) as one, \
                    connect(server.ws_url, two_token, seller=PAUL) as two:
                await one.ok("stock_entry", article="W1", qty=10, reason="initial")
                # Look-up by barcode, by id in lower case; by name: search, then the id.
                for text in (W1, "w1"):
                    assert (await one.ok("stock", article=text))["article"] == "W1", text
                    assert (await one.ok("price_check", code=text))["article"]["article"] == "W1", text
                [found] = (await one.ok("search", text="vin rouge"))["articles"]
                assert (await one.ok("stock", article=found["article"]))["article"] == "W1"
                assert (await one.call("stock", article="nothing like it"))["code"] == "not_found"
                # Two PDAs count zone A1; a third count of B adds to the article's total.
                await one.ok("stock_count_zone", zone="A1", lines=[{"code": W1, "counted": 2}, {"code": "w1",
                                                                                                "counted": 1}])
                counted = await two.ok("stock_count_zone", zone="A1", lines=[{"code": W1, "counted": 2},
                                                                             {"code": C1, "counted": 5}])
                assert [(r["zone"], r["article"], r["counted"]) for r in counted["lines"]] == [
                    ("A1", "C1", "5"), ("A1", "W1", "5")]
                await two.ok("stock_count_zone", zone="B", lines=[{"code": W1, "counted": 1}])
                now = await one.ok("stock_counts")
                assert now["zones"] == ["A1", "B"]
                w1 = [r for r in now["lines"] if r["article"] == "W1"]
                assert [(r["zone"], r["counted"], r["article_counted"], r["expected"], r["difference"])
                        for r in w1] == [("A1", "5", "6", "10", "-4"), ("B", "1", "6", "10", "-4")]
                # Hostile counts: refused, nothing changed.
                for fields in ({"zone": "x" * 41, "lines": [{"code": W1, "counted": 1}]},
                               {"zone": " ", "lines": [{"code": W1, "counted": 1}]},
                               {"zone": "A1", "lines": [{"code": W1, "counted": 1}] * 501},
                               {"zone": "A1", "lines": []},
                               {"zone": "A1", "lines": [{"code": W1, "counted": "1e9999"}]}):
                    assert (await one.call("stock_count_zone", **fields))["code"] == "bad_request", fields
                bad = await one.call("stock_count_zone", zone="A1",
                                     lines=[{"code": W1, "counted": 1}, {"code": "999", "counted": 1}])
                assert bad["code"] == "unknown_code"
                assert [(p["index"], p["problem"]) for p in bad["lines"]] == [(1, "unknown_code")]
                assert (await one.ok("stock_counts"))["lines"] == now["lines"]
                assert await _real(one, "W1") == "10"  # nothing applied before validation
                # A cashier cannot validate; with a supervisor's PIN (the manager's) it applies.
                refused = await one.call("stock_count_validate")
                assert refused["code"] == "supervisor_required"
                wrong = await one.call("stock_count_validate", supervisor_pin="0000")
                assert wrong["code"] == "supervisor_required" and "tries_left" in wrong
                done = await one.ok("stock_count_validate", supervisor_pin="1234")
                assert done["approved_by"] == "marie"
                assert [(a["article"], a["expected"], a["counted"], a["difference"]) for a in done["adjustments"]] \
                    == [("C1", "0", "5", "5"), ("W1", "10", "6", "-4")]
                assert await _real(one, "W1") == "6" and await _real(one, "C1") == "5"
                assert (await one.ok("stock_counts"))["lines"] == []
                assert (await one.call("stock_count_validate", supervisor_pin="1234"))["code"] == "conflict"
                history = await two.ok("stock_history", article="W1")
                assert any(m["reason"] == "inventory" and m["delta"] == "-4" for m in history["movements"])
                # Label requests: recorded, listed newest first.
                asked = await two.ok("label_request", article="chips", copies=3)
                assert (asked["article"], asked["copies"]) == ("C1", 3)
                assert (await two.call("label_request", article="C1", copies=0))["code"] == "bad_request"
                listed = await one.ok("label_requests")
                assert [(r["request"], r["article"], r["copies"], r["seller"]) for r in listed["requests"]] == [
                    (asked["request"], "C1", 3, "paul")]
        # The count survives a restart: what was counted stays, added up.
        server.kill()
        server.restart()
        async with connect(server.ws_url, one_token, seller=PAUL) as one:
            with trio.fail_after(30):
                await one.ok("stock_count_zone", zone="R", lines=[{"code": C1, "counted": 1}])
                await one.ok("stock_count_zone", zone="R", lines=[{"code": C1, "counted": 1}], key="k-1")
                await one.ok("stock_count_zone", zone="R", lines=[{"code": C1, "counted": 1}], key="k-1")  # once
        server.kill()
        server.restart()
        async with connect(server.ws_url, one_token, seller=PAUL) as one:
            with trio.fail_after(30):
                assert [(r["zone"], r["counted"]) for r in (await one.ok("stock_counts"))["lines"]] == [("R", "2")]
    finally:
        server.stop()
