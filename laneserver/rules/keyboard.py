"""Custom keyboards: pages of product keys for the till.

A shop configures its pages (name, keys → article ids). Without configured pages
the demo shop gets one page per department of its catalog.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from laneserver.rules.catalog import Article, Catalog

KEYS_PER_PAGE = 24


class Key(msgspec.Struct, frozen=True):
    label: str
    article: Article


class Page(msgspec.Struct, frozen=True):
    name: str
    keys: tuple[Key, ...]


def configured_pages(pages: Iterable[tuple[str, Iterable[tuple[str, str]]]], catalog: Catalog) -> tuple[list[Page], list[str]]:
    """Pages from configuration ``(name, [(label, article id), …])``.

    Returns the pages and the article ids that are not in the catalog (their
    keys are left out, so a stale key never sells the wrong thing).
    """
    built: list[Page] = []
    missing: list[str] = []
    for name, keys in pages:
        page_keys: list[Key] = []
        for label, article_id in keys:
            article = catalog.get(article_id)
            if article is None or not article.active:
                missing.append(article_id)
                continue
            page_keys.append(Key(label=label or article.name, article=article))
        built.append(Page(name=name, keys=tuple(page_keys)))
    return built, missing


def department_pages(catalog: Catalog, per_page: int = KEYS_PER_PAGE) -> list[Page]:
    """One page per department (catalog order), active articles only."""
    departments: dict[str, list[Key]] = {}
    for article in catalog:
        if not article.active:
            continue
        keys = departments.setdefault(article.department or "Divers", [])
        if len(keys) < per_page:
            keys.append(Key(label=article.name, article=article))
    return [Page(name=name, keys=tuple(keys)) for name, keys in departments.items()]
