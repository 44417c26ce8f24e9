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
