"""The live reload of the catalog inside a running shop (server/edge_catalog.py): a row
the server cannot decode leaves it selling from the catalog it had; the next good
import is taken, and the keyboard's keys show its prices."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from pathlib import Path

import msgspec
import trio

from laneserver.store.admin import import_articles
from laneserver.store.catalog_meta import bump_catalog_version
from laneserver.store.schema import DB_NAME
from laneserver.store.schema import connect as connect_db
from tests.e2e.in_process import serving


def _write(data: Path, change) -> None:
    db = connect_db(data / DB_NAME)
    try:
        db.execute("BEGIN IMMEDIATE")
        change(db)
        db.execute("COMMIT")
    finally:
        db.close()


def _corrupt(db) -> None:
    db.execute("INSERT INTO articles(id, data) VALUES ('BAD', '{\"id\": \"BAD\"}')")
    bump_catalog_version(db)


def _repair(db) -> None:
    db.execute("DELETE FROM articles WHERE id='BAD'")


async def test_a_bad_row_keeps_the_catalog_and_the_next_import_is_taken(tmp_path):
    with trio.fail_after(30):
        async with serving(tmp_path) as running:
            shop = running.shop
            wine = shop.catalog.get("A001")
            before = len(shop.catalog)
            await trio.to_thread.run_sync(_write, tmp_path, _corrupt)
            await trio.sleep(2.5)  # two ticks of the watch
            assert shop.catalog_version == 0 and shop.catalog.version == 0 and len(shop.catalog) == before
            assert shop.catalog.lookup("3760245001015").article is wine  # still selling

            await trio.to_thread.run_sync(_write, tmp_path, _repair)
            dearer = msgspec.structs.replace(wine, price=Decimal("9.90"))
            await trio.to_thread.run_sync(partial(_import, tmp_path, dearer))
            while shop.catalog.get("A001").price != Decimal("9.90"):
                await trio.sleep(0.05)
            assert shop.catalog_version == 2 and len(shop.catalog) == before
            keys = [key for page in shop.keyboard for key in page.keys if key.article == "A001"]
            assert keys and all(key.price == "9.90" for key in keys)


def _import(data: Path, article) -> None:
    db = connect_db(data / DB_NAME)
    try:
        import_articles(db, [article])
    finally:
        db.close()
