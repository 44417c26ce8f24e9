"""The session's read-only answers: catalog look-ups (search, price check, keyboard),
the alcohol price calculator and invoices. No actor changes anything for them; the
stock levels come from the stock points (server/edge_stock.py)."""

from __future__ import annotations

import base64
from decimal import Decimal
from functools import partial
from typing import Any

import trio

from laneserver.actors.journal import read
from laneserver.hw.invoice_pdf import read_or_write_invoice
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame
from laneserver.protocol.views import article_view
from laneserver.rules import alcohol
from laneserver.rules.catalog import Ambiguous, Article, Found, SearchNotReady
from laneserver.rules.variable_measure import BadCheckDigit, Measured, resolve
from laneserver.rules.variable_measure import BadValue as BadMeasure
from laneserver.rules.money import fmt_money, fmt_percent, fmt_qty
from laneserver.rules.outcome import Refused
from laneserver.server import edge_stock
from laneserver.server.edge_lane import measure_refusal
from laneserver.store import reads

log = get_logger("session")


async def search(shop: Any, request: wire.Search) -> bytes:
    if not 1 <= request.limit <= 100:
        return error_frame(request, wire.Code.BAD_REQUEST, "limit must be between 1 and 100", field="limit")
    try:
        found = shop.catalog.search(request.text, limit=request.limit)
    except SearchNotReady as not_ready:
        return error_frame(request, wire.Code.UNAVAILABLE,
                           f"{not_ready}: scanning works; search again in a few seconds")
    return encode(wire.SearchOk(re=request.id, articles=[article_view(a) for a in found]))


async def keyboard(shop: Any, request: wire.Keyboard) -> bytes:
    return encode(wire.KeyboardOk(re=request.id, pages=shop.keyboard))


async def price_check(shop: Any, request: wire.PriceCheck) -> bytes:
    """The article a code names (a GS1 variable-measure code too), its price, shelf
    location, stock and variants; the ticket is not touched."""
    code = request.code
    match resolve(shop.catalog, code, shop.config.variable_measure):
        case Found(article=article):
            return await _price_checked(shop, request, article, "")
        case Measured(article=article, decoded=decoded):
            label = fmt_money(decoded.value) if decoded.kind == "price" else f"{fmt_qty(decoded.value)} kg"
            return await _price_checked(shop, request, article, label)
        case BadCheckDigit() | BadMeasure() as bad:
            return error_frame(request, wire.Code.BAD_REQUEST, measure_refusal(bad), field="code")
        case Ambiguous(candidates=candidates):
            return error_frame(
                request, wire.Code.AMBIGUOUS_CODE, f"code {code!r} matches {len(candidates)} articles: choose one",
                candidates=[wire.Candidate(article=a.id, name=a.name) for a in candidates],
            )
    # Not a code as ``scan`` reads it: an id in lower case (names: ``search`` first).
    found = edge_stock.find_article(shop, code, by_name=False, inactive=False)
    if isinstance(found, Refused):
        return error_frame(request, wire.Code.UNKNOWN_CODE, f"unknown code {code!r}")
    return encode(wire.PriceCheckOk(re=request.id, article=article_view(found),
                                    points=await edge_stock.levels(shop, found.id)))


async def _price_checked(shop: Any, request: wire.PriceCheck, article: Article, measured: str) -> bytes:
    variants = [
        wire.VariantView(article=v.id, size=v.size, colour=v.colour, price=fmt_money(v.price),
                         barcodes=[b.code for b in v.barcodes])
        for v in shop.catalog.variants(article.model) if v.active
    ]
    return encode(wire.PriceCheckOk(re=request.id, article=article_view(article),
                                    points=await edge_stock.levels(shop, article.id), variants=variants,
                                    measured=measured))


def alcohol_price(shop: Any, request: wire.AlcoholPricing) -> bytes:
    """The duties and price of an alcohol (rules/alcohol.py), with the shop's rates."""
    article = None
    if request.article is not None:
        article = shop.catalog.get(request.article)
        if article is None:
            return error_frame(request, wire.Code.NOT_FOUND, f"no article {request.article!r}",
                               article=request.article)
    rates = shop.config.shop
    result = alcohol.quote(
        cost=request.cost, margin=request.margin, volume_l=request.volume_l, abv=request.abv,
        vat_rate=request.vat_rate, tax_type=request.tax_type, article=article,
        excise_rate=Decimal(rates.alcohol_excise_rate), levy_rate=Decimal(rates.alcohol_levy_rate),
        vat_rates=shop.config.vat_rates,
    )
    if isinstance(result, alcohol.Refused):
        return error_frame(request, result.code, result.message, **result.details)
    paid = result.result
    return encode(wire.AlcoholPriceOk(
        re=request.id, excise=fmt_money(paid.duties.excise), levy=fmt_money(paid.duties.levy),
        cost_with_duties=fmt_money(paid.cost_with_duties), price=fmt_money(paid.price),
        cost=fmt_money(result.cost), margin=fmt_qty(result.margin), volume_l=fmt_qty(result.volume_l),
        abv="" if result.abv is None else fmt_percent(result.abv), vat_rate=fmt_percent(result.vat_rate),
        tax_type=result.tax_type, excise_rate=fmt_money(result.excise_rate),
        levy_rate=fmt_money(result.levy_rate), article=result.article,
    ))


async def invoice(shop: Any, request: wire.GetInvoice) -> bytes:
    """An invoice and its PDF (base64); a PDF missing from the invoices folder is
    rendered again from the database, in a worker thread."""
    if (request.invoice is None) == (request.sale is None):
        return error_frame(request, wire.Code.BAD_REQUEST, "invoice needs either invoice (a number) or sale",
                           field="invoice")
    found = await read(shop.journal, partial(reads.invoice, number=request.invoice, sale=request.sale))
    if found is None:
        what, field = (f"invoice {request.invoice}", "invoice") if request.sale is None else (
            f"invoice for sale {request.sale}", "sale")
        return error_frame(request, wire.Code.NOT_FOUND, f"no {what}", field=field)
    assert shop.data_folder is not None  # run_shop sets it
    try:
        pdf = await trio.to_thread.run_sync(read_or_write_invoice, found, shop.data_folder)
    except OSError as error:
        log.error("invoice_read_failed", invoice=found.number, error=str(error))
        return error_frame(request, wire.Code.UNAVAILABLE, f"the PDF of invoice {found.name} could not be read "
                                                           "or written; try again")
    return encode(wire.InvoiceOk(
        re=request.id, invoice=found.number, name=found.name, sale=found.sale, customer=found.customer,
        customer_name=found.customer_name, at=found.at.isoformat(), total_excl_vat=fmt_money(found.total_excl_vat),
        total=fmt_money(found.total), pdf=base64.b64encode(pdf).decode("ascii"),
    ))
