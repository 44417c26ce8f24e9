"""A real shop for the stock tests: 8 lanes on stock point ``main``, a ``bar`` point,
a small catalog with per-article policies and alert thresholds, the shop refusing
negative stock (``refuse``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import LiveServer

LANES = [str(n) for n in range(1, 9)]

CATALOG = """id,name,price,vat_rate,barcodes,negative_stock,stock_alert
W1,Vin rouge 75 cl,8.90,20,3000000000014,,2
B1,Baguette,1.20,5.5,3000000000021,allow,
J1,Jus de pomme 1 l,2.50,5.5,3000000000038,warn,
C1,Chips 150 g,1.90,5.5,3000000000045,,
"""


def shop_toml(policy: str = "refuse") -> str:
    lanes = "".join(f'\n[[lanes]]\nid = "{lane}"\nstock_point = "main"\n' for lane in LANES)
    return f"""
[shop]
name = "Cave test"
negative_stock = "{policy}"

[[stock_points]]
id = "main"

[[stock_points]]
id = "bar"
{lanes}
"""


def stock_shop(tmp_path: Path, policy: str = "refuse", catalog_csv: str = CATALOG) -> LiveServer:
    """A configured (not demo) server, set up through the command line; not started."""
    config = tmp_path / "shop.toml"
    config.write_text(shop_toml(policy), encoding="utf-8")
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(catalog_csv, encoding="utf-8")
    server = LiveServer(tmp_path / "data", config=config)
    server.cli("catalog", "import", str(catalog))
    server.cli("seller", "add", "marie", "--pin", "1234", "--role", "manager")
    return server


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
