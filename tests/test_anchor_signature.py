"""The signed anchor and the chains the writer keeps: the journal makes the shop key at
its first start and records its public part, signs every anchor it writes, accepts an
unsigned (format-1) anchor once, and refuses a bad signature, a missing or a replaced
key; the invoice, drawer and account chains are written in the unit of the row they
describe, with business content only."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import stat
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from laneserver import cli
from laneserver.actors.journal import CommitFailed, JournalActor, commit
from laneserver.actors.journal_open import FiscalAnchorError
from laneserver.actors.runtime import open_mailbox
from laneserver.rules.fiscal import encode_anchor
from laneserver.store import fiscal, shop_key
from laneserver.store.ops import MoveAccount
from laneserver.store.schema import DB_NAME
from tests import fiscal_shop
from tests.fiscal_shop import AT


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("signed") / "data"
    fiscal_shop.build(data)
    return data


@pytest.fixture
def data(books, tmp_path) -> Path:
    shutil.copytree(books, tmp_path / "data")
    return tmp_path / "data"


def verify(data: Path, *extra: str, capsys) -> tuple[int, str]:
    code = cli.main(["verify", "--data", str(data), *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


async def _start(data: Path) -> None:
    actor = JournalActor(data / DB_NAME)
    address, inbox = open_mailbox("journal", 4)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run, inbox)
            address.close()


def refusal(data: Path) -> BaseException:
    try:
        trio.run(_start, data)
    except BaseException as error:  # noqa: BLE001 - unwrapped and returned to the test
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        return error
    raise AssertionError("started without a refusal")


def anchor(data: Path) -> dict:
    return json.loads((data / fiscal.ANCHOR_NAME).read_text())


def the_key(data: Path) -> Ed25519PrivateKey:
    key = shop_key.load_key(data / shop_key.KEY_NAME)
    assert key is not None
    return key


# --- the key and the signed anchor ------------------------------------------------------


def test_the_first_start_makes_the_key_records_it_and_signs_the_anchor(data, capsys):
    key_file = data / shop_key.KEY_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public = shop_key.public_hex(the_key(data))
    assert fiscal_shop.rows(data, "SELECT value FROM meta WHERE key='shop_key'") == [(public,)]
    assert fiscal_shop.rows(data, "SELECT count(*) FROM events WHERE kind='ShopKeyRecorded'") == [(0,)]  # no books yet
    written = anchor(data)
    assert written["format"] == 2 and written["key"] == public and len(written["signature"]) == 128
    assert written["chains"].keys() == {"invoice", "drawer", "account"}
    code, output = verify(data, capsys=capsys)
    assert code == 0, output
    assert f"signed by the shop key {shop_key.fingerprint(public)}" in output
    # Another start checks the signature and keeps the same key.
    trio.run(_start, data)
    assert shop_key.public_hex(the_key(data)) == public


def test_verify_with_an_auditor_held_public_key(data, tmp_path, capsys):
    public = the_key(data).public_key()
    pem = tmp_path / "shop.pub"
    pem.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    hexed = tmp_path / "shop.hex"
    hexed.write_text(shop_key.public_hex(public) + "\n")
    for pubfile in (pem, hexed):
        code, output = verify(data, "--key", str(pubfile), capsys=capsys)
        assert code == 0, output
    other = tmp_path / "other.hex"
    other.write_text(shop_key.public_hex(Ed25519PrivateKey.generate()))
    code, output = verify(data, "--key", str(other), capsys=capsys)
    assert code == 1 and "BROKEN: the database recorded another shop key" in output, output
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key")
    code, output = verify(data, "--key", str(garbage), capsys=capsys)
    assert code == 2 and "not an Ed25519 public key" in output and "Traceback" not in output


def _forge_anchor(data: Path, key: Ed25519PrivateKey | None) -> None:
    """An anchor of the database's heads as it is, written without the shop key: signed
    by ``key``, or unsigned (format 1) when None."""
    db = sqlite3.connect(data / DB_NAME)
    heads = fiscal.load_heads(db)
    db.close()
    if key is None:
        forged = msgspec.structs.replace(fiscal.anchor_of(heads), format=1)
    else:
        forged = fiscal.signed_anchor(heads, key)
    (data / fiscal.ANCHOR_NAME).write_bytes(encode_anchor(forged))


@pytest.mark.parametrize(("forge", "words"), [
    (lambda data: _forge_anchor(data, Ed25519PrivateKey.generate()), "is signed by another key"),
    (lambda data: _forge_anchor(data, None), "is not signed, but this shop signs its anchors"),
    (lambda data: (data / fiscal.ANCHOR_NAME).write_text(
        json.dumps({**anchor(data), "signature": "0" * 128})), "has a signature that does not check with the shop key"),
], ids=["another_key", "unsigned", "signature_changed"])
def test_an_anchor_not_signed_by_the_shop_key_is_broken_and_refuses_the_start(data, forge, words, capsys):
    forge(data)
    code, output = verify(data, capsys=capsys)
    assert code == 1 and f"BROKEN: anchor {data / fiscal.ANCHOR_NAME} {words}" in output, output
    before = (data / fiscal.ANCHOR_NAME).read_bytes()
    error = refusal(data)
    assert isinstance(error, FiscalAnchorError), error
    assert "not by the shop key" in str(error) and "laneserver verify" in str(error)
    assert (data / fiscal.ANCHOR_NAME).read_bytes() == before  # nothing written


def test_an_unsigned_anchor_of_an_earlier_release_is_accepted_once_then_signed(data, capsys):
    """A database served by a release that did not sign: no key recorded, a format-1 anchor."""
    (data / shop_key.KEY_NAME).unlink()
    fiscal_shop.tamper(data, "DELETE FROM meta WHERE key='shop_key'")
    _forge_anchor(data, None)
    code, output = verify(data, capsys=capsys)
    assert code == 0 and "not signed yet (the server signs it at its next start)" in output, output
    trio.run(_start, data)
    written = anchor(data)
    assert written["format"] == 2 and written["key"] == shop_key.public_hex(the_key(data))
    [(event,)] = fiscal_shop.rows(data, "SELECT data FROM events WHERE kind='ShopKeyRecorded'")
    assert json.loads(event)["key"] == written["key"]  # recorded on existing books: in the audit trail
    assert verify(data, capsys=capsys)[0] == 0
    # From now on an unsigned anchor is a forgery.
    _forge_anchor(data, None)
    assert isinstance(refusal(data), FiscalAnchorError)


def test_a_replaced_key_is_refused_by_verify_and_the_start(data, capsys):
    recorded = shop_key.fingerprint(shop_key.public_hex(the_key(data)))
    original = (data / shop_key.KEY_NAME).read_bytes()
    (data / shop_key.KEY_NAME).unlink()
    replacement = shop_key.load_or_create(data / shop_key.KEY_NAME)
    code, output = verify(data, capsys=capsys)
    assert code == 1, output
    for words in ("BROKEN: the shop key", f"is not the key this database recorded at its first signed start "
                  f"(fingerprint {recorded})", "was replaced", "put back the original shop-key.pem"):
        assert words in output, (words, output)
    error = refusal(data)
    assert isinstance(error, FiscalAnchorError) and "was replaced" in str(error)
    assert shop_key.public_hex(the_key(data)) == shop_key.public_hex(replacement)  # left as found
    (data / shop_key.KEY_NAME).write_bytes(original)  # store IT puts it back
    assert verify(data, capsys=capsys)[0] == 0
    trio.run(_start, data)


def test_a_missing_key_is_not_made_again(data, capsys):
    (data / shop_key.KEY_NAME).unlink()
    code, output = verify(data, capsys=capsys)
    assert code == 1 and "BROKEN: the shop key" in output and "is missing" in output, output
    error = refusal(data)
    assert isinstance(error, FiscalAnchorError) and "never makes a second key" in str(error)
    assert not (data / shop_key.KEY_NAME).exists()
    (data / shop_key.KEY_NAME).write_text("garbage")
    error = refusal(data)
    assert isinstance(error, FiscalAnchorError) and "is not a private key" in str(error)
    code, output = verify(data, capsys=capsys)
    assert code == 1 and "the shop key is unreadable" in output, output


# --- what the writer chains -------------------------------------------------------------


def test_invoices_drawer_and_account_movements_are_chained_with_business_content(data):
    records = {chain: [json.loads(r) for (r,) in fiscal_shop.rows(
        data, "SELECT record FROM fiscal_records WHERE chain=? ORDER BY number", (chain,))]
        for chain in fiscal_shop.CHAINS}
    assert [r["number"] for r in records["invoice"]] == [1, 2, 3, 4]
    first = records["invoice"][0]
    assert {k: first[k] for k in ("invoice", "name", "sale", "customer", "customer_name", "lane", "seller", "total")
            } == {"invoice": 1, "name": first["name"], "sale": 1, "customer": "C1", "customer_name": "SARL Martin",
                  "lane": "1", "seller": "marie", "total": "8.90"}
    assert records["invoice"][1]["sale"] == 3  # the sale's number, not a row id
    assert [(r["type"], r.get("kind")) for r in records["drawer"]] == [
        ("movement", "float"), ("count", None), ("movement", "withdrawal"), ("count", None)]
    count = records["drawer"][1]
    assert (count["expected"], count["counted"], count["difference"], count["last_sale"]) == (
        "60.00", "60.00", "0.00", 2)
    assert [(r["type"], r.get("delta", r.get("amount")), r.get("balance")) for r in records["account"]] == [
        ("account", "50.00", "50.00"), ("account", "-12.50", "37.50"), ("voucher_issued", "30.00", None),
        ("voucher_used", "30.00", None)]
    assert records["account"][0]["customer_name"] == "SARL Martin"
    for chain in records.values():
        for record in chain:
            assert not {"seq", "id", "rowid", "last_movement"} & record.keys()
            assert record["at"].startswith("2026-12-06T09:")


async def _failing_unit(data: Path) -> None:
    actor = JournalActor(data / DB_NAME)
    address, inbox = open_mailbox("journal", 4)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run, inbox)
            ok = MoveAccount(at=AT, customer="C1", account="credit", delta=Decimal("1.00"), kind="deposit")
            too_much = MoveAccount(at=AT, customer="C1", account="credit", delta=Decimal("-1000.00"), kind="spend")
            with pytest.raises(CommitFailed):
                await commit(address, ok, too_much)
            [moved] = await commit(address, ok)
            assert moved.balance == Decimal("38.50")  # 37.50 + 1.00: the failed unit left nothing
            address.close()


def test_a_failed_unit_leaves_no_record_and_no_gap(data, capsys):
    trio.run(_failing_unit, data)
    assert fiscal_shop.rows(data, "SELECT number FROM fiscal_records WHERE chain='account' ORDER BY number") == [
        (1,), (2,), (3,), (4,), (5,)]
    code, output = verify(data, capsys=capsys)
    assert code == 0, output


def test_a_key_lost_for_good_is_replaced_only_by_store_its_documented_steps(data, capsys):
    """docs/operations.md "A refused start-up": forget the recorded key, move the anchor
    aside; the start makes a new key, anchors the books as they are, and journals both."""
    (data / shop_key.KEY_NAME).unlink()
    assert isinstance(refusal(data), FiscalAnchorError)
    fiscal_shop.tamper(data, "DELETE FROM meta WHERE key='shop_key'")
    assert isinstance(refusal(data), FiscalAnchorError)  # the anchor is signed by the lost key
    (data / fiscal.ANCHOR_NAME).rename(data.parent / "fiscal-anchor.json.replaced")
    trio.run(_start, data)
    kinds = fiscal_shop.rows(data, "SELECT kind FROM events WHERE source='journal' ORDER BY seq")
    assert kinds == [("FiscalAnchorReset",), ("ShopKeyRecorded",)]
    assert anchor(data)["key"] == shop_key.public_hex(the_key(data))
    assert verify(data, capsys=capsys)[0] == 0


def test_an_archive_is_not_signed_with_a_replaced_key(data, tmp_path):
    from laneserver.store.archive import ArchiveRefused, write_archive

    (data / shop_key.KEY_NAME).unlink()
    shop_key.load_or_create(data / shop_key.KEY_NAME)
    with pytest.raises(ArchiveRefused, match="is not the key this database recorded"):
        write_archive(data / DB_NAME, tmp_path / "a.jsonl", "2026-12", dt.UTC, AT, "Demo")
    assert not (tmp_path / "a.jsonl").exists()
