"""The catalog while the server runs: live imports and the till's keyboard.

- ``watch_catalog``: ``laneserver catalog import`` runs in another process and only
  writes the database, raising the catalog's version with the articles
  (store/catalog_meta.py). This task reads the version every ``CHECK_SECONDS``; when
  it has moved, it loads the articles again, builds the new ``Catalog`` (with its name
  index) in a worker thread and puts it behind the shop's catalog object
  (``Catalog.replace_with``), which every lane, stock point and session holds: new and
  changed articles sell within seconds, with no restart. Lines already on tickets keep
  their price (a line copies it when added). How an article already known takes stock
  (``rules.catalog.STOCK_FIELDS``) waits for the next start (``live_articles``).
- ``save_keyboard``: a manager's ``keyboard_save`` (rules/keyboard.py ``check_layout``),
  kept in the database and served by ``keyboard`` to every till from then on.
"""

from __future__ import annotations

import sqlite3
from decimal import InvalidOperation
from typing import Any

import msgspec
import trio

from laneserver.actors.journal import CommitFailed, ReadFailed, commit, read
from laneserver.actors.runtime import ActorFailed
from laneserver.config import Config
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame
from laneserver.rules.catalog import Catalog, live_articles
from laneserver.rules.keyboard import (
    KeySpec,
    PageSpec,
    check_layout,
    configured_pages,
    default_labels,
    department_pages,
    saved_pages,
)
from laneserver.rules.money import fmt_money
from laneserver.store import catalog_meta
from laneserver.store.schema import DB_NAME

CHECK_SECONDS = 1.0

log = get_logger("catalog")


# --- the keyboard -------------------------------------------------------------------------


def keyboard_views(config: Config, catalog: Catalog,
                   layout: tuple[PageSpec, ...] | None = None) -> list[wire.KeyboardPageView]:
    """The ``keyboard`` reply's pages: the saved ``layout`` if any, else the shop file's
    pages, else (the demo) one page per department. Keys of articles no longer sold are
    left out (and logged)."""
    if layout is not None:
        pages, missing = saved_pages(layout, catalog)
    elif config.keyboard:
        pages, missing = configured_pages(
            ((page.name, ((key.label, key.article) for key in page.keys)) for page in config.keyboard), catalog
        )
    else:
        pages, missing = (department_pages(catalog) if config.demo else []), []
    if missing:
        log.warning("keyboard_keys_left_out", articles=sorted(set(missing)))
    return [
        wire.KeyboardPageView(name=page.name, keys=[
            wire.KeyView(label=key.label, article=key.article.id, price=fmt_money(key.article.price))
            if key.article is not None else wire.KeyView(label=key.label, function=key.function, mode=key.mode)
            for key in page.keys
        ])
        for page in pages
    ]


async def save_keyboard(shop: Any, request: wire.KeyboardSave, *, device: str, seller: str | None) -> bytes:
    """``keyboard_save``: checked, written, then served; a bad layout changes nothing."""
    layout = default_labels((
        PageSpec(name=page.name.strip(), keys=tuple(
            KeySpec(label=key.label.strip(), article=key.article.strip(), function=key.function.strip(),
                    mode=key.mode.strip())
            for key in page.keys))
        for page in request.pages
    ), shop.catalog)
    problem = check_layout(layout, shop.catalog, shop.payments.mode_ids)
    if problem is not None:
        field = problem.partition(":")[0]
        return error_frame(request, wire.Code.BAD_REQUEST, f"{problem}: nothing was saved", field=field)
    try:
        await commit(shop.journal, catalog_meta.SaveKeyboard(pages=layout, at=shop.clock.now(), by=seller,
                                                             device=device))
    except (CommitFailed, ActorFailed) as error:
        log.error("keyboard_save_failed", error=str(error))
        return error_frame(request, wire.Code.UNAVAILABLE, "the database did not answer; nothing was saved")
    shop.keyboard_layout = layout
    shop.keyboard = keyboard_views(shop.config, shop.catalog, layout)
    log.info("keyboard_saved", pages=len(layout), by=seller)
    return encode(wire.KeyboardOk(re=request.id, pages=shop.keyboard))


# --- live imports -------------------------------------------------------------------------


async def reload_catalog(shop: Any) -> int:
    """Load the articles again and put them behind ``shop.catalog``; the version loaded.

    The articles are read and the new catalog built in a worker thread, on a read-only
    connection of its own: the journal keeps committing meanwhile (a million articles
    take seconds), and selling goes on from the catalog as it was until the swap.

    Raises:
        sqlite3.Error: the database could not be read (nothing changed).
        msgspec.ValidationError, decimal.InvalidOperation: a row is no article (nothing changed).
    """
    assert shop.data_folder is not None  # run_shop sets it
    version, articles = await trio.to_thread.run_sync(catalog_meta.read_catalog, shop.data_folder / DB_NAME,
                                                      abandon_on_cancel=True)
    articles, waiting = live_articles(shop.catalog, articles)
    newer = await trio.to_thread.run_sync(Catalog, articles, abandon_on_cancel=True)  # with its name index
    shop.catalog.replace_with(newer)
    shop.catalog_version = version
    shop.keyboard = keyboard_views(shop.config, shop.catalog, shop.keyboard_layout)
    if waiting:
        log.warning("catalog_stock_changes_wait_for_restart", articles=waiting[:20], count=len(waiting))
    log.info("catalog_reloaded", version=version, articles=len(shop.catalog))
    return version


async def watch_catalog(shop: Any) -> None:
    """Run until cancelled: reload the catalog whenever an import raised its version.
    A failed read is logged and tried again at the next tick; selling goes on with
    the catalog as it was.

    Cancellation: safe at any point (a reload replaces the catalog in one synchronous
    step, after everything it needs is built).
    """
    while True:
        await trio.sleep(CHECK_SECONDS)
        try:
            version = await read(shop.journal, catalog_meta.catalog_version)
            if version != shop.catalog_version:
                await reload_catalog(shop)
        except (ReadFailed, ActorFailed, sqlite3.Error, msgspec.ValidationError, InvalidOperation) as error:
            # The database could not be read, or holds an article this code cannot
            # decode: selling goes on from the catalog as it was; tried again next tick.
            log.error("catalog_reload_failed", error=str(error))
