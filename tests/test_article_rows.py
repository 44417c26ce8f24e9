"""Reading the catalog back: ``store.article_rows`` gives the articles a plain decode gives."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from laneserver.rules.catalog import Article, Barcode, Component
from laneserver.store.article_rows import decode_articles
from laneserver.store.writes import encode
from tests.support import demo_articles

FULL = Article(
    id="Z9", name="Crémant d'Alsace « brut »", price=Decimal("12.90"), vat_rate=Decimal("20"),
    barcodes=(Barcode("3760000000017"), Barcode("3760000000024", Decimal("6"))), supplier_refs=("R-1", "R-2"),
    status="dormant", meal_voucher=True, department="Vins", family="Effervescents", unit="l", location="R3",
    ticket_text="CREMANT", zero_price_allowed=True, deposit="C1", note="carton abîmé",
    negative_stock="warn", stock_alert="2", part_of="W1", parts=6,
    components=(Component("W1"), Component("P1", Decimal("2.5"))), assembly=True, sell_by_days=12,
    reorder_point="6", reorder_qty="24", supplier="Cave Dupont",
    coupon_article="S1", coupons=10, coupon_valid_days=90,
    volume_l="0.75", abv="12.5",
)


def test_rows_decode_to_the_articles_a_plain_decode_gives():
    from laneserver.rules.catalog_csv import parse_catalog_csv
    from tests.support import REPO

    demo = parse_catalog_csv((REPO / "laneserver" / "demo" / "catalog.csv").read_text(encoding="utf-8"))
    articles = [*demo, FULL, Article("B", "Pain", Decimal("1.20"), Decimal("5.5"))]
    rows = [encode(a) for a in articles]
    plain = [msgspec.json.decode(row, type=Article) for row in rows]
    assert decode_articles(rows) == plain == articles
    assert decode_articles(row.encode() for row in rows) == plain
    assert len(demo_articles()) == len(demo)


def test_equal_decimals_and_labels_are_one_object():
    twin = msgspec.structs.replace(FULL, id="Z10")
    first, second = decode_articles([encode(FULL), encode(twin)])
    assert first == FULL and second == twin
    assert first.vat_rate is second.vat_rate and first.price is second.price
    assert first.barcodes[1].pack_qty is second.barcodes[1].pack_qty
    assert first.department is second.department


def test_a_row_leaves_out_the_fields_at_their_default_and_reads_back_equal():
    from laneserver.store.article_rows import encode_article

    plain = Article("B", "Pain", Decimal("1.20"), Decimal("5.5"), barcodes=(Barcode("3000000000015"),))
    assert msgspec.json.decode(encode_article(plain)) == {
        "id": "B", "name": "Pain", "price": "1.20", "vat_rate": "5.5", "barcodes": [{"code": "3000000000015"}]}
    # A value equal to its default but written otherwise is kept as written.
    odd = msgspec.structs.replace(plain, barcodes=(Barcode("3000000000022", Decimal("1.0")),))
    assert msgspec.json.decode(encode_article(odd))["barcodes"] == [{"code": "3000000000022", "pack_qty": "1.0"}]
    from laneserver.rules.catalog_csv import parse_catalog_csv
    from tests.support import REPO

    demo = parse_catalog_csv((REPO / "laneserver" / "demo" / "catalog.csv").read_text(encoding="utf-8"))
    articles = [plain, odd, FULL, *demo]
    short = [encode_article(a) for a in articles]
    assert decode_articles(short) == articles
    assert [str(a.barcodes[0].pack_qty) for a in decode_articles(short[:2])] == ["1", "1.0"]
    assert msgspec.json.decode(short[2])["status"] == "dormant" and "zero_price_allowed" in short[2]
    # Rows written before (every field) and rows written now read alike, side by side.
    assert decode_articles([encode(plain), short[1]]) == [plain, odd]
    assert sum(map(len, short)) < sum(len(encode(a)) for a in articles) / 2


def test_an_import_writes_the_short_rows(tmp_path):
    from laneserver.store import admin
    from laneserver.store.reads import articles
    from laneserver.store.schema import DB_NAME, connect

    db = connect(tmp_path / DB_NAME)
    try:
        from laneserver.rules.catalog_csv import parse_catalog_csv
        from tests.support import REPO

        demo = parse_catalog_csv((REPO / "laneserver" / "demo" / "catalog.csv").read_text(encoding="utf-8"))
        admin.import_articles(db, demo)
        (data,) = db.execute("SELECT data FROM articles ORDER BY id LIMIT 1").fetchone()
        assert '"zero_price_allowed"' not in data and '"note"' not in data
        assert articles(db) == sorted(demo, key=lambda a: a.id)
    finally:
        db.close()
