"""A catalog larger than ``server.search_index_at_start`` is ready to scan as soon as
the server is, and its name search follows a moment later (built in a thread)."""

from __future__ import annotations

import trio

from tests.e2e.configured import configured_shop, lane, stock_point, table, toml
from tests.support import connect, eventually

CATALOG = "id,name,price,vat_rate,barcodes\n" + "".join(
    f"A{i:04d},{'Vin rouge' if i % 2 else 'Pain de mie'} {i},{1 + i % 9}.50,20,20000{i:07d}\n" for i in range(1, 2001)
)


async def test_a_large_catalog_scans_at_once_and_searches_once_its_index_is_built(tmp_path):
    config = toml(table("server", search_index_at_start=100), stock_point("main"), lane("1"))
    with configured_shop(tmp_path, config, CATALOG, sellers=[("marie", "1234")]) as server:
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
