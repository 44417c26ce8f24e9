from decimal import Decimal

import pytest

from laneserver.rules.catalog import Article, Catalog
from laneserver.rules.keyboard import (
    FUNCTIONS,
    MAX_KEYS,
    MAX_PAGES,
    KeySpec,
    PageSpec,
    check_layout,
    configured_pages,
    default_labels,
    department_pages,
    saved_pages,
)

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


# --- layouts a manager saves (keyboard_save) ------------------------------------------------


MODES = ("cash", "card")


def test_a_layout_with_article_function_and_payment_keys():
    layout = (PageSpec("Caisse", (KeySpec(article="A100"), KeySpec(label="En attente", function="hold"),
                                  KeySpec(label="CB", mode="card"))),)
    assert check_layout(layout, CATALOG, MODES) is None
    (page,), missing = saved_pages(layout, CATALOG)
    assert missing == [] and [(k.label, k.article.id if k.article else None, k.function, k.mode) for k in page.keys] == [
        ("Baguette", "A100", "", ""), ("En attente", None, "hold", ""), ("CB", None, "", "card")]


@pytest.mark.parametrize(("layout", "fault"), [
    ((PageSpec("P", (KeySpec(article="NOPE"),)),), "pages[0].keys[0].article: no article 'NOPE'"),
    ((PageSpec("P", (KeySpec(article="A006"),)),), "pages[0].keys[0].article: article 'A006' is dormant"),
    ((PageSpec("P", (KeySpec(label="X", function="rm -rf"),)),), "pages[0].keys[0].function: 'rm -rf' is not"),
    ((PageSpec("P", (KeySpec(label="X", mode="bitcoin"),)),), "pages[0].keys[0].mode: 'bitcoin' is not"),
    ((PageSpec("P", (KeySpec(label="X", article="A100", mode="cash"),)),), "pages[0].keys[0]: a key has exactly one"),
    ((PageSpec("P", (KeySpec(label="X"),)),), "pages[0].keys[0]: a key has exactly one"),
    ((PageSpec("P", (KeySpec(function="hold"),)),), "pages[0].keys[0].label: a function or payment key needs"),
    ((PageSpec("P", (KeySpec(label="x" * 41, article="A100"),)),), "pages[0].keys[0].label: at most 40"),
    ((PageSpec("P", (KeySpec(label="a\nb", article="A100"),)),), "pages[0].keys[0].label: at most 40"),
    ((PageSpec(""),), "pages[0].name: a page name is 1 to 40"),
    ((PageSpec("P"), PageSpec("P")), "pages[1].name: 'P' is the name of another page"),
    ((PageSpec("P", (KeySpec(article="A100"),) * (MAX_KEYS + 1)),), f"pages[0].keys: at most {MAX_KEYS} keys"),
    (tuple(PageSpec(f"P{i}") for i in range(MAX_PAGES + 1)), f"pages: at most {MAX_PAGES} pages"),
])
def test_a_bad_layout_is_refused_naming_the_key(layout, fault):
    problem = check_layout(layout, CATALOG, MODES)
    assert problem is not None and problem.startswith(fault), problem


def test_a_saved_key_whose_article_left_the_catalog_is_left_out():
    layout = (PageSpec("P", (KeySpec(article="A100"), KeySpec(article="A001"))),)
    (page,), missing = saved_pages(layout, Catalog([BREAD]))
    assert [k.article.id for k in page.keys] == ["A100"] and missing == ["A001"]
    assert "hold" in FUNCTIONS and "pay" in FUNCTIONS


def test_an_article_key_labelled_with_its_article_s_name_keeps_the_default_label():
    long_name = Article("A200", "Bordeaux Supérieur Château Lamothe 2020 75 cl, caisse bois", Decimal("99"),
                        Decimal("20"))
    catalog = Catalog([BREAD, long_name])
    layout = default_labels((PageSpec("P", (KeySpec(label=long_name.name, article="A200"),
                                            KeySpec(label="Pain", article="A100"))),), catalog)
    assert [k.label for k in layout[0].keys] == ["", "Pain"]
    assert check_layout(layout, catalog, MODES) is None
