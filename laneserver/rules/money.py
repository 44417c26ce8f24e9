"""Money, quantities and percentages as ``Decimal``.

Money is always a ``Decimal`` with two places once rounded; on the wire it is a
string with exactly two decimals (``"12.50"``). Rounding is half up, to the cent,
as the shops' manuals do.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
MAX_QTY = Decimal("99999")
MAX_MONEY = Decimal("9999999.99")


class BadValue(ValueError):
    """A value from outside (a frame, a CSV cell, a config key) is not acceptable."""


def round_cents(value: Decimal) -> Decimal:
    """Round half up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_step(value: Decimal, step: Decimal) -> Decimal:
    """Round half up to a multiple of ``step`` (a cash rounding step such as 0.05)."""
    if step <= 0:
        raise BadValue("a rounding step must be positive")
    return round_cents((value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


def _decimal(raw: object, what: str) -> Decimal:
    if isinstance(raw, bool) or raw is None:
        raise BadValue(f"{what} must be a number, got {raw!r}")
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise BadValue(f"{what} {raw!r} is not a decimal number") from None
    else:
        raise BadValue(f"{what} must be an integer or a decimal string, got {type(raw).__name__}")
    if not value.is_finite():
        raise BadValue(f"{what} {raw!r} is not a finite number")
    return value


def parse_money(raw: object, what: str = "amount") -> Decimal:
    """A money amount from outside: a decimal string or an integer; at most 2 places.

    Floats are refused: they cannot carry cents exactly.
    """
    if isinstance(raw, float):
        raise BadValue(f"{what} must be a decimal string such as \"12.50\", not a float")
    value = _decimal(raw, what)
    # Size first: quantizing a huge value ("1e30") raises InvalidOperation.
    if abs(value) > MAX_MONEY:
        raise BadValue(f"{what} {raw!r} is too large")
    if value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        raise BadValue(f"{what} {raw!r} has more than two decimals")
    return value.quantize(CENT) + 0  # + 0 turns -0.00 into 0.00


def parse_qty(raw: object, what: str = "qty") -> Decimal:
    """A quantity from outside: an integer or a decimal string, at most 3 places."""
    if isinstance(raw, float):
        raise BadValue(f"{what} must be an integer or a decimal string, not a float")
    value = _decimal(raw, what)
    # Size first: quantizing a huge value ("1e30") raises InvalidOperation.
    if abs(value) > MAX_QTY:
        raise BadValue(f"{what} {raw!r} is too large")
    if value != value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP):
        raise BadValue(f"{what} {raw!r} has more than three decimals")
    return value


def parse_percent(raw: object, what: str = "percent") -> Decimal:
    if isinstance(raw, float):
        raise BadValue(f"{what} must be a decimal string such as \"15\", not a float")
    value = _decimal(raw, what)
    if value < 0 or value > HUNDRED:
        raise BadValue(f"{what} {raw!r} must be between 0 and 100")
    return value


def fmt_money(value: Decimal) -> str:
    """``Decimal("12.5")`` → ``"12.50"``."""
    return str(round_cents(value))


def fmt_qty(value: Decimal) -> str:
    """``Decimal("2.000")`` → ``"2"``, ``Decimal("0.4560")`` → ``"0.456"``."""
    normal = value.normalize()
    if normal == normal.to_integral_value():
        return str(normal.quantize(Decimal(1)))
    return format(normal, "f")


def fmt_percent(value: Decimal) -> str:
    return fmt_qty(value)
