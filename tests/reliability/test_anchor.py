"""The fiscal anchor in small: its pure rules, its file, and the journal keeping it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.journal_open import FiscalAnchorError
from laneserver.actors.runtime import open_mailbox
from laneserver.rules.fiscal import (
    GENESIS,
    Anchor,
    AnchorHead,
    AnchorUnreadable,
    check_head,
    decode_anchor,
    encode_anchor,
    signed_bytes,
)
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.ticket import Line, Payment, vat_breakdown
from laneserver.store.fiscal import ANCHOR_NAME, Heads, read_anchor, signature_checks, write_anchor
from laneserver.store.shop_key import key_path, load_key, public_hex
from laneserver.store.ops import RecordSale

H1, H2 = "1" * 64, "2" * 64


# --- rules ---------------------------------------------------------------------------------


KEY, SIGNATURE = "a" * 64, "b" * 128


def test_an_anchor_survives_its_encoding():
    anchor = Anchor(sale=AnchorHead(12, H1), payment=AnchorHead(15, H2), key=KEY, signature=SIGNATURE)
    assert decode_anchor(encode_anchor(anchor)) == anchor
    assert json.loads(encode_anchor(anchor)) == {"format": 2, "sale": {"number": 12, "hash": H1},
                                                 "payment": {"number": 15, "hash": H2},
                                                 "money": {"number": 0, "hash": GENESIS}, "chains": {},
                                                 "key": KEY, "signature": SIGNATURE}


def test_the_signature_covers_the_format_the_key_and_every_head_with_a_record():
    anchor = Anchor(sale=AnchorHead(12, H1), payment=AnchorHead(15, H2), chains={"invoice": AnchorHead(1, H2)},
                    key=KEY)
    assert json.loads(signed_bytes(anchor)) == {"format": 2, "key": KEY, "heads": {
        "sale": {"number": 12, "hash": H1}, "payment": {"number": 15, "hash": H2},
        "invoice": {"number": 1, "hash": H2}}}
    # An empty chain named or not: the same anchor, the same signed bytes.
    assert signed_bytes(msgspec.structs.replace(anchor, chains={**anchor.chains, "jet": AnchorHead(0, GENESIS)})
                        ) == signed_bytes(anchor)
    for changed in (msgspec.structs.replace(anchor, sale=AnchorHead(11, H1)),
                    msgspec.structs.replace(anchor, chains={"invoice": AnchorHead(1, H1)}),
                    msgspec.structs.replace(anchor, key="c" * 64), msgspec.structs.replace(anchor, format=1)):
        assert signed_bytes(changed) != signed_bytes(anchor)


def test_an_unsigned_anchor_of_an_earlier_release_still_reads():
    old = b'{"format": 1, "sale": {"number": 3, "hash": "%s"}, "payment": {"number": 4, "hash": "%s"}}' % (
        H1.encode(), H2.encode())
    anchor = decode_anchor(old)
    assert anchor.money == AnchorHead(0, GENESIS) and not anchor.signed
    assert [chain for chain, _ in anchor.heads()] == ["sale", "payment", "money"]
    with_money = Anchor(format=1, sale=AnchorHead(3, H1), payment=AnchorHead(4, H2), money=AnchorHead(2, H1))
    assert decode_anchor(encode_anchor(with_money)) == with_money
    with pytest.raises(AnchorUnreadable):
        decode_anchor(encode_anchor(with_money).replace(b'"number":2', b'"number":0'))


@pytest.mark.parametrize("text", [
    "", "not json", "[]", '{"format": 1}',
    '{"format": 2, "sale": {"number": 1, "hash": "%s"}, "payment": {"number": 0, "hash": "%s"}}' % (H1, GENESIS),
    '{"format": 3, "sale": {"number": 1, "hash": "%s"}, "payment": {"number": 0, "hash": "%s"}, "key": "%s",'
    ' "signature": "%s"}' % (H1, GENESIS, KEY, SIGNATURE),
    '{"format": 2, "sale": {"number": 1, "hash": "%s"}, "payment": {"number": 0, "hash": "%s"}, "key": "%s",'
    ' "signature": "%s"}' % (H1, GENESIS, KEY, SIGNATURE[:-2]),
    '{"format": 2, "sale": {"number": 1, "hash": "%s"}, "payment": {"number": 0, "hash": "%s"}, "key": "%s",'
    ' "signature": "%s"}' % (H1, GENESIS, KEY.upper(), SIGNATURE),
    '{"format": 1, "sale": {"number": 1, "hash": "%s"}, "payment": {"number": 0, "hash": "%s"},'
    ' "signature": "%s"}' % (H1, GENESIS, SIGNATURE),
    '{"format": 1, "sale": {"number": -1, "hash": "%s"}, "payment": {"number": 0, "hash": "%s"}}' % (H1, GENESIS),
    '{"format": 1, "sale": {"number": 1, "hash": "abc"}, "payment": {"number": 0, "hash": "%s"}}' % GENESIS,
    '{"format": 1, "sale": {"number": 0, "hash": "%s"}, "payment": {"number": 0, "hash": "%s"}}' % (H1, GENESIS),
    '{"format": 1, "sale": {"number": 1, "hash": "%s"}, "payment": {"number": 0, "hash": "%s"}, "x": 1}' % (H1, GENESIS),
    '{"format": 1, "sale": {"number": "1", "hash": "%s"}, "payment": {"number": 0, "hash": "%s"}}' % (H1, GENESIS),
])
def test_anything_but_an_anchor_is_unreadable(text):
    with pytest.raises(AnchorUnreadable):
        decode_anchor(text.encode())


def test_check_head_is_a_prefix_check():
    head = AnchorHead(5, H1)
    assert check_head("sale", AnchorHead(0, GENESIS), 0, GENESIS) is None     # nothing anchored yet
    assert check_head("sale", head, 5, H1) is None                            # the head itself
    assert check_head("sale", head, 9, H1) is None                            # records after it: fine
    missing = check_head("sale", head, 3, None)
    assert missing is not None and missing.number == 5
    assert str(missing).startswith("sale record 5: missing: the anchor holds sale record 5 but the database ends at 3")
    changed = check_head("payment", head, 5, H2)
    assert changed is not None and "is not the anchored" in str(changed) and str(changed).startswith("payment record 5")


# --- the file ------------------------------------------------------------------------------


def test_write_anchor_replaces_the_file_whole_and_signs_it(tmp_path: Path):
    path = tmp_path / ANCHOR_NAME
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    assert read_anchor(path) is None
    write_anchor(path, Heads(1, H1, 2, H2), key)
    write_anchor(path, Heads(2, H2, 3, H1, 1, H2), key)
    anchor = read_anchor(path)
    assert anchor is not None and anchor.same_heads(
        Anchor(sale=AnchorHead(2, H2), payment=AnchorHead(3, H1), money=AnchorHead(1, H2)))
    assert anchor.key == public_hex(key) and signature_checks(anchor, public_hex(key))
    assert not signature_checks(anchor, public_hex(other))
    forged = msgspec.structs.replace(anchor, sale=AnchorHead(1, H1))
    assert not signature_checks(forged, public_hex(key))
    assert not signature_checks(msgspec.structs.replace(anchor, format=1, key="", signature=""), public_hex(key))
    assert sorted(p.name for p in tmp_path.iterdir()) == [ANCHOR_NAME]  # no temp file left
    path.write_text("{")
    with pytest.raises(AnchorUnreadable):
        read_anchor(path)


# --- the journal ---------------------------------------------------------------------------


def _sale(n: int) -> RecordSale:
    line = Line(line=1, article="A001", name="Galets", qty=Decimal(n), unit_price=Decimal("8.90"), vat_rate=Decimal(20))
    total = line.total
    return RecordSale(stock_point="main", sale=SaleCompleted(
        lane="1", seller="marie", customer=None, at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), lines=(line,),
        vat=vat_breakdown((line,)), total=total, paid=total, change=Decimal(0),
        payments=(Payment(payment=1, mode="card", amount=total),)))


async def _with_journal(db: Path, work) -> JournalActor:
    actor = JournalActor(db)
    address, inbox = open_mailbox("journal", 16)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run, inbox)
            await work(address)
            address.close()
    return actor


async def test_the_journal_anchors_each_sale_within_the_lag(tmp_path: Path):
    from laneserver.actors.journal import ANCHOR_MAX_LAG
    db = tmp_path / "laneserver.sqlite3"

    async def sell(journal) -> None:
        for n in range(1, 4):
            await commit(journal, _sale(n))
            await trio.sleep(ANCHOR_MAX_LAG * 1.5)  # idle: the anchor of this sale is written
            anchor = read_anchor(tmp_path / ANCHOR_NAME)
            assert anchor is not None and (anchor.sale.number, anchor.payment.number) == (n, n)
        await read(journal, lambda _db: None)  # a batch with no sale writes no anchor
        await trio.sleep(ANCHOR_MAX_LAG * 1.5)

    actor = await _with_journal(db, sell)
    assert actor.anchor_writes == 3


async def test_the_journal_refuses_a_database_behind_its_anchor(tmp_path: Path):
    db = tmp_path / "laneserver.sqlite3"

    async def sell(journal) -> None:
        await commit(journal, _sale(1))

    await _with_journal(db, sell)
    key = load_key(key_path(db))
    assert key is not None
    write_anchor(tmp_path / ANCHOR_NAME, Heads(2, H1, 2, H2), key)  # as if sale 2 had been removed
    with pytest.raises(BaseException) as raised:
        await _with_journal(db, sell)
    refusal = raised.value
    while isinstance(refusal, BaseExceptionGroup):
        refusal = refusal.exceptions[0]
    assert isinstance(refusal, FiscalAnchorError)
    assert "refusing to start" in str(refusal) and "sale record 2: missing" in str(refusal)
    assert "laneserver verify" in str(refusal) and f"move {ANCHOR_NAME}" in str(refusal)


async def test_the_journal_anchors_the_money_chain_and_refuses_a_database_that_lost_its_end(tmp_path: Path):
    """Money taken outside sales (``money_in``) is a chain of its own: the anchor holds its head."""
    from laneserver.actors.journal import ANCHOR_MAX_LAG
    from laneserver.rules.customers import Customer
    from laneserver.store.ops import PutCustomer, ReceiveMoney

    db = tmp_path / "laneserver.sqlite3"
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    async def take(journal) -> None:
        await commit(journal, PutCustomer(customer=Customer(customer="C1", name="Ada"), at=at))
        for n in range(1, 3):
            await commit(journal, ReceiveMoney(at=at, kind="deposit", mode="cash", amount=Decimal(n), customer="C1"))
        await trio.sleep(ANCHOR_MAX_LAG * 1.5)

    await _with_journal(db, take)
    anchor = read_anchor(tmp_path / ANCHOR_NAME)
    assert anchor is not None and anchor.money.number == 2 and anchor.sale.number == 0
    import sqlite3
    raw = sqlite3.connect(db)
    raw.execute("DROP TRIGGER money_in_no_delete")
    raw.execute("DELETE FROM money_in WHERE number = 2")
    raw.commit()
    raw.close()
    with pytest.raises(BaseException) as raised:
        await _with_journal(db, take)
    refusal = raised.value
    while isinstance(refusal, BaseExceptionGroup):
        refusal = refusal.exceptions[0]
    assert isinstance(refusal, FiscalAnchorError) and "money record 2: missing" in str(refusal)
