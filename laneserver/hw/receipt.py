"""Receipts as ESC/POS bytes: a pure rendering of ``rules.receipt.Receipt``.

Nothing here does I/O. python-escpos's ``Dummy`` printer collects the commands in
memory and the bytes are handed to a transport (``hw.printer_io``) by the printer
actor. Rendering the same receipt twice gives the same bytes, so tests compare
what a printer received with ``render_receipt(receipt)``.

Invariants:
  - a job starts with ESC @ (initialise), so it never inherits the bold, size or
    alignment a previous job (or a half-sent one) left on the printer;
  - text is encoded in code page CP858 (ESC t 19): every French letter, ``°`` and
    ``€`` are one byte each. A character outside CP858 prints as ``?``; it never
    raises, because a receipt that cannot print is worse than one odd glyph;
  - control characters in shop data (product names, header lines) are replaced by
    spaces, so a name can never smuggle an ESC/POS command onto the printer;
  - money is ``Decimal`` all the way, shown French style: ``12,50 €``.

Layout (``width`` columns of font A, 42 by default)::

          ÉPICERIE DU PORT            (double size, centred)
        12 quai des Pêcheurs          (header lines, centred)
    Caisse 1            23/11/2026 10:42
    Vendeur : Marie
    Ticket n° 123
             DUPLICATA                (a duplicate only)
          Impression n° 2             (copies: the print counter and when)
        Imprimé le 24/11/2026 09:10
    ------------------------------------------
    Pain de campagne
      2 x 3,50 €                      7,00 €
      Remise 10 %
    Confiture (returned: negative quantity)
      -1 x 4,20 €                    -4,20 €
      Retour
    ------------------------------------------
    TOTAL                            12,52 €  (bold, double height)
    Arrondi                          -0,02 €  (cash rounding, when not zero)
    Chèque                            9,00 €
      1/3 le 15/01/2026               3,00 €  (instalments, when in several)
    Titre-restaurant                  3,00 €
      Valeur 5,00 €, non rendu        2,00 €  (a forfeited meal voucher)
    Espèces                          20,00 €
    Rendu                            19,50 €
    Remboursement Espèces            -4,20 €  (a refund: a negative payment)
    ------------------------------------------
    Taux            HT        TVA        TTC
    5,5 %        11,85       0,65      12,50
    ------------------------------------------
         Merci de votre visite !      (footer lines, centred)
            laneserver 0.1.0          (the software, and the start of the
          Empreinte : 1a2b3c4d         sale record's hash in the sale chain)
            |||||||||||||||           (CODE128 of the ticket number)
    (feed and cut)

A gift receipt (``layout="gift"``) has its lines with their quantities only (``Qté : 2``)
and no totals, payments or VAT table; a payment proof (``layout="proof"``) has, instead
of lines, the amounts paid by mode and ``TOTAL PAYÉ``.
"""

from __future__ import annotations

import textwrap
from decimal import Decimal

from escpos.printer import Dummy

from laneserver.hw.profiles import DEFAULT, Profile, spell_for
from laneserver.rules.money import fmt_money, fmt_percent, fmt_qty
from laneserver.rules.drawer import DrawerSlip
from laneserver.rules.printer_status import drawer_kick
from laneserver.rules.receipt import Receipt, ReceiptLine

#: ESC/POS code page used for all text: Latin-1 letters plus ``€`` (unlike CP437/CP850).
CODEPAGE = "CP858"

#: How payment modes read on paper; a mode not listed prints as it is.
PAYMENT_LABELS: dict[str, str] = {
    "cash": "Espèces",
    "card": "Carte bancaire",
    "cheque": "Chèque",
    "meal_voucher": "Titre-restaurant",
}

#: Typographic characters shop data often contains that CP858 lacks, mapped to
#: what a cashier would type; everything else outside CP858 becomes "?".
_PLAIN = str.maketrans(
    {
        "\u2019": "'",  # ’
        "\u2018": "'",  # ‘
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u2013": "-",  # –
        "\u2014": "-",  # —
        "\u2026": "...",  # …
        "\u00a0": " ",  # no-break space
        "\u202f": " ",  # narrow no-break space (French thousands / before ":")
        # C0 controls and DEL: a name must not carry printer commands.
        **{chr(code): " " for code in (*range(32), 127)},
    }
)

_BARCODE_HEIGHT = 64  # dots, about 8 mm at 203 dpi: scans well, costs little paper
_BARCODE_MODULE = 2  # narrowest module width the command accepts; fits 42 columns


class Paper(Dummy):
    """python-escpos's in-memory printer, writing text in one fixed code page; what
    the page lacks among ``œ Œ €`` is spelled out (hw/profiles.py)."""

    def __init__(self, profile: Profile = DEFAULT) -> None:
        super().__init__(profile=profile.name or None)
        self.codepage = profile.codepage

    def text(self, txt: str) -> None:
        super().text(spell_for(self.codepage, str(txt)))


def start_job(profile: Profile = DEFAULT) -> Paper:
    """A new job: ESC @ (initialise), then ESC t for the profile's code page.

    Forced rather than python-escpos's "magic" auto-selection: one ESC t for the
    whole job and the same bytes for the same text, whichever letters it uses.
    """
    printer = Paper(profile)
    printer.hw("INIT")
    printer.charcode(profile.codepage)
    return printer


def render_receipt(receipt: Receipt, *, width: int = 42, profile: Profile = DEFAULT) -> bytes:
    """Render ``receipt`` as the ESC/POS bytes of one print job.

    Args:
        receipt: what the receipt says (amounts already computed by the rules).
        width: printable columns in font A (``PrinterConfig.width``); 42 fits most
            80 mm printers, 32 fits 58 mm ones.
        profile: the printer's model (hw/profiles.py): its code page and cutter.

    Returns:
        The complete job: initialise, text, VAT table, barcode, feed and cut.

    Raises:
        ValueError: ``width`` is too small to lay out a receipt (under 24).
        escpos.exceptions.Error: python-escpos refused a command. That is a bug
            in this function, not a printer problem; the printer actor lets it
            crash so its supervisor restarts it.
    """
    if width < 24:
        raise ValueError(f"a receipt needs at least 24 columns, got {width}")
    printer = start_job(profile)

    _render_header(printer, receipt, width)
    rule = "-" * width
    printer.textln(rule)
    if receipt.layout == "proof":  # what was paid, by mode: no line, no VAT
        _render_proof(printer, receipt, width)
    else:
        for line in receipt.lines:
            _render_line(printer, line, width, prices=receipt.layout != "gift")
    printer.textln(rule)
    if receipt.layout == "sale":  # a gift receipt shows no price, no total, no VAT
        _render_totals(printer, receipt, width)
        printer.textln(rule)
        _render_vat(printer, receipt, width)
        printer.textln(rule)
    _render_footer(printer, receipt)
    printer.cut()
    return printer.output


def render_drawer_kick(pin: int = 2, on_ms: int = 100, off_ms: int = 100) -> bytes:
    """The ESC p m t1 t2 pulse that opens a cash drawer wired to the printer
    (rules/printer_status.py ``drawer_kick``; the defaults are python-escpos's pin 2
    kick, ``ESC p 0 50 50``).

    Returns:
        The command bytes; sent as a job of their own.

    Raises:
        ValueError: a pin other than 2 or 5, or a pulse time out of range.
    """
    return drawer_kick(pin, on_ms, off_ms)


def format_money(value: Decimal) -> str:
    """``Decimal("12.5")`` → ``"12,50 €"`` (rounded half up to the cent)."""
    return f"{_amount(value)} €"


def payment_label(mode: str) -> str:
    """The French label of a payment mode (``"cash"`` → ``"Espèces"``)."""
    return PAYMENT_LABELS.get(mode, mode)


def _render_header(printer: Paper, receipt: Receipt, width: int) -> None:
    printer.set(align="center", bold=True, double_width=True, double_height=True)
    printer.textln(_plain(receipt.shop_name))
    printer.set(align="center", bold=False, normal_textsize=True)
    for line in receipt.header:
        printer.textln(_plain(line))
    printer.set(align="left")
    printer.ln()
    printer.textln(_columns(f"Caisse {_plain(receipt.lane)}", receipt.at.strftime("%d/%m/%Y %H:%M"), width))
    printer.textln(f"Vendeur : {_plain(receipt.seller)}"[:width])
    printer.textln(f"N° {_plain(receipt.document)}" if receipt.document else f"Ticket n° {receipt.number}")
    if receipt.title:
        printer.set(align="center", bold=True, double_width=True, double_height=True)
        printer.textln(_plain(receipt.title))
        printer.set(align="left", bold=False, normal_textsize=True)
    if receipt.duplicate:
        printer.set(align="center", bold=True, double_width=True, double_height=True)
        printer.textln("DUPLICATA")
    if receipt.duplicate or receipt.printed_at is not None:  # a copy: its print counter
        printer.set(align="center", bold=False, normal_textsize=True)
        printer.textln(f"Impression n° {receipt.print_count}")
        if receipt.printed_at is not None:
            printer.textln(f"Imprimé le {receipt.printed_at.strftime('%d/%m/%Y %H:%M')}")
        printer.set(align="left")


def _render_line(printer: Dummy, line: ReceiptLine, width: int, *, prices: bool = True) -> None:
    # Long names wrap rather than being cut: the customer must recognise the item.
    for part in textwrap.wrap(_plain(line.name), width) or [""]:
        printer.textln(part)
    for part in textwrap.wrap(_plain(line.text), width - 2):  # the catalog's ticket_text
        printer.textln(f"  {part}")
    if not prices:  # a gift receipt: the quantity, nothing that tells a price
        printer.textln(f"  Qté : {_qty(line.qty)}")
        if line.qty < 0:
            printer.textln("  Retour")
        return
    detail = f"  {_qty(line.qty)} x {format_money(line.unit_price)}"
    printer.textln(_columns(detail, format_money(line.total), width))
    if line.discount_percent != 0:
        printer.textln(f"  Remise {_percent(line.discount_percent)}")
    if line.qty < 0:
        printer.textln("  Retour")


def _render_totals(printer: Dummy, receipt: Receipt, width: int) -> None:
    # Double height only: double width would halve the columns and push the
    # amount onto a second line.
    printer.set(bold=True, double_height=True)
    printer.textln(_columns("TOTAL", format_money(receipt.total), width))
    printer.set(bold=False, normal_textsize=True)
    if receipt.rounding != 0:
        printer.textln(_columns("Arrondi", format_money(receipt.rounding), width))
    for payment in receipt.payments:
        label = payment.label or payment_label(payment.mode)
        if payment.amount < 0:  # returns: money given back
            label = f"Remboursement {label}"
        printer.textln(_columns(_plain(label), format_money(payment.amount), width))
        count = len(payment.instalments)
        for k, part in enumerate(payment.instalments, start=1):
            due = f"  {k}/{count} le {part.due.strftime('%d/%m/%Y')}"
            printer.textln(_columns(due, format_money(part.amount), width))
        if payment.tendered is not None:
            forfeited = format_money(payment.tendered - payment.amount)
            printer.textln(_columns(f"  Valeur {format_money(payment.tendered)}, non rendu", forfeited, width))
    if receipt.change > 0:
        printer.textln(_columns("Rendu", format_money(receipt.change), width))


def _render_proof(printer: Dummy, receipt: Receipt, width: int) -> None:
    """A payment proof: what the sale was paid, by mode, and the sum."""
    printer.textln("Justificatif de paiement"[:width])
    printer.textln(f"de la vente n° {receipt.number} du {receipt.at.strftime('%d/%m/%Y')}"[:width])
    printer.ln()
    for payment in receipt.payments:
        label = payment.label or payment_label(payment.mode)
        printer.textln(_columns(_plain(label), format_money(payment.amount), width))
    printer.set(bold=True, double_height=True)
    printer.textln(_columns("TOTAL PAYÉ", format_money(receipt.total), width))
    printer.set(bold=False, normal_textsize=True)


def _render_vat(printer: Dummy, receipt: Receipt, width: int) -> None:
    # Three equal amount columns, the rate takes what is left (9 of 42 columns).
    amount_width = (width - 7) // 3
    rate_width = width - 3 * amount_width
    printer.textln(f"{'Taux':<{rate_width}}{'HT':>{amount_width}}{'TVA':>{amount_width}}{'TTC':>{amount_width}}")
    for row in receipt.vat:
        printer.textln(
            f"{_percent(row.rate):<{rate_width}}"
            f"{_amount(row.base):>{amount_width}}"
            f"{_amount(row.vat):>{amount_width}}"
            f"{_amount(row.total):>{amount_width}}"
        )


def _render_footer(printer: Dummy, receipt: Receipt) -> None:
    printer.set(align="center")
    for line in receipt.footer:
        printer.textln(_plain(line))
    # Which software printed it, and the start of the sale record's hash: the paper
    # points at its record in the chain (docs/fiscal.md, "Copies").
    if receipt.software:
        printer.textln(_plain(receipt.software))
    if receipt.signature:
        printer.textln(f"Empreinte : {_plain(receipt.signature)}")
    printer.ln()
    # CODE128 (function B, GS k 73) in code set B: any digit string, no fixed
    # length, no checksum to compute. ESC/POS wants the code set selector "{B"
    # in front of the data; it is not printed in the human-readable line.
    # ``_hw_barcode`` rather than ``barcode``: the public method print()s
    # "Using hardware barcode renderer" to stdout on every call, which would
    # land in the journal under systemd; the hardware path is what it would
    # pick anyway for the default profile.
    printer._hw_barcode(
        "{B" + (receipt.code or f"{receipt.number:06d}"),
        "CODE128",
        height=_BARCODE_HEIGHT,
        width=_BARCODE_MODULE,
        pos="BELOW",
        font="A",
        align_ct=True,
        function_type="B",
        check=True,
    )
    printer.ln()
    printer.set(align="left")


def _columns(left: str, right: str, width: int) -> str:
    """``left`` and ``right`` on one line of ``width`` columns; ``left`` gives way."""
    room = max(width - len(right) - 1, 0)
    left = left[:room]
    return left + " " * (width - len(left) - len(right)) + right


def _amount(value: Decimal) -> str:
    return fmt_money(value).replace(".", ",")


def _qty(value: Decimal) -> str:
    return fmt_qty(value).replace(".", ",")


def _percent(value: Decimal) -> str:
    return f"{fmt_percent(value).replace('.', ',')} %"


def _plain(text: str) -> str:
    return text.translate(_PLAIN)


def plain_without_ligatures(text: str) -> str:
    """``_plain`` with ``œ`` and ``Œ`` written ``oe`` and ``OE`` (for Latin-1 output:
    the invoice PDF's core fonts). On paper the code page decides (``Paper``)."""
    return _plain(text).replace("\u0153", "oe").replace("\u0152", "OE")


def render_drawer_slip(slip: DrawerSlip, *, width: int = 42, profile: Profile = DEFAULT) -> bytes:
    """Render a cash drawer slip (a movement or a closing count) as one print job.

    Layout: the shop's name, the lane and time, the seller (and the approving
    supervisor), the title and amount in bold, the reason and detail, the count by
    denomination, for a count the expected cash and the difference; feed and cut.

    Raises:
        ValueError: ``width`` is under 24 columns.
    """
    if width < 24:
        raise ValueError(f"a slip needs at least 24 columns, got {width}")
    printer = start_job(profile)
    printer.set(align="center", bold=True)
    printer.textln(_plain(slip.shop_name)[:width])
    printer.set(align="left", bold=False, normal_textsize=True)
    printer.textln(_columns(f"Caisse {_plain(slip.lane)}", slip.at.strftime("%d/%m/%Y %H:%M"), width))
    printer.textln(f"Vendeur : {_plain(slip.seller)}"[:width])
    if slip.approved_by is not None:
        printer.textln(f"Autorisé par : {_plain(slip.approved_by)}"[:width])
    rule = "-" * width
    printer.textln(rule)
    printer.set(bold=True, double_height=True)
    printer.textln(_columns(_plain(slip.title), format_money(slip.amount), width))
    printer.set(bold=False, normal_textsize=True)
    if slip.reason:
        for part in textwrap.wrap(f"Motif : {_plain(slip.reason)}", width):
            printer.textln(part)
    if slip.detail:
        for part in textwrap.wrap(f"Détail : {_plain(slip.detail)}", width):
            printer.textln(part)
    if slip.count:
        printer.textln(rule)
        for value, pieces in slip.count:
            printer.textln(_columns(f"{pieces} x {format_money(value)}", format_money(value * pieces), width))
    if slip.expected is not None:
        printer.textln(rule)
        printer.textln(_columns("Attendu", format_money(slip.expected), width))
        printer.textln(_columns("Compté", format_money(slip.amount), width))
        if slip.difference is not None:
            printer.set(bold=True)
            printer.textln(_columns("Écart", format_money(slip.difference), width))
            printer.set(bold=False)
    printer.textln(rule)
    printer.ln()
    printer.textln("Signature :")
    printer.ln(2)
    printer.cut()
    return printer.output
