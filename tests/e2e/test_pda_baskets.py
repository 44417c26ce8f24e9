"""SPEC §9, issue 16 — a PDA's baskets through a real server, real websockets, a real
SQLite file: a basket never lands on another customer's ticket (``ticket_not_empty``
unless ``append``), its lines are tagged with the PDA and the staff member and the till
gets a ``basket`` banner event; it is emptied exactly once, also when the reply was
lost and the PDA sends it again; every bad line is named and nothing is taken; a parked
basket is a held ticket with a barcode that reserves stock and that a till of another
lane recalls by scanning it (the shop refuses negative stock: ``refuse``)."""

from __future__ import annotations

import json

import pytest
import trio

from tests.e2e.stock_shop import CATALOG, main_point, stock_shop
from tests.support import connect

W1 = "3000000000014"  # Vin rouge 75 cl, 8.90
C1 = "3000000000045"  # Chips 150 g, 1.90
# The parking test's own articles (one server for the module: each test its own stock).
W2, C2 = "3000000000052", "3000000000069"
ARTICLES = CATALOG + "W2,Vin blanc 75 cl,8.90,20,3000000000052,,\nC2,Cacahuètes,1.90,5.5,3000000000069,,\n"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    server = stock_shop(tmp_path_factory.mktemp("baskets"), catalog_csv=ARTICLES)
    server.tokens = {lane: server.pair("till", lane) for lane in ("1", "2")}
    server.pda = server.pair("pda")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _reserved(pda, article="W1"):
    level = main_point(await pda.ok("stock", article=article))
    return level["real"], level["reserved"], level["available"]


async def test_a_basket_is_emptied_once_tagged_and_never_onto_another_customers_ticket(shop):
    thirty = [{"code": W1} for _ in range(30)]
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"]) as one, connect(shop.ws_url, shop.tokens["2"]) as two:
            async with connect(shop.ws_url, shop.pda) as pda:
                await pda.ok("stock_entry", article="W1", qty=100, reason="initial")
                await pda.ok("stock_entry", article="C1", qty=10, reason="initial")
                device = pda.hello["device"]
                # The reply is lost: the PDA sends and its connection drops before the answer.
                await pda.send_raw(json.dumps({"type": "basket_empty", "id": "lost", "basket": "b-30", "lane": "1",
                                               "lines": thirty}))
            banner = await one.wait_event(lambda e: e["type"] == "basket")
            assert banner == {"type": "basket", "lane": "1", "basket": "b-30", "device": device, "seller": "marie",
                              "lines": 30, "appended": False}
            async with connect(shop.ws_url, shop.pda) as pda:
                again = await pda.ok("basket_empty", basket="b-30", lane="1", lines=thirty)  # sent again
                assert again["lines"] == 30 and again["basket"] == "b-30"
                ticket = (await one.ok("ticket"))["ticket"]
                assert sum(int(line["qty"]) for line in ticket["lines"]) == 30  # exactly 30 units, once
                assert ticket["lines"][0]["from"] == {"device": device, "seller": "marie", "basket": "b-30"}
                assert await _reserved(pda) == ("100", "30", "70")
                assert len([e for e in one.events if e["type"] == "basket"]) == 1
                # The same basket into another lane: refused, naming the lane that has it.
                taken = await pda.call("basket_empty", basket="b-30", lane="2", lines=thirty)
                assert (taken["code"], taken["lane"]) == ("conflict", "1")
                assert (await two.ok("ticket"))["ticket"]["lines"] == []
                # Another basket into lane 1, whose ticket has lines: refused, nothing changed.
                rev = ticket["rev"]
                refused = await pda.call("basket_empty", basket="b-31", lane="1", lines=[{"code": C1, "qty": 2}])
                assert (refused["code"], refused["ticket_not_empty"]) == ("conflict", True)
                assert (await one.ok("ticket"))["ticket"]["rev"] == rev
                # The till agreed: append.
                appended = await pda.ok("basket_empty", basket="b-31", lane="1", lines=[{"code": C1, "qty": 2}],
                                        append=True)
                assert appended["lines"] == 1 and len(appended["ticket"]["lines"]) == 31
                banner = await one.wait_event(lambda e: e["type"] == "basket" and e["basket"] == "b-31")
                assert banner["appended"] is True
                # Every bad line named (index, code, problem); nothing taken, the basket id kept.
                bad = await pda.call("basket_empty", basket="b-32", lane="2",
                                     lines=[{"code": "999"}, {"code": C1}, {"code": C1, "qty": 0},
                                            {"code": C1, "qty": "-2"}])
                assert bad["code"] == "unknown_code", bad
                assert [(p["index"], p["code"], p["problem"]) for p in bad["lines"]] == [
                    (0, "999", "unknown_code"), (2, C1, "bad_request"), (3, C1, "bad_request")]
                assert (await two.ok("ticket"))["ticket"]["lines"] == []
                fixed = await pda.ok("basket_empty", basket="b-32", lane="2", lines=[{"code": C1}])
                assert fixed["lines"] == 1
                # Hostile: too many lines, an endless id, no lines: bad_request, nothing changed.
                for fields in ({"basket": "b-33", "lines": [{"code": C1}] * 501},
                               {"basket": "x" * 65, "lines": [{"code": C1}]},
                               {"basket": "b-34", "lines": []},
                               {"basket": "b-35", "lines": [{"code": C1, "qty": "1e9999"}]}):
                    reply = await pda.call("basket_empty", lane="2", append=True, **fields)
                    assert reply["code"] == "bad_request", reply
                assert len((await two.ok("ticket"))["ticket"]["lines"]) == 1
                assert await _reserved(pda, "C1") == ("10", "3", "7")


async def test_a_parked_basket_reserves_and_is_recalled_by_its_barcode_on_another_lane(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"]) as one, connect(shop.ws_url, shop.tokens["2"]) as two, \
                connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="W2", qty=10, reason="initial")
            await pda.ok("stock_entry", article="C2", qty=10, reason="initial")
            parked = await pda.ok("basket_park", basket="p-1", lines=[{"code": W2, "qty": 4}])
            assert (parked["lane"], parked["held"], parked["barcode"], parked["lines"], parked["total"]) == (
                "1", "1-1", "PB1-1", 1, "35.60")
            assert await _reserved(pda, "W2") == ("10", "4", "6")  # parked lines hold stock back
            assert (await pda.ok("basket_park", basket="p-1", lines=[{"code": W2, "qty": 4}]))["held"] == "1-1"
            held = (await one.ok("held"))["tickets"]
            assert [(h["held"], h["barcode"]) for h in held] == [("1-1", "PB1-1")]
            # Out of stock (the shop refuses negative stock): not parked, nothing held.
            short = await pda.call("basket_park", basket="p-2", lines=[{"code": W2, "qty": 7}])
            assert short["code"] == "out_of_stock"
            # Lane 2's ticket has a line: the scan is refused and the basket stays on lane 1.
            await two.ok("scan", code=C2)
            busy = await two.call("scan", code="PB1-1")
            assert busy["code"] == "conflict"
            await two.ok("cancel_ticket")
            # Recalled on lane 2 by its barcode: the open ticket, tagged; a repeat of the scan
            # (same key: its reply lost) gets the same ticket, nothing moves twice.
            recalled = await two.ok("scan", code="PB1-1", key="s-1")
            lines = recalled["ticket"]["lines"]
            assert [(l["article"], l["qty"], l["from"]["basket"]) for l in lines] == [("W2", "4", "p-1")]
            assert (await two.ok("scan", code="PB1-1", key="s-1"))["ticket"] == recalled["ticket"]
            assert (await one.ok("held"))["tickets"] == []
            assert await _reserved(pda, "W2") == ("10", "4", "6")  # moved, still reserved once
            gone = await one.call("scan", code="PB1-1")
            assert gone["code"] == "not_found"
            await two.ok("pay", mode="card")
            await two.ok("finish", receipt="none")
            while await _reserved(pda, "W2") != ("6", "0", "6"):
                await trio.sleep(0.01)
            # Two tills scan one parked basket at once: exactly one of them gets it.
            await pda.ok("basket_park", basket="p-3", lines=[{"code": C2, "qty": 2}])
            answers = {}

            async def scan(name, till):
                answers[name] = await till.call("scan", code="PB1-2")

            async with trio.open_nursery() as both:
                both.start_soon(scan, "1", one)
                both.start_soon(scan, "2", two)
            assert sorted(a["type"] for a in answers.values()) == ["error", "ok"], answers
            assert [a["code"] for a in answers.values() if a["type"] == "error"] in (["not_found"], ["conflict"])
            assert await _reserved(pda, "C2") == ("10", "2", "8")
            await pda.ok("basket_park", basket="p-4", lines=[{"code": C2}])
    # A parked basket survives a restart (held, with its barcode, still reserving).
    shop.kill()
    shop.restart()
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["2"]) as two, connect(shop.ws_url, shop.pda) as pda:
            assert await _reserved(pda, "C2") == ("10", "3", "7")
            again = await pda.ok("basket_park", basket="p-4", lines=[{"code": C2}])  # its first reply, from the database
            assert (again["held"], again["barcode"], again["total"]) == ("1-3", "PB1-3", "1.90")
            if (await two.ok("ticket"))["ticket"]["lines"]:  # lane 2 won the race above
                await two.ok("cancel_ticket")
            recalled = await two.ok("scan", code="PB1-3")
            assert [(l["article"], l["qty"]) for l in recalled["ticket"]["lines"]] == [("C2", "1")]
