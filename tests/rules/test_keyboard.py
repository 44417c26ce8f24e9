from decimal import Decimal

from laneserver.rules.catalog import Article, Catalog
from laneserver.rules.keyboard import configured_pages, department_pages

BREAD = Article("A100", "Baguette", Decimal("1.20"), Decimal("5.5"), department="Boulangerie")
WINE = Article("A001", "Côtes du Rhône", Decimal("8.90"), Decimal("20"), department="Vins")
OLD = Article("A006", "Beaujolais 2023", Decimal("7.50"), Decimal("20"), department="Vins", status="dormant")
CATALOG = Catalog([BREAD, WINE, OLD])


def test_configured_pages_keep_order_default_labels_and_leave_out_unknown_or_inactive():
    pages, missing = configured_pages(
        [("Pain", [("", "A100"), ("Vin rouge", "A001"), ("", "NOPE"), ("", "A006")])], CATALOG
    )
    assert [(k.label, k.article.id) for k in pages[0].keys] == [("Baguette", "A100"), ("Vin rouge", "A001")]
    assert pages[0].name == "Pain" and missing == ["NOPE", "A006"]


def test_department_pages_group_active_articles_and_cap_the_page():
    pages = department_pages(CATALOG)
    assert [(p.name, [k.article.id for k in p.keys]) for p in pages] == [("Boulangerie", ["A100"]), ("Vins", ["A001"])]
    many = Catalog([Article(f"B{i:03}", f"Pain {i}", Decimal("1"), Decimal("5.5"), department="P") for i in range(30)])
    assert len(department_pages(many, per_page=24)[0].keys) == 24
