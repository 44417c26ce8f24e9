"""Money, quantities and percentages as ``Decimal``.

Money is always a ``Decimal`` with two places once rounded; on the wire it is a
string with exactly two decimals (``"12.50"``). Rounding is half up, to the cent,
as the shops' manuals do.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Clamped, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, Underflow

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
MAX_QTY = Decimal("99999")
MAX_MONEY = Decimal("9999999.99")

# Every decimal from outside (a frame's quantity or amount, a CSV cell, a config key) is
# bounded before any arithmetic: at most ``MAX_DECIMAL_CHARS`` characters, fewer than
# ``MAX_INTEGER_DIGITS`` digits before the point (|value| < 10**12) and at most
# ``MAX_PLACES`` decimals once trailing zeros are left out. Far beyond any real price or
# quantity (the parse_* functions below have their own, tighter limits), and small
# enough that no rounding, product or comparison of such values can overflow the
# decimal context ("1e999999999" once did, in ``abs``). The edge (protocol/codec.py)
# checks them when a frame is decoded; ``bounded`` (every parse_*) checks them again.
MAX_DECIMAL_CHARS = 40
MAX_INTEGER_DIGITS = 12
MAX_PLACES = 12
_LIMIT = 10**MAX_INTEGER_DIGITS

# The arithmetic of checking a value from outside: every condition a trap, so a value
# past the bounds above can only raise (and be refused), never round silently.
_STRICT = Context(prec=MAX_DECIMAL_CHARS + 10, Emax=MAX_INTEGER_DIGITS + 10, Emin=-(MAX_PLACES + 10),
                  rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow, Underflow, Clamped])


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


def shown(raw: object) -> str:
    """``raw`` as a message shows it: ``repr``, cut short when long (a 5,000-digit
    string or integer is not echoed back whole)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) >= 10**(MAX_DECIMAL_CHARS + 1):
        return f"an integer of {raw.bit_length()} bits"
    text = repr(raw)
    return text if len(text) <= MAX_DECIMAL_CHARS + 2 else f"{text[:MAX_DECIMAL_CHARS // 2]}… ({len(text)} characters)"


def bounded(raw: object, what: str) -> Decimal:
    """A number from outside as a finite ``Decimal`` within the bounds above
    (``MAX_DECIMAL_CHARS``, ``MAX_INTEGER_DIGITS``, ``MAX_PLACES``).

    Only the digits and the exponent are looked at, no arithmetic, so no value however
    long or large can raise anything but ``BadValue``.

    Raises:
        BadValue: not an integer, a decimal string or a ``Decimal``; not a finite
            number; or past the bounds. The message names ``what``.
    """
    if isinstance(raw, bool) or raw is None:
        raise BadValue(f"{what} must be a number, got {raw!r}")
    if isinstance(raw, int):
        if not -_LIMIT < raw < _LIMIT:
            raise BadValue(f"{what} {shown(raw)} is too large (at most {MAX_INTEGER_DIGITS} digits before the point)")
        return Decimal(raw)
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str):
        if len(raw) > MAX_DECIMAL_CHARS:
            raise BadValue(f"{what} {shown(raw)} is too long for a number (at most {MAX_DECIMAL_CHARS} characters)")
        try:
            value = Decimal(raw.strip())
        except (ArithmeticError, ValueError):
            raise BadValue(f"{what} {raw!r} is not a decimal number") from None
    else:
        raise BadValue(f"{what} must be an integer or a decimal string, got {type(raw).__name__}")
    if not value.is_finite():
        raise BadValue(f"{what} {shown(raw)} is not a finite number")
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0 and exponent < 0:  # trailing zeros of the fraction
        significant -= 1
        exponent += 1
    if any(digits) and exponent + significant > MAX_INTEGER_DIGITS:
        raise BadValue(f"{what} {shown(raw)} is too large (at most {MAX_INTEGER_DIGITS} digits before the point)")
    if exponent < -MAX_PLACES:
        raise BadValue(f"{what} {shown(raw)} has too many decimals (at most {MAX_PLACES})")
    if not any(digits):
        return Decimal(0) if exponent > 0 else value  # "0e999999999" is 0
    if value.as_tuple().exponent < -MAX_PLACES:  # "2.000000000000000": the zeros past MAX_PLACES go
        value = value.quantize(Decimal(1).scaleb(-MAX_PLACES), context=_STRICT)
    return value



def parse_money(raw: object, what: str = "amount") -> Decimal:
    """A money amount from outside: a decimal string or an integer; at most 2 places.

    Floats are refused: they cannot carry cents exactly.

    Raises:
        BadValue: and nothing else, whatever ``raw`` is.
    """
    if isinstance(raw, float):
        raise BadValue(f"{what} must be a decimal string such as \"12.50\", not a float")
    value = bounded(raw, what)
    try:
        if abs(value) > MAX_MONEY:
            raise BadValue(f"{what} {shown(raw)} is too large")
        cents = value.quantize(CENT, rounding=ROUND_HALF_UP, context=_STRICT)
        if value != cents:
            raise BadValue(f"{what} {shown(raw)} has more than two decimals")
        return cents + 0  # + 0 turns -0.00 into 0.00
    except ArithmeticError:  # cannot happen within the bounds: refused all the same
        raise BadValue(f"{what} {shown(raw)} is not an amount") from None


def parse_qty(raw: object, what: str = "qty") -> Decimal:
    """A quantity from outside: an integer or a decimal string, at most 3 places.

    Raises:
        BadValue: and nothing else, whatever ``raw`` is.
    """
    if isinstance(raw, float):
        raise BadValue(f"{what} must be an integer or a decimal string, not a float")
    value = bounded(raw, what)
    try:
        if abs(value) > MAX_QTY:
            raise BadValue(f"{what} {shown(raw)} is too large")
        if value != value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP, context=_STRICT):
            raise BadValue(f"{what} {shown(raw)} has more than three decimals")
    except ArithmeticError:  # cannot happen within the bounds: refused all the same
        raise BadValue(f"{what} {shown(raw)} is not a quantity") from None
    return value


def parse_percent(raw: object, what: str = "percent") -> Decimal:
    """A percentage from outside, 0 to 100.

    Raises:
        BadValue: and nothing else, whatever ``raw`` is.
    """
    if isinstance(raw, float):
        raise BadValue(f"{what} must be a decimal string such as \"15\", not a float")
    value = bounded(raw, what)
    if value < 0 or value > HUNDRED:
        raise BadValue(f"{what} {shown(raw)} must be between 0 and 100")
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
