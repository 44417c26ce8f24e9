"""A keyed retry gets its first reply even when a check it would meet again now refuses
it (PROTOCOL.md "Idempotency keys (clarified)", docs/protocol.md "Idempotency").

A till that lost the reply to a keyed request (its connection dropped) sends it again
with the same key and fields. Since the first try was applied, what a fresh check looks
at may have changed: the supervisor PINs are locked (wrong tries since), the catalog no
longer knows a counted code, the sale is already cancelled, the balance moved. Before,
the edge checked the PIN and the catalog before the owner actor looked its reply memory
up: ``sale_cancel``, ``payment_correct``, ``balance_correct``, ``stock_count_validate``
retried got ``forbidden`` (PINs locked) and ``stock_count_zone`` ``unknown_code`` for
changes that were applied — a till showed an error for a cancel that happened. Now the
actor is asked first (actors/replies.py ``answered``, server/outcomes.py): the first
reply again, and nothing applied twice. ``wallet_topup`` and ``document_invoice`` were
already answered from memory first; they are pinned here too.

One real server (the demo shop, a cashier and a supervisor added), real websockets,
the real SQLite file read from outside.
"""

from __future__ import annotations

from typing import Any

import trio

from tests.e2e.configured import (
    CASHIER,
    DEMO_CATALOG,
    PAUL,
    SOPHIE_PIN,
    SUPERVISOR,
    configured_shop,
    counts,
    lane,
    rows,
    stock_point,
    table,
    toml,
)
from tests.reliability.harness import snapshot
from tests.support import LiveServer, connect

GALETS = "3760245001015"  # A001, 8.90
LAMOTHE = "3451203000279"  # A002, 12.50
WRONG_PIN = "0000"
MANAGER = ("marc", "2468")
REASON = "erreur de saisie"
EAN_CODES = ("3012345678001", "3012345678018", "3012345678025", "3012345678032")  # valid check digits


def _same(first: dict[str, Any], again: dict[str, Any]) -> None:
    """The retry's reply is the first one, addressed to the retry."""
    assert again["type"] == "ok", again
    assert {k: v for k, v in again.items() if k != "re"} == {k: v for k, v in first.items() if k != "re"}


async def _sale(till: Any, code: str = GALETS) -> dict[str, Any]:
    await till.ok("scan", code=code)
    await till.ok("pay", mode="cash")
    number = (await till.ok("finish", receipt="none"))["number"]
    return (await till.ok("sale", sale=number))["sale"]


def _without_a002_barcode(path: Any) -> None:
    lines = DEMO_CATALOG.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(line.replace(LAMOTHE, "") if line.startswith("A002,") else line for line in lines)
                    + "\n", encoding="utf-8")


async def test_keyed_retries_get_their_first_reply_after_what_a_check_looks_at_changed(tmp_path):
    server = LiveServer(tmp_path / "data")
    for name, pin, role in (CASHIER, SUPERVISOR):
        server.cli("seller", "add", name, "--pin", pin, "--role", role)
    server.start()
    try:
        till_token, pda_token = server.pair("till", "1"), server.pair("pda")
        with trio.fail_after(120):
            async with connect(server.ws_url, till_token, seller=PAUL) as till, \
                    connect(server.ws_url, pda_token, seller=PAUL) as pda:
                pin = {"supervisor_pin": SOPHIE_PIN}
                # The first tries, each applied (its reply lost by the till, as it were).
                await till.ok("scan", code=LAMOTHE)
                discount = {"line": 1, "percent": "10", "reason": REASON, "key": "discount-1", **pin}
                first_discount = await till.ok("discount", **discount)
                await till.ok("cancel_ticket")
                cancelled = await _sale(till)
                cancel = {"sale": cancelled["number"], "reason": REASON, "key": "cancel-1", **pin}
                first_cancel = await till.ok("sale_cancel", **cancel)
                corrected = await _sale(till)
                correct = {"sale": corrected["number"], "payment": corrected["payments"][0]["payment"],
                           "mode": "card", "reason": REASON, "key": "correct-1", **pin}
                first_correct = await till.ok("payment_correct", **correct)
                jeanne = (await till.ok("customer_create", name="Jeanne", wallet=True))["customer"]
                topup = {"customer": jeanne, "amount": "20.00", "mode": "cash", "key": "topup-1"}
                first_topup = await till.ok("wallet_topup", **topup)
                balance = {"customer": jeanne, "account": "wallet", "amount": "-5.00", "reason": REASON,
                           "key": "balance-1", **pin}
                first_balance = await till.ok("balance_correct", **balance)
                await till.ok("wallet_topup", customer=jeanne, amount="7.00", mode="cash", key="topup-2")
                zone = {"zone": "A1", "lines": [{"code": LAMOTHE, "counted": 4}], "key": "zone-1"}
                first_zone = await pda.ok("stock_count_zone", **zone)
                validate = {"key": "validate-1", **pin}
                first_validate = await pda.ok("stock_count_validate", **validate)
                await till.ok("scan", code=GALETS)
                await till.ok("set_customer", customer=jeanne)
                note = (await till.ok("delivery_note"))["document"]["name"]
                invoice = {"documents": [note], "key": "invoice-1"}
                first_invoice = await till.ok("document_invoice", **invoice)

                # What a fresh check looks at changes: the PINs locked on both devices (wrong
                # tries), the counted code gone from the catalog (a live import).
                for device in (till, pda):
                    for _ in range(10):
                        refused = await device.call("sale_cancel", sale=cancelled["number"], reason=REASON,
                                                    supervisor_pin=WRONG_PIN)
                        assert refused["type"] == "error", refused
                        if refused["code"] == "forbidden":
                            break
                    assert refused["code"] == "forbidden", refused
                catalog = tmp_path / "catalog.csv"
                _without_a002_barcode(catalog)
                server.cli("catalog", "import", str(catalog))
                while (await pda.call("price_check", code=LAMOTHE))["type"] == "ok":  # noqa: ASYNC110 (remote)
                    await trio.sleep(0.05)  # the import is served within a second (edge_catalog.py)
                gone = await pda.call("stock_count_zone", zone="A1", lines=[{"code": LAMOTHE, "counted": 4}])
                assert gone["code"] == "unknown_code", gone

                # The retries: the first replies, nothing applied again.
                tables = ("sales", "payments", "replies", "stock_movements", "customer_movements", "money_in", "pin_failures")
                before = await trio.to_thread.run_sync(counts, server, *tables)
                kept = await trio.to_thread.run_sync(snapshot, server.data)
                _same(first_discount, await till.call("discount", **discount))
                _same(first_cancel, await till.call("sale_cancel", **cancel))
                _same(first_correct, await till.call("payment_correct", **correct))
                _same(first_topup, await till.call("wallet_topup", **topup))
                _same(first_balance, await till.call("balance_correct", **balance))
                _same(first_zone, await pda.call("stock_count_zone", **zone))
                _same(first_validate, await pda.call("stock_count_validate", **validate))
                _same(first_invoice, await till.call("document_invoice", **invoice))
                assert await trio.to_thread.run_sync(counts, server, *tables) == before
                assert await trio.to_thread.run_sync(snapshot, server.data) == kept
                # Another request under a used key is still a conflict, PIN or not.
                reused = await till.call("sale_cancel", **{**cancel, "reason": "autre motif"})
                assert (reused["code"], reused.get("key_reused")) == ("conflict", True), reused
                # Without the PIN, other fields under the approved discount's key: no first reply either.
                reused = await till.call("discount", line=1, percent="50", reason=REASON, key="discount-1")
                assert (reused["code"], reused.get("key_reused")) == ("conflict", True), reused
                again = await till.call("discount", **{k: v for k, v in discount.items() if k != "supervisor_pin"})
                _same(first_discount, again)  # the same request: its first reply, the PIN not asked again
    finally:
        server.stop()



async def test_keyed_writes_of_the_edge_itself_retried_get_their_first_reply(tmp_path):
    """``article_create`` / ``barcode_attach``, ``keyboard_save``, ``seller_disable`` and
    ``device_revoke`` are written by the edge itself (no actor; server/edge_keys.py):
    their reply is kept with the write, and a retry is answered from it before the PIN
    and the catalog are checked. Before, the catalog edits' retries were refused
    ``conflict`` (the code now taken), a keyboard saved twice logged twice, a disable or
    a revoke retried said ``changed: false`` — though each first try was applied."""
    config = toml(table("shop", name="Épicerie", unknown_code="create"), stock_point("main"), lane("1"))
    catalog = "id,name,price,vat_rate,barcodes\nW1,Vin rouge 75 cl,8.90,20,3000000000014\n"
    attached, created = "3012345678902", "3012345678919"
    sellers = (CASHIER, SUPERVISOR, (*MANAGER, "manager"), ("lea", "1357", "cashier"))
    with configured_shop(tmp_path, config, catalog, sellers=sellers, tills=("1",)) as shop:
        shop.pair("pda")
        with trio.fail_after(60):
            async with connect(shop.ws_url, shop.tokens["1"], seller=MANAGER) as back_office:
                pda = next(d["device"] for d in (await back_office.ok("devices"))["devices"] if d["kind"] == "pda")
                admin = [("keyboard_save", {"pages": [{"name": "Vins", "keys": [{"article": "W1"}]}], "key": "kb-1"}),
                         ("seller_disable", {"seller": "lea", "key": "disable-1"}),
                         ("device_revoke", {"device": pda, "key": "revoke-1"})]
                firsts = [await back_office.ok(verb, **fields) for verb, fields in admin]
                tables = ("events", "replies", "sellers", "devices")
                before = await trio.to_thread.run_sync(counts, shop, *tables)
                for (verb, fields), first in zip(admin, firsts):
                    _same(first, await back_office.call(verb, **fields))
                assert await trio.to_thread.run_sync(counts, shop, *tables) == before
                await back_office.call("sign_out")
            async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
                attach = {"article": "W1", "code": attached, "supervisor_pin": SOPHIE_PIN, "key": "attach-1"}
                first_attach = await till.ok("barcode_attach", **attach)
                create = {"article": "N1", "name": "Cidre", "price": "4.20", "vat_rate": "20", "code": created,
                          "supervisor_pin": SOPHIE_PIN, "key": "create-1"}
                first_create = await till.ok("article_create", **create)
                before = await trio.to_thread.run_sync(counts, shop, "articles", "events", "replies")
                _same(first_attach, await till.call("barcode_attach", **attach))
                _same(first_create, await till.call("article_create", **create))
                assert await trio.to_thread.run_sync(counts, shop, "articles", "events", "replies") == before
                # Another edit under a used key: a conflict, nothing written.
                reused = await till.call("article_create", **{**create, "name": "Poiré"})
                assert (reused["code"], reused.get("key_reused")) == ("conflict", True), reused
                reused = await till.call("barcode_attach", **{**attach, "key": "create-1"})
                assert (reused["code"], reused.get("key_reused")) == ("conflict", True), reused
                assert await trio.to_thread.run_sync(counts, shop, "articles", "events", "replies") == before


async def test_an_edge_write_sent_twice_at_once_by_one_device_is_applied_once_and_answered_twice(tmp_path):
    """A till that reconnects while its first try is still being written sends the same
    keyed request again on its new connection: two sessions of one device ask it at once.
    The edge-written verbs (server/edge_keys.py) look their key up, then write: both
    tries found no reply yet, and the second was refused — ``keyboard_save`` a
    ``conflict`` ``key_reused`` ("send a new request with a new key": the till saves
    again), ``seller_disable`` said ``changed: false``, ``article_create`` ``conflict``
    (the article now exists) — for a request that was applied. Now one device's keyed
    edge write waits for the same key's write in flight: both get the first reply."""
    config = toml(table("shop", name="Épicerie", unknown_code="create"), stock_point("main"), lane("1"))
    catalog = "id,name,price,vat_rate,barcodes\nW1,Vin rouge 75 cl,8.90,20,3000000000014\n"
    rounds = 4
    sellers = (CASHIER, SUPERVISOR, (*MANAGER, "manager"),
               *((f"lea{n}", "1357", "cashier") for n in range(rounds)))
    with configured_shop(tmp_path, config, catalog, sellers=sellers, tills=("1",)) as shop:
        token = shop.tokens["1"]
        with trio.fail_after(90):
            async with connect(shop.ws_url, token, seller=MANAGER) as one, \
                    connect(shop.ws_url, token, seller=MANAGER) as two:
                asked = [("keyboard_save", {"pages": [{"name": f"Vins {n}", "keys": [{"article": "W1"}]}],
                                            "key": f"kb-{n}"}) for n in range(rounds)]
                asked += [("seller_disable", {"seller": f"lea{n}", "key": f"disable-{n}"}) for n in range(rounds)]
                asked += [("article_create", {"article": f"N{n}", "name": "Cidre", "price": "4.20", "vat_rate": "20",
                                              "code": code, "key": f"create-{n}"})
                          for n, code in enumerate(EAN_CODES[:rounds])]
                for verb, fields in asked:
                    replies: dict[int, dict[str, Any]] = {}

                    async def send(client: Any, slot: int, verb: str = verb, fields: dict = fields,
                                   replies: dict = replies) -> None:
                        replies[slot] = await client.call(verb, **fields)

                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(send, one, 1)
                        nursery.start_soon(send, two, 2)
                    _same(replies[1], replies[2])
                    if verb == "seller_disable":
                        assert replies[1]["changed"] is True, replies
        events = await trio.to_thread.run_sync(
            rows, shop, "SELECT kind, COUNT(*) FROM events WHERE kind IN "
            "('keyboard_saved', 'seller_disabled', 'article_created') GROUP BY kind")
        assert dict(events) == {"keyboard_saved": rounds, "seller_disabled": rounds, "article_created": rounds}
