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
- ``edit_catalog``: ``article_create`` / ``barcode_attach`` (rules/catalog_edit.py), an
  unknown code made sellable with a supervisor's approval; written like an import
  (store/catalog_meta.py ``write_articles``) and the catalog reloaded at once, so the
  till's scan of the code, tried again, adds the line.
"""

from __future__ import annotations

import sqlite3
from decimal import InvalidOperation
from typing import Any

import msgspec
import trio

from laneserver.actors.journal import CommitFailed, ReadFailed, commit, read
from laneserver.actors.messages import Caller
from laneserver.actors.replies import key_reused
from laneserver.actors.runtime import ActorFailed
from laneserver.config import Config
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame, fingerprint
from laneserver.rules import catalog_edit
from laneserver.rules.catalog import Article, Catalog, live_articles
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
from laneserver.rules.outcome import Refused
from laneserver.server import edge_keys
from laneserver.server.outcomes import refusal_frame
from laneserver.store import catalog_meta
from laneserver.store.article_rows import decode_articles
from laneserver.store.ops import Remember
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


# Who answered a keyed ``keyboard_save`` (server/edge_keys.py).
KEYBOARD_ACTOR = "keyboard"


async def save_keyboard(shop: Any, request: wire.KeyboardSave, *, device: str, seller: str | None) -> bytes:
    """``keyboard_save``: checked, written, then served; a bad layout changes nothing.
    A keyed retry gets its first reply before the layout is checked again (a key's
    article may have left the catalog since): server/edge_keys.py."""
    async with edge_keys.one_at_a_time(shop.journal, device, request):
        first = await edge_keys.first_frame(shop.journal, device, request, KEYBOARD_ACTOR)
        if first is not None:
            return first
        return await _save_keyboard(shop, request, device=device, seller=seller)


async def _save_keyboard(shop: Any, request: wire.KeyboardSave, *, device: str, seller: str | None) -> bytes:
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
    at = shop.clock.now()
    views = keyboard_views(shop.config, shop.catalog, layout)
    reply = encode(wire.KeyboardOk(re=request.id, pages=views))
    save = catalog_meta.SaveKeyboard(pages=layout, at=at, by=seller, device=device)
    # The write and the layout served go together, whatever ends the till's wait (its ask
    # timeout): the layout is read from the database only at start, and a keyed retry
    # is answered from the journal (server/edge_keys.py) without saving it again.
    with trio.CancelScope(shield=True):
        try:
            await commit(shop.journal, edge_keys.remembered(save, device, request, KEYBOARD_ACTOR, reply, at,
                                                            always=True))
        except CommitFailed as error:
            if error.key_reused and request.key is not None:
                return refusal_frame(request, key_reused(request.key))
            log.error("keyboard_save_failed", error=str(error))
            return error_frame(request, wire.Code.UNAVAILABLE, "the database did not answer; nothing was saved")
        except ActorFailed as error:
            log.error("keyboard_save_failed", error=str(error))
            return error_frame(request, wire.Code.UNAVAILABLE, "the database did not answer; nothing was saved")
        shop.keyboard_layout = layout
        shop.keyboard = views
    log.info("keyboard_saved", pages=len(layout), by=seller)
    return reply


# --- an unknown code made sellable (issue 17) ---------------------------------------------


# Who answered a keyed ``article_create`` / ``barcode_attach`` (the ``replies`` row's actor).
ACTOR = "catalog"


async def first_reply(shop: Any, device: str, request: wire.ArticleCreate | wire.BarcodeAttach) -> bytes | None:
    """A keyed catalog edit asked again: its first reply (the article as it wrote it,
    store/catalog_meta.py), ``conflict`` (``key_reused``) when the key answered another
    request; None when the key is new. Looked up before anything is checked (the
    session: before the PIN), so a retry of an edit that was applied is not refused
    for it (the article now exists, the code is now attached): server/edge_keys.py."""
    found = await edge_keys.first(shop.journal, device, request, ACTOR)
    if found is None:
        return None
    if isinstance(found, Refused):
        return refusal_frame(request, found)
    (article,) = decode_articles([found])
    return encode(wire.ArticleOk(re=request.id, article=_view(article)))


async def edit_catalog(shop: Any, caller: Caller, request: wire.ArticleCreate | wire.BarcodeAttach) -> bytes:
    """``article_create`` / ``barcode_attach``: allowed by ``[shop] unknown_code``, approved
    (a supervisor signed in, or a supervisor's PIN: ``caller.approved_by``), checked,
    written with the catalog's version raised, then sold at once (the catalog is loaded
    again before the reply). A refusal changes nothing."""
    verb = request.__struct_config__.tag
    mode = shop.config.shop.unknown_code
    if not catalog_edit.allows(mode, verb):
        return error_frame(request, wire.Code.NOT_SUPPORTED,
                           f"this shop does not allow {verb} ([shop] unknown_code = {mode!r}): nothing was changed")
    if caller.approved_by is None:
        return error_frame(request, wire.Code.SUPERVISOR_REQUIRED,
                           f"{verb} needs a supervisor signed in, or a supervisor's PIN (supervisor_pin): "
                           "nothing was changed", role="supervisor")
    at = shop.clock.now()
    remember = None if request.key is None else Remember(device=caller.device, key=request.key, actor=ACTOR,
                                                         reply=b"", at=at, fingerprint=fingerprint(request))
    if isinstance(request, wire.ArticleCreate):
        checked = catalog_edit.new_article(shop.catalog, shop.config.vat_rates, article=request.article,
                                           name=request.name, price=request.price, vat_rate=request.vat_rate,
                                           code=request.code, department=request.department)
        if isinstance(checked, catalog_edit.Problem):
            return _problem_frame(request, checked)
        op: Any = catalog_meta.CreateArticle(article=checked, at=at, by=caller.seller,
                                             approved_by=caller.approved_by, device=caller.device, remember=remember)
    else:
        checked = catalog_edit.attached(shop.catalog, article=request.article, code=request.code)
        if isinstance(checked, catalog_edit.Problem):
            return _problem_frame(request, checked)
        op = catalog_meta.AttachCode(article=checked.id, code=checked.barcodes[-1].code, at=at, by=caller.seller,
                                     approved_by=caller.approved_by, device=caller.device, remember=remember)
    try:
        (written,) = await commit(shop.journal, op)
    except CommitFailed as error:
        if error.key_reused and request.key is not None:
            return refusal_frame(request, key_reused(request.key))
        log.error("catalog_edit_failed", verb=verb, error=str(error))
        return error_frame(request, wire.Code.UNAVAILABLE, "the database did not answer; nothing was changed")
    except ActorFailed as error:
        log.error("catalog_edit_failed", verb=verb, error=str(error))
        return error_frame(request, wire.Code.UNAVAILABLE, "the database did not answer; nothing was changed")
    if written is None:  # an import changed the article meanwhile
        return error_frame(request, wire.Code.CONFLICT, "the catalog changed meanwhile: nothing was changed; try again")
    try:
        await reload_catalog(shop)
    except (sqlite3.Error, msgspec.ValidationError, InvalidOperation) as error:
        # Written: the watcher loads it at its next tick.
        log.error("catalog_reload_failed", error=str(error))
    log.info("catalog_edited", verb=verb, article=written.id, code=request.code.strip(), by=caller.seller,
             approved_by=caller.approved_by)
    return encode(wire.ArticleOk(re=request.id, article=_view(written)))


def _problem_frame(request: wire.Request, problem: catalog_edit.Problem) -> bytes:
    return error_frame(request, problem.code, f"{problem.message}: nothing was changed", field=problem.field)


def _view(article: Article) -> wire.ArticleView:
    return wire.ArticleView(article=article.id, name=article.name, price=fmt_money(article.price),
                            vat_rate=str(article.vat_rate), unit=article.unit,
                            barcodes=[b.code for b in article.barcodes])


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
