"""Alcohol duties and the sale price built on them (SPEC §7, the Kezia II alcohol module).

The shops' manual (Vente d'Alcool - Calcul des Taxes), for an article of unit volume
``V`` litres and strength ``T`` % vol, with the shop's base rates in euros per
hectolitre:

- type 1: excise and social-security levy = base × V in hectolitres;
- types 2 and 3: excise and levy = base × V in hectolitres × T / 100 (the bases are
  then per hectolitre of pure alcohol);
- each duty is rounded half up to the cent;
- sale price incl. VAT = (purchase cost excl. VAT + excise + levy) × margin
  coefficient × (1 + VAT), rounded half up to the cent.

The manual's example (SPEC §12): 918.80 × 0.005 × 0.4 = 1.8376 → 1.84;
551.82 × 0.005 × 0.4 = 1.10364 → 1.10; (10 + 1.84 + 1.10) × 2 × 1.20 = 31.056 → 31.06.

Invariants (checked by the property tests):
  - a duty is ``round_cents`` of base × hectolitres (× strength for types 2 and 3):
    it grows with the volume and the strength and is 0 when either is 0;
  - the price is at least the cost plus the duties (a margin coefficient is at
    least 1 and VAT is not negative), so never below the cost.

Pure: no Trio, no I/O. Values from outside go through the ``parse_*`` functions,
which raise ``BadValue`` naming the field.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any, Literal

import msgspec

from laneserver.rules.catalog import Article
from laneserver.rules.money import HUNDRED, BadValue, parse_money, parse_percent, parse_qty, round_cents
from laneserver.rules.outcome import Refused

TaxType = Literal[1, 2, 3]
TAX_TYPES: tuple[int, ...] = (1, 2, 3)
LITRES_PER_HECTOLITRE = Decimal(100)
ONE = Decimal(1)


class Duties(msgspec.Struct, frozen=True):
    """The two duties on one article, each rounded to the cent."""

    excise: Decimal  # droits sur les boissons (accises)
    levy: Decimal  # cotisation sécurité sociale

    @property
    def total(self) -> Decimal:
        return self.excise + self.levy


class AlcoholPrice(msgspec.Struct, frozen=True):
    """What the manual's *Calculer* gives: the duties, the cost with them, the price."""

    duties: Duties
    cost_with_duties: Decimal  # purchase cost excl. VAT + excise + levy
    price: Decimal  # sale price incl. VAT, to the cent


def duty(base: Decimal, volume_l: Decimal, abv: Decimal, tax_type: int = 2) -> Decimal:
    """One duty: ``base`` (euros per hl) × the volume in hl, × ``abv`` % for types 2 and 3.

    Rounded half up to the cent, as the manual does before building the price.

    Raises:
        ValueError: ``tax_type`` is not 1, 2 or 3.
    """
    if tax_type not in TAX_TYPES:
        raise ValueError(f"an alcohol tax type is 1, 2 or 3, got {tax_type!r}")
    amount = base * volume_l / LITRES_PER_HECTOLITRE
    if tax_type != 1:
        amount = amount * abv / HUNDRED
    return round_cents(amount)


def duties(excise_rate: Decimal, levy_rate: Decimal, volume_l: Decimal, abv: Decimal,
           tax_type: int = 2) -> Duties:
    """The excise and the levy of one unit of an article (the same formula, two bases)."""
    return Duties(excise=duty(excise_rate, volume_l, abv, tax_type), levy=duty(levy_rate, volume_l, abv, tax_type))


def sale_price(cost: Decimal, paid: Duties, margin: Decimal, vat_rate: Decimal) -> AlcoholPrice:
    """(cost + excise + levy) × margin × (1 + VAT %), rounded half up to the cent.

    Only the duties and the final price are rounded: the manual multiplies the exact
    product through (31.056 → 31.06).
    """
    with_duties = cost + paid.total
    price = round_cents(with_duties * margin * (ONE + vat_rate / HUNDRED))
    return AlcoholPrice(duties=paid, cost_with_duties=round_cents(with_duties), price=price)


def price_article(*, cost: Decimal, margin: Decimal, vat_rate: Decimal, volume_l: Decimal, abv: Decimal,
                  excise_rate: Decimal, levy_rate: Decimal, tax_type: int = 2) -> AlcoholPrice:
    """The manual's whole calculation for one article."""
    return sale_price(cost, duties(excise_rate, levy_rate, volume_l, abv, tax_type), margin, vat_rate)


# --- values from outside ---------------------------------------------------------------

MAX_RATE = Decimal("999999.99")
MAX_VOLUME_L = Decimal("10000")  # a 100 hl tank is the largest unit anybody sells
MAX_MARGIN = Decimal("1000")


def parse_rate(raw: object, what: str) -> Decimal:
    """A base rate in euros per hectolitre: money, not negative."""
    value = parse_money(raw, what)
    if value < 0 or value > MAX_RATE:
        raise BadValue(f"{what} {raw!r} must be between 0 and {MAX_RATE}")
    return value


def parse_volume(raw: object, what: str = "volume") -> Decimal:
    """A unit volume in litres: positive, at most 3 decimals (0.75, 0.5, 0.033)."""
    value = parse_qty(raw, what)
    if value <= 0 or value > MAX_VOLUME_L:
        raise BadValue(f"{what} {raw!r} must be a volume in litres, more than 0 and at most {MAX_VOLUME_L}")
    return value


def parse_abv(raw: object, what: str = "abv") -> Decimal:
    """A strength in % vol (titre alcoométrique volumique): 0 to 100, at most 2 decimals."""
    value = parse_percent(raw, what)
    if value != value.quantize(Decimal("0.01")):
        raise BadValue(f"{what} {raw!r} has more than two decimals")
    return value


def parse_margin(raw: object, what: str = "margin") -> Decimal:
    """A margin coefficient: at least 1 (below it the price would not cover cost and
    duties), at most 3 decimals."""
    value = parse_qty(raw, what)
    if value < ONE or value > MAX_MARGIN:
        raise BadValue(f"{what} {raw!r} must be a coefficient from 1 to {MAX_MARGIN} "
                       "(below 1 the price does not cover cost and duties)")
    return value


def parse_cost(raw: object, what: str = "cost") -> Decimal:
    """A purchase cost excl. VAT: money, not negative."""
    value = parse_money(raw, what)
    if value < 0:
        raise BadValue(f"{what} {raw!r} must not be negative")
    return value


# --- one request: the values, checked, then the calculation ----------------------------

class Quote(msgspec.Struct, frozen=True):
    """The values a calculation used (checked) and its result."""

    cost: Decimal
    margin: Decimal
    volume_l: Decimal
    abv: Decimal | None  # None: a type 1 duty without a strength
    vat_rate: Decimal
    tax_type: int
    excise_rate: Decimal
    levy_rate: Decimal
    result: AlcoholPrice
    article: str | None = None


def _bad(field: str, message: str) -> Refused:
    return Refused("bad_request", message, {"field": field})


def quote(*, cost: object, margin: object, volume_l: object = None, abv: object = None, vat_rate: object = None,
          tax_type: object = 2, article: Article | None = None, excise_rate: Decimal, levy_rate: Decimal,
          vat_rates: Collection[Decimal] = ()) -> Quote | Refused:
    """Check a request's values and compute. With ``article`` its volume, strength and
    VAT rate are used, and giving them too is refused (which one would count?).
    ``vat_rates``: when not empty, the only VAT rates accepted (the shop's).

    Every refusal is ``bad_request`` naming the field; nothing is computed then.
    """
    if isinstance(tax_type, bool) or tax_type not in TAX_TYPES:
        return _bad("tax_type", f"tax_type {tax_type!r} must be 1, 2 or 3")
    for name, given in (("cost", cost), ("margin", margin)):
        if given is None:
            return _bad(name, f"{name} is required")
    if article is not None:
        for name, given in (("volume_l", volume_l), ("abv", abv), ("vat_rate", vat_rate)):
            if given is not None:
                return _bad(name, f"{name} comes from article {article.id!r}: give either article or "
                                  "volume_l, abv and vat_rate")
        if not article.volume_l:
            return _bad("article", f"article {article.id!r} has no volume_l in the catalog")
        if not article.abv and tax_type != 1:
            return _bad("article", f"article {article.id!r} has no abv in the catalog")
        volume_l, abv, vat_rate = article.volume_l, article.abv or None, article.vat_rate
    else:
        if volume_l is None:
            return _bad("volume_l", "volume_l (litres) is required without article")
        if abv is None and tax_type != 1:
            return _bad("abv", f"abv (% vol) is required for tax type {tax_type}")
        if vat_rate is None:
            return _bad("vat_rate", "vat_rate is required without article")
    values: dict[str, Any] = {}
    for name, raw, parse in (("cost", cost, parse_cost), ("margin", margin, parse_margin),
                             ("volume_l", volume_l, parse_volume), ("abv", abv, parse_abv),
                             ("vat_rate", vat_rate, parse_percent)):
        if raw is None:
            values[name] = None
            continue
        try:
            values[name] = parse(raw, name)
        except BadValue as error:
            return _bad(name, str(error))
    if article is None and vat_rates and values["vat_rate"] not in vat_rates:
        allowed = ", ".join(str(r) for r in sorted(vat_rates))
        return _bad("vat_rate", f"vat_rate {vat_rate!r} is not one of the shop's rates ({allowed})")
    strength = values["abv"] if values["abv"] is not None else Decimal(0)
    result = price_article(cost=values["cost"], margin=values["margin"], vat_rate=values["vat_rate"],
                           volume_l=values["volume_l"], abv=strength, excise_rate=excise_rate,
                           levy_rate=levy_rate, tax_type=tax_type)  # type: ignore[arg-type]
    return Quote(cost=values["cost"], margin=values["margin"], volume_l=values["volume_l"], abv=values["abv"],
                 vat_rate=values["vat_rate"], tax_type=tax_type, excise_rate=excise_rate,  # type: ignore[arg-type]
                 levy_rate=levy_rate, result=result, article=article.id if article is not None else None)
