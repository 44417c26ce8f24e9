"""Custom keyboards: pages of keys for the till — articles, till functions and
payment modes (SPEC §7).

A shop configures its pages (name, keys → article ids) in its file; a manager may save
a layout from the till (``keyboard_save``: ``check_layout`` validates it, the server
keeps it in the database and it wins over the file's). Without either, the demo shop
gets one page per department of its catalog.

Invariants:

- A key does exactly one thing: sells an article, runs one of ``FUNCTIONS``, or opens
  the payment of one of the shop's payment modes.
- A saved layout is bounded (``MAX_PAGES`` pages of ``MAX_KEYS`` keys, labels of
  ``MAX_LABEL`` characters) and names only known articles, functions and modes; an
  article that later leaves the catalog (or stops being sold) loses its key when the
  pages are built, so a stale key never sells the wrong thing.

Pure: no Trio, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import msgspec

from laneserver.rules.catalog import Article, Catalog

KEYS_PER_PAGE = 24
MAX_PAGES = 30
MAX_KEYS = 60
MAX_LABEL = 40

# What a function key does on the till (docs/web_till.md lists them).
FUNCTIONS: tuple[str, ...] = (
    "qty",            # the typed number becomes the next line's quantity
    "hold",           # put the open ticket aside
    "recall",         # the held tickets, to take one back
    "cancel_ticket",  # cancel the open ticket
    "discount",       # a discount on the selected line (or the ticket)
    "customer",       # find or scan the ticket's customer
    "price_check",    # the price of a code, the ticket untouched
    "search",         # find an article by name
    "pay",            # the payment screen
    "drawer_open",    # open the drawer without a sale
)


class Key(msgspec.Struct, frozen=True):
    """One key: ``article`` (sells it), or ``function``, or ``mode`` (a payment mode)."""

    label: str
    article: Article | None = None
    function: str = ""
    mode: str = ""


class KeySpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A key as a layout stores it: exactly one of ``article``, ``function``, ``mode``."""

    label: str = ""
    article: str = ""
    function: str = ""
    mode: str = ""


class PageSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    keys: tuple[KeySpec, ...] = ()


def default_labels(pages: Iterable[PageSpec], catalog: Catalog) -> tuple[PageSpec, ...]:
    """The layout with the label of each article key that is its article's name left
    empty (the default): a till sends back the labels ``keyboard`` gave it, and a long
    name is no label the manager typed."""
    def key(spec: KeySpec) -> KeySpec:
        article = catalog.get(spec.article) if spec.article else None
        if article is not None and spec.label == article.name:
            return msgspec.structs.replace(spec, label="")
        return spec

    return tuple(msgspec.structs.replace(page, keys=tuple(key(k) for k in page.keys)) for page in pages)


def check_layout(pages: Iterable[PageSpec], catalog: Catalog, modes: Collection[str]) -> str | None:
    """What is wrong with a layout a manager saves (the first fault, naming its key
    as ``pages[i].keys[j]``), or None."""
    pages = list(pages)
    if len(pages) > MAX_PAGES:
        return f"pages: at most {MAX_PAGES} pages, got {len(pages)}"
    names: set[str] = set()
    for i, page in enumerate(pages):
        name = page.name.strip()
        if not name or len(name) > MAX_LABEL or not name.isprintable():
            return f"pages[{i}].name: a page name is 1 to {MAX_LABEL} printable characters"
        if name in names:
            return f"pages[{i}].name: {name!r} is the name of another page"
        names.add(name)
        if len(page.keys) > MAX_KEYS:
            return f"pages[{i}].keys: at most {MAX_KEYS} keys a page, got {len(page.keys)}"
        for j, key in enumerate(page.keys):
            where = f"pages[{i}].keys[{j}]"
            if len(key.label) > MAX_LABEL or not key.label.isprintable():
                return f"{where}.label: at most {MAX_LABEL} printable characters"
            given = [what for what in ("article", "function", "mode") if getattr(key, what)]
            if len(given) != 1:
                return f"{where}: a key has exactly one of article, function or mode"
            if key.article:
                article = catalog.get(key.article)
                if article is None:
                    return f"{where}.article: no article {key.article!r}"
                if not article.active:
                    return f"{where}.article: article {key.article!r} is {article.status}: it cannot be sold"
            elif key.function and key.function not in FUNCTIONS:
                return f"{where}.function: {key.function!r} is not a till function ({', '.join(FUNCTIONS)})"
            elif key.mode and key.mode not in modes:
                return f"{where}.mode: {key.mode!r} is not a payment mode of the shop ({', '.join(modes)})"
            if not key.article and not key.label.strip():
                return f"{where}.label: a function or payment key needs a label"
    return None


def saved_pages(pages: Iterable[PageSpec], catalog: Catalog) -> tuple[list[Page], list[str]]:
    """The pages of a saved layout as the till gets them, with today's catalog: the
    article ids no longer in it (or no longer sold) are returned and their keys left out."""
    built: list[Page] = []
    missing: list[str] = []
    for page in pages:
        keys: list[Key] = []
        for spec in page.keys:
            if spec.article:
                article = catalog.get(spec.article)
                if article is None or not article.active:
                    missing.append(spec.article)
                    continue
                keys.append(Key(label=spec.label or article.name, article=article))
            else:
                keys.append(Key(label=spec.label, function=spec.function, mode=spec.mode))
        built.append(Page(name=page.name, keys=tuple(keys)))
    return built, missing


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
