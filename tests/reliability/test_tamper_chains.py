"""The tamper matrix over the chains kept in ``fiscal_records`` (invoice, drawer,
account) and the signed anchor.

One small shop's books (tests/fiscal_shop.py: 4 records in each chain, a backup after
the first 2, written by the real journal) are built once for the module. Each case
copies them, tampers the way someone with ``sqlite3`` and the server stopped would
(fiscal triggers dropped; the anchor file rewritten, with any key but the shop's), and
expects ``laneserver verify`` to exit 1 with the first BROKEN line naming the first bad
record or the anchor. The journal's start refuses the same books.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from laneserver import cli
from laneserver.actors.journal import JournalActor
from laneserver.actors.journal_open import BooksRefused, FiscalAnchorError, FiscalChainBroken
from laneserver.actors.runtime import open_mailbox
from laneserver.rules.fiscal import chain_hash, encode_anchor
from laneserver.store import fiscal, shop_key
from laneserver.store.schema import DB_NAME
from tests import fiscal_shop
from tests.fiscal_shop import CHAINS, RECORDS, rows, tamper

# A hashed field of record 2 of each chain (an invoice, a closing count, an account spend).
FIELD = {"invoice": "total", "drawer": "counted", "account": "delta"}
# The same field changed to "1.00" in the row record 2 describes.
ROW_EDIT = {
    "invoice": "UPDATE invoices SET data=json_set(data, '$.total', '1.00'), total='1.00' WHERE number=2",
    "drawer": "UPDATE drawer_counts SET counted='1.00' WHERE seq=(SELECT min(seq) FROM drawer_counts)",
    "account": "UPDATE customer_movements SET delta='1.00' WHERE seq=(SELECT min(seq) + 1 FROM customer_movements)",
}
TABLE = {"invoice": "invoices", "drawer": "drawer_counts", "account": "customer_movements"}


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("chains")
    fiscal_shop.build(root / "data", backup=root / "backup.sqlite3")
    return root


@pytest.fixture
def data(books, tmp_path) -> Path:
    shutil.copytree(books / "data", tmp_path / "data")
    shutil.copy(books / "backup.sqlite3", tmp_path / "backup.sqlite3")
    return tmp_path / "data"


def verify(data: Path, capsys, *extra: str) -> tuple[int, str]:
    code = cli.main(["verify", "--data", str(data), *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


# --- the matrix, per chain ----------------------------------------------------------------


def edit_a_hashed_field(data, chain):
    tamper(data, (f"UPDATE fiscal_records SET record=json_set(record, '$.{FIELD[chain]}', '1.00')"
                  " WHERE chain=? AND number=2", (chain,)))


def edit_the_row_it_records(data, chain):
    tamper(data, ROW_EDIT[chain])


def delete_the_middle(data, chain):
    tamper(data, ("DELETE FROM fiscal_records WHERE chain=? AND number=2", (chain,)))


def delete_the_tail(data, chain):
    tamper(data, ("DELETE FROM fiscal_records WHERE chain=? AND number=?", (chain, RECORDS)))


def reorder(data, chain):
    [one] = rows(data, "SELECT record, prev_hash, hash FROM fiscal_records WHERE chain=? AND number=1", (chain,))
    [two] = rows(data, "SELECT record, prev_hash, hash FROM fiscal_records WHERE chain=? AND number=2", (chain,))
    sql = "UPDATE fiscal_records SET record=?, prev_hash=?, hash=? WHERE chain=? AND number=?"
    tamper(data, (sql, (*two, chain, 1)), (sql, (*one, chain, 2)))


def restore_an_older_backup(data, chain):
    for suffix in ("", "-wal", "-shm"):
        (data / (DB_NAME + suffix)).unlink(missing_ok=True)
    shutil.copy(data.parent / "backup.sqlite3", data / DB_NAME)


def rehash_from(data: Path, chain: str, number: int, field: str, value: str) -> None:
    """A careful forger: change record ``number`` and recompute the hashes after it, so
    the chain itself is intact again."""
    db = sqlite3.connect(data / DB_NAME)
    try:
        chain_rows = list(fiscal.records(db, chain))
    finally:
        db.close()
    statements = []
    prev = chain_rows[number - 2].hash if number > 1 else fiscal.GENESIS
    for row in chain_rows[number - 1:]:
        record = dict(row.record)
        if row.number == number:
            record[field] = value
        digest = chain_hash(prev, record)
        statements.append(("UPDATE fiscal_records SET record=?, prev_hash=?, hash=? WHERE chain=? AND number=?",
                           (fiscal.canonical(record).decode(), prev, digest, chain, row.number)))
        prev = digest
    tamper(data, *statements)


def forge_anchor(data: Path, key: Ed25519PrivateKey) -> None:
    """The anchor of the database as it now is, signed with ``key``."""
    db = sqlite3.connect(data / DB_NAME)
    try:
        heads = fiscal.load_heads(db)
    finally:
        db.close()
    (data / fiscal.ANCHOR_NAME).write_bytes(encode_anchor(fiscal.signed_anchor(heads, key)))


def rewrite(data: Path, chain: str) -> None:
    """Record 2's row, the record and every hash after it rewritten consistently."""
    tamper(data, ROW_EDIT[chain])
    rehash_from(data, chain, 2, FIELD[chain], "1.00")


def rewrite_database_and_anchor_without_the_key(data, chain):
    """The books rewritten consistently, and an anchor of the result signed with the
    forger's own key."""
    rewrite(data, chain)
    forge_anchor(data, Ed25519PrivateKey.generate())


MATRIX: list[tuple[Callable, Callable[[str], list[str]]]] = [
    (edit_a_hashed_field, lambda c: [f"{c} record 2: content does not match its hash"]),
    (edit_the_row_it_records, lambda c: [f"{c} record 2: its {TABLE[c]} row does not say what it records"]),
    (delete_the_middle, lambda c: [f"{c} record 2: missing (next stored record is 3)"]),
    # Its row is still there: a row after the chain's end, and the anchored head is missing.
    (delete_the_tail, lambda c: [f"{c} record 4: a row of", f"the anchor holds {c} record 4 but the database ends at 3"]),
    (reorder, lambda c: [f"{c} record 1: previous-hash link broken"]),
    (restore_an_older_backup, lambda c: ["the database does not hold its anchored head",
                                         f"{c} record 4: missing: the anchor holds {c} record 4 but the database "
                                         "ends at 2"]),
    (rewrite_database_and_anchor_without_the_key, lambda c: ["is signed by another key", "fiscal-anchor.json"]),
]
CASES = [(damage, words, chain) for damage, words in MATRIX for chain in CHAINS]


def test_the_intact_books_pass(data, capsys):
    code, output = verify(data, capsys)
    assert code == 0, output
    for label in ("(invoices)", "(drawer movements and counts)", "(customer account movements)"):
        assert f"ok: {RECORDS} records, last {RECORDS}, head" in output and label in output
    assert "account 4, drawer 4 and invoice 4 present with their anchored hashes; signed by the shop key" in output


@pytest.mark.parametrize(("damage", "words", "chain"), CASES,
                         ids=[f"{d.__name__}-{c}" for d, _, c in CASES])
def test_verify_detects(data, damage, words, chain, capsys):
    damage(data, chain)
    code, output = verify(data, capsys)
    assert code == 1, output
    expected = words(chain)
    for word in expected:
        assert word in output, (word, output)
    first = next(line for line in output.splitlines() if line.startswith("BROKEN"))
    assert expected[0] in first, output


# --- the signed anchor: a forger without the shop key -----------------------------------


def rewrite_with_an_unsigned_anchor(data):
    rewrite(data, "invoice")
    db = sqlite3.connect(data / DB_NAME)
    heads = fiscal.load_heads(db)
    db.close()
    unsigned = msgspec.structs.replace(fiscal.anchor_of(heads), format=1)  # as a release that did not sign
    (data / fiscal.ANCHOR_NAME).write_bytes(encode_anchor(unsigned))


def rewrite_and_replace_the_key_file(data):
    """The forger makes a key of their own, signs with it and puts it in place of the
    shop's: the database recorded the shop's."""
    rewrite(data, "account")
    (data / shop_key.KEY_NAME).unlink()
    forge_anchor(data, shop_key.load_or_create(data / shop_key.KEY_NAME))


def change_one_digit_of_the_signature(data):
    text = (data / fiscal.ANCHOR_NAME).read_text()
    at = text.index('"signature":"') + len('"signature":"') + 10
    (data / fiscal.ANCHOR_NAME).write_text(text[:at] + ("1" if text[at] != "1" else "2") + text[at + 1:])


ANCHOR_MATRIX = [
    (rewrite_with_an_unsigned_anchor, "is not signed, but this shop signs its anchors"),
    (rewrite_and_replace_the_key_file, "is not the key this database recorded"),
    (change_one_digit_of_the_signature, "has a signature that does not check with the shop key"),
]


@pytest.mark.parametrize(("damage", "words"), ANCHOR_MATRIX, ids=[d.__name__ for d, _ in ANCHOR_MATRIX])
def test_verify_detects_an_anchor_not_signed_by_the_shop_key(data, damage, words, capsys):
    damage(data)
    code, output = verify(data, capsys)
    assert code == 1, output
    first = next(line for line in output.splitlines() if line.startswith("BROKEN"))
    assert words in first, output


def test_an_auditor_held_key_finds_a_forger_who_replaced_the_key_and_its_record(data, tmp_path, capsys):
    """Everything in the data folder rewritten, the key and its record in the database
    too: only a public key kept elsewhere (an archive, an auditor) tells."""
    auditor = tmp_path / "shop-key.pub"
    auditor.write_text(shop_key.public_hex(shop_key.load_key(data / shop_key.KEY_NAME)))
    rewrite_and_replace_the_key_file(data)
    tamper(data, ("UPDATE meta SET value=? WHERE key='shop_key'",
                  (shop_key.public_hex(shop_key.load_key(data / shop_key.KEY_NAME)),)))
    assert verify(data, capsys)[0] == 0  # consistent in itself
    code, output = verify(data, capsys, "--key", str(auditor))
    assert code == 1 and "BROKEN: the database recorded another shop key" in output, output


# --- the start refuses the same books ------------------------------------------------------


async def _start(data: Path) -> None:
    actor = JournalActor(data / DB_NAME)
    address, inbox = open_mailbox("journal", 4)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run, inbox)
            address.close()


def edit_a_record_not_checked_yet(data, chain):
    """Records 3 and 4 were written after the last start: the next start walks them."""
    tamper(data, ("UPDATE fiscal_records SET record=json_set(record, '$.seller', 'paul')"
                  " WHERE chain=? AND number=3", (chain,)))


START_CASES = [(damage, refused, chain) for damage, refused in (
    (edit_a_record_not_checked_yet, FiscalChainBroken), (delete_the_tail, FiscalAnchorError),
    (rewrite_database_and_anchor_without_the_key, FiscalAnchorError)) for chain in CHAINS]


@pytest.mark.parametrize(("damage", "refused", "chain"), START_CASES,
                         ids=[f"{d.__name__}-{c}" for d, _, c in START_CASES])
def test_the_start_refuses(data, damage, refused, chain):
    damage(data, chain)
    anchor_before = (data / fiscal.ANCHOR_NAME).read_bytes()
    with pytest.raises(BaseException) as raised:  # noqa: PT011 - unwrapped below
        trio.run(_start, data)
    error = raised.value
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    assert isinstance(error, refused) and isinstance(error, BooksRefused), error
    assert "refusing to start" in str(error) and "laneserver verify" in str(error)
    assert (data / fiscal.ANCHOR_NAME).read_bytes() == anchor_before
