"""A catalog larger than ``server.search_index_at_start`` is ready to scan as soon as
the server is, and its name search follows a moment later (built in a thread)."""

from __future__ import annotations

import trio

from tests.support import LiveServer, connect, eventually

CATALOG = "id,name,price,vat_rate,barcodes\n" + "".join(
    f"A{i:04d},{'Vin rouge' if i % 2 else 'Pain de mie'} {i},{1 + i % 9}.50,20,20000{i:07d}\n" for i in range(1, 2001)
)


async def test_a_large_catalog_scans_at_once_and_searches_once_its_index_is_built(tmp_path):
    config = tmp_path / "shop.toml"
    config.write_text('[server]\nsearch_index_at_start = 100\n\n[[stock_points]]\nid = "main"\n\n'
                      '[[lanes]]\nid = "1"\nstock_point = "main"\n', encoding="utf-8")
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(CATALOG, encoding="utf-8")
    server = LiveServer(tmp_path / "data", config=config)
    server.cli("catalog", "import", str(catalog))
    server.cli("seller", "add", "marie", "--pin", "1234")
    server.start()
    try:
        token = server.pair("till", "1")
        with trio.fail_after(30):
            async with connect(server.ws_url, token, seller=("marie", "1234")) as till:
                reply = await till.ok("scan", code="200000000007")
                assert reply["ticket"]["lines"][0]["article"] == "A0007"

                async def searchable() -> bool:
                    answer = await till.call("search", text="vin 13")
                    if answer["type"] == "error":
                        assert answer["code"] == "unavailable" and "still being built" in answer["message"]
                        return False
                    return True

                await eventually(searchable, True)
                found = await till.ok("search", text="vin 13", limit=100)
                assert [a["article"] for a in found["articles"]][:3] == ["A0013", "A0113", "A0131"]
        assert any("catalog_search_ready" in line for line in server.output)
    finally:
        server.stop()
