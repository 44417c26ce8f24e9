"""``article_create`` / ``barcode_attach`` refused at the edge before anything is read
or written (server/edge_catalog.py ``edit_catalog``): the shop's option, then the
approval. No journal is needed for these: the shop has none."""

from __future__ import annotations

import types

import msgspec

from laneserver.actors.messages import Caller
from laneserver.config import parse_config
from laneserver.protocol import messages as wire
from laneserver.server.edge_catalog import edit_catalog

BASE = '[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\nstock_point = "main"\n'
ATTACH = wire.BarcodeAttach(id=1, article="W1", code="3012345678902")
CREATE = wire.ArticleCreate(id=2, article="N1", name="Cidre", price="4.20", vat_rate="20", code="3012345678902")


def shop(mode: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(config=parse_config(f'[shop]\nunknown_code = "{mode}"\n' + BASE), journal=None)


async def _error(mode: str, request: wire.Request, approved_by: str | None = "sophie") -> dict:
    frame = await edit_catalog(shop(mode), Caller(device="t1", seller="paul", approved_by=approved_by), request)
    return msgspec.json.decode(bytes(frame))


async def test_the_option_decides_which_verb_runs():
    for mode, request in (("refuse", ATTACH), ("refuse", CREATE), ("attach", CREATE)):
        error = await _error(mode, request)
        assert (error["type"], error["code"]) == ("error", "not_supported"), (mode, request)
        assert "unknown_code" in error["message"]


async def test_without_an_approval_nothing_is_done():
    error = await _error("create", CREATE, approved_by=None)
    assert (error["code"], error["role"]) == ("supervisor_required", "supervisor")
