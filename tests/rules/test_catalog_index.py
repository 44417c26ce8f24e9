"""The catalog's word index changes how fast ``search`` is, never what it answers:
whatever the catalog and the query, the results are those of a scan of every
normalized name in catalog order (the way ``search`` worked before the index)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from laneserver.rules import catalog as catalog_module
from laneserver.rules.catalog import Article, Catalog, _name_words, normalize_text

WORDS = ("Vin", "vinaigre", "Côtes", "côte", "rhône", "RHONE", "bio", "Œufs", "oeuf", "d'Alsace", "crème",
         "75", "cl", "x", "6", "l'ancienne", "demi-sel", "Saint-Émilion", "ab", "ba", "a")
FRAGMENTS = ("vin", "in", "cote", "rho", "oeuf", "bio", "75 cl", "a", "b", "ab", "emil", "sel demi", "zz", "e",
             "CÔTE rhô", "x 6")


def linear_search(articles: list[Article], text: str, limit: int = 20) -> list[Article]:
    words = normalize_text(text).split()
    if not words or limit <= 0:
        return []
    found = []
    for article in articles:
        name = normalize_text(article.name)
        if all(word in name for word in words) and article.status == "active":
            found.append(article)
            if len(found) >= limit:
                break
    return found


@st.composite
def catalogs(draw):
    names = draw(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join),
                          min_size=0, max_size=60))
    statuses = draw(st.lists(st.sampled_from(["active", "active", "active", "dormant"]),
                             min_size=len(names), max_size=len(names)))
    return [Article(f"A{i}", name, Decimal("1.00"), Decimal("20"), status=status)
            for i, (name, status) in enumerate(zip(names, statuses))]


@pytest.mark.parametrize("scan_first, max_matches", [(0, 4096), (3, 4096), (0, 2), (5, 1), (2048, 4096)])
# monkeypatch sets the same two values for every example: safe to share.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(articles=catalogs(), query=st.sampled_from(FRAGMENTS) | st.text(max_size=6),
       limit=st.sampled_from([1, 3, 20]))
def test_search_answers_what_a_linear_scan_answers(monkeypatch, scan_first, max_matches, articles, query, limit):
    monkeypatch.setattr(catalog_module, "SCAN_FIRST", scan_first)
    monkeypatch.setattr(catalog_module, "MAX_WORD_MATCHES", max_matches)
    assert Catalog(articles).search(query, limit) == linear_search(articles, query, limit)


@settings(max_examples=2000, deadline=None)
@given(st.text(st.sampled_from(list("aZé É-_ «»'\t\n\u00a0\u2028\u0301\u0327œŒßİς①½x9")) | st.characters(),
               max_size=30))
def test_name_words_are_the_words_of_the_normalized_name(text):
    assert " ".join(_name_words(text, {})) == normalize_text(text)


def test_a_duplicate_id_is_refused_even_for_the_same_article_twice():
    article = Article("A", "Pain", Decimal("1.00"), Decimal("5.5"))
    with pytest.raises(ValueError, match="duplicate article id 'A'"):
        Catalog([article, article])


def test_a_catalog_built_without_its_name_index_scans_at_once_and_searches_once_it_is_set() -> None:
    articles = [Article(f"A{i}", name, Decimal("1.00"), Decimal("20"), barcodes=())
                for i, name in enumerate(["Côtes du Rhône", "Vin de Savoie", "Crème fraîche"])]
    late = Catalog(articles, search_index=False)
    assert not late.searchable
    assert late.get("A1") is articles[1]
    with pytest.raises(catalog_module.SearchNotReady, match="3 articles"):
        late.search("vin")
    late.set_name_index(late.build_name_index())
    assert late.searchable
    eager = Catalog(articles)
    for text in ("vin", "cote rhone", "CRÈME", "zz"):
        assert late.search(text) == eager.search(text) == linear_search(articles, text)


def test_a_name_index_of_another_catalog_is_refused() -> None:
    one = Catalog([Article("A", "Vin", Decimal("1.00"), Decimal("20"))], search_index=False)
    two = Catalog([Article("A", "Vin", Decimal("1.00"), Decimal("20")),
                   Article("B", "Pain", Decimal("1.00"), Decimal("5.5"))])
    with pytest.raises(ValueError, match="another catalog"):
        one.set_name_index(two.build_name_index())
    assert not one.searchable


@pytest.mark.parametrize("scan_first", [0, 2, 2048])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.text(st.characters(blacklist_characters="\n"), max_size=12), max_size=30))
def test_search_names_read_back_as_a_list_would(monkeypatch, scan_first, names):
    """The names past the first SCAN_FIRST live in one UTF-8 buffer: read back one by
    one (any characters, empty names too), they are the names given."""
    monkeypatch.setattr(catalog_module, "SCAN_FIRST", scan_first)
    kept = catalog_module.SearchNames()
    for name in names:
        kept.append(name)
    assert len(kept) == len(names)
    assert [kept[i] for i in range(len(names))] == names == list(kept)
    if names:
        assert kept[-1] == names[-1]
    with pytest.raises(IndexError):
        kept[len(names)]
