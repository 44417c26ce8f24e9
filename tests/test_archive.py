"""rules/archive.py and store/archive.py: a month's signed archive, checked offline, and
every single byte changed in it refused."""

from __future__ import annotations

import json

import pytest

from laneserver.rules import archive
from laneserver.rules.fiscal import GENESIS, chain_hash
from laneserver.store import shop_key
from laneserver.store.archive import check_file

def rows(chain: str, first: int, count: int, prev: str) -> list[archive.ArchiveRow]:
    out = []
    for number in range(first, first + count):
        record = {"number": number, "at": f"2026-11-0{number % 9 + 1}T10:00:00+01:00", "total": f"{number}.50",
                  "seller": "élodie"}
        digest = chain_hash(prev, record)
        out.append(archive.ArchiveRow(chain, number, record, prev, digest))
        prev = digest
    return out


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    return shop_key.load_or_create(tmp_path_factory.mktemp("key") / shop_key.KEY_NAME)


def made(key, *, sale_after: int = 4) -> bytes:
    sales = rows("sale", sale_after + 1, 3, "ab" * 32)
    jet = rows("jet", 1, 2, GENESIS)
    header = {"shop": "Épicerie", "period": "2026-11", "partial": False, "public_key": shop_key.public_hex(key),
              "chains": ["sale", "jet"]}
    return b"".join(archive.build(header, [("sale", sale_after, "ab" * 32, sales), ("jet", 0, GENESIS, jet)],
                                  lambda digest: shop_key.sign(key, digest)))


def checked(data: bytes, public: str | None = None) -> archive.Checked:
    def signed(public_hex: str, message: bytes, signature: str) -> bool:
        return shop_key.signed_by(shop_key.parse_public(public_hex), message, signature)
    return archive.check(data.splitlines(keepends=True), signed, public)


def test_an_archive_checks_and_says_what_it_holds(key):
    result = checked(made(key))
    assert result.records == {"sale": 3, "jet": 2}
    assert result.header["period"] == "2026-11" and result.signed_by == shop_key.public_hex(key)
    assert checked(made(key), shop_key.public_hex(key)).records["sale"] == 3


def test_every_byte_changed_is_refused(key):
    data = made(key)
    for index in range(len(data)):
        for flip in (0x01, 0x20):
            bad = data[:index] + bytes([data[index] ^ flip]) + data[index + 1:]
            with pytest.raises(archive.Problem):
                checked(bad)
    with pytest.raises(archive.Problem, match="cut short"):
        checked(data[:data.rindex(b"{")])
    with pytest.raises(archive.Problem, match="after the trailer"):
        checked(data + data.splitlines(keepends=True)[1])


def test_a_changed_record_is_named_even_with_its_hash_recomputed(key):
    lines = made(key).splitlines(keepends=True)
    value = json.loads(lines[3])  # sale record 6
    value["record"]["total"] = "0.01"
    lines[3] = archive.line(value)
    with pytest.raises(archive.Problem, match="line 4: sale record 6: content does not match its hash"):
        checked(b"".join(lines))
    value["hash"] = chain_hash(value["prev_hash"], value["record"])
    lines[3] = archive.line(value)
    with pytest.raises(archive.Problem, match="line 5: sale record 7: previous-hash link broken"):
        checked(b"".join(lines))
    lines = made(key).splitlines(keepends=True)
    del lines[3]
    with pytest.raises(archive.Problem, match="line 4: sale record 6 is missing"):
        checked(b"".join(lines))


def test_a_rebuilt_archive_signed_by_another_key_is_refused(key, tmp_path):
    other = shop_key.load_or_create(tmp_path / "other.pem")
    forged = made(other)
    assert checked(forged).records["sale"] == 3  # consistent in itself …
    with pytest.raises(archive.Problem, match="another key than the one given"):
        checked(forged, shop_key.public_hex(key))  # … but not the shop's
    header = json.loads(forged.splitlines()[0])
    header["public_key"] = shop_key.public_hex(key)
    lines = forged.splitlines(keepends=True)
    lines[0] = archive.line(header)
    with pytest.raises(archive.Problem, match="line 1: the header was changed"):
        checked(b"".join(lines))


@pytest.mark.parametrize("content", [b"", b"\x00\xff" * 10, b"[]\n", b'{"type":"archive","format":1}\n'])
def test_garbage_files_are_refused_with_a_reason(tmp_path, content):
    path = tmp_path / "a.jsonl"
    path.write_bytes(content)
    with pytest.raises(archive.Problem):
        check_file(path)


def test_a_month_holds_what_its_day_zs_cover_and_its_closures(tmp_path):
    """A sale rung after the Z of Nov 30 is closed with Dec 1: it goes in December's
    archive, as in the Zs; November's holds its closures and what its day Zs cover."""
    import datetime as dt

    from laneserver.store.archive import month_spans
    from laneserver.store.fiscal import append_record, load_heads
    from laneserver.store.schema import connect
    from tests.test_books_check import add_sales

    db = connect(tmp_path / "shop.sqlite3")
    add_sales(db, 1, 6)  # their days do not matter once Zs cover them
    heads = load_heads(db)

    def z(kind: str, period: str, sale: int) -> None:
        append_record(db, heads, "closure", "2026-12-01T08:00:00+00:00",
                      {"kind": kind, "period": period, "positions": {"sale": sale, "payment": 0, "money": 0}})

    z("day", "2026-10-31", 1)
    z("day", "2026-11-02", 3)
    z("day", "2026-11-30", 4)
    z("month", "2026-11", 4)
    z("day", "2026-12-01", 6)
    utc = dt.timezone.utc
    spans, closed = month_spans(db, "2026-11", dt.date(2026, 11, 1), dt.date(2026, 11, 30), utc)
    assert closed and spans["sale"] == (2, 4) and spans["closure"] == (2, 4)
    spans, closed = month_spans(db, "2026-12", dt.date(2026, 12, 1), dt.date(2026, 12, 31), utc)
    assert not closed and spans["sale"] == (5, 6) and spans["closure"] == (5, 5)
