"""A real shop for the stock tests: 8 lanes on stock point ``main``, a ``bar`` point,
a small catalog with per-article policies and alert thresholds, the shop refusing
negative stock (``refuse``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.configured import configured_server, lane, stock_point, table, toml
from tests.support import LiveServer

LANES = [str(n) for n in range(1, 9)]

CATALOG = """id,name,price,vat_rate,barcodes,negative_stock,stock_alert
W1,Vin rouge 75 cl,8.90,20,3000000000014,,2
B1,Baguette,1.20,5.5,3000000000021,allow,
J1,Jus de pomme 1 l,2.50,5.5,3000000000038,warn,
C1,Chips 150 g,1.90,5.5,3000000000045,,
"""


def shop_toml(policy: str = "refuse") -> str:
    return toml(table("shop", name="Cave test", negative_stock=policy), stock_point("main"), stock_point("bar"),
                *(lane(n) for n in LANES))


def stock_shop(tmp_path: Path, policy: str = "refuse", catalog_csv: str = CATALOG) -> LiveServer:
    """A configured (not demo) server, set up through the command line; not started."""
    return configured_server(tmp_path, shop_toml(policy), catalog_csv, sellers=[("marie", "1234", "manager")])


@contextmanager
def running_shop(tmp_path: Path, **kwargs) -> Iterator[LiveServer]:
    """``stock_shop`` with a till on lane 1 and a PDA paired (``.till``, ``.pda``), started."""
    server = stock_shop(tmp_path, **kwargs)
    server.till = server.pair("till", "1")
    server.pda = server.pair("pda")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def main_point(reply: dict) -> dict:
    """The ``main`` stock point's entry of a ``stock`` reply."""
    return next(p for p in reply["points"] if p["stock_point"] == "main")
