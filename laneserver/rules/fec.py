"""The accounting export: the French FEC (Fichier des Écritures Comptables) built from
the fiscal chains. Pure: no I/O, money as ``Decimal`` (store/fec.py reads the rows,
the command line writes the file).

What becomes an entry (one ``EcritureNum`` each), by journal:

  VE  Ventes           a sale, a return or a counter-entry (a cancel): the customer
                       account 411 against the sales account of each VAT rate (excluding
                       VAT) and, for a wallet top-up line, the wallet account
  TV  TVA collectée    the same ticket's VAT: 411 against the VAT account of each rate
                       (none for a ticket whose VAT is all zero)
  RG  Règlements       the payment rows of a sale written together (at finish, a
                       correction, a later payment, a cancel's reversal): each mode's
                       account against 411; the change given back out of the cash
                       account; the cash rounding and an abandoned debt to their own
                       accounts
  CA  Caisse           money taken outside sales (the money chain: credit deposits,
                       wallet top-ups and their cancels, vouchers sold, balance
                       corrections): the mode's account against the customer's account

Invariants (tests/rules/test_fec.py, by hypothesis):
  - every entry balances: its debits equal its credits (amounts are never negative: a
    negative amount is written on the other side);
  - over any set of tickets, VE's sales lines (excluding VAT) plus TV's VAT lines add up
    to the tickets' totals including VAT (less their top-up lines), per VAT rate;
  - 411 is debited by a ticket's total and credited by what its payment rows settle
    less the change: what is left on it is exactly what is still due.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

import msgspec

from laneserver.rules.money import CENT, ZERO, round_cents

#: The 18 columns of article A47 A-1 of the Livre des procédures fiscales, in order.
COLUMNS = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib", "CompAuxNum",
    "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit", "EcritureLet", "DateLet",
    "ValidDate", "Montantdevise", "Idevise",
)

SALES, VAT, PAYMENTS, CASH_JOURNAL = "VE", "TV", "RG", "CA"
#: Journal code → label, in the order the file lists a day's entries.
JOURNALS = {
    SALES: "Ventes",
    VAT: "TVA collectée",
    PAYMENTS: "Règlements",
    CASH_JOURNAL: "Caisse - encaissements hors ventes",
}

CASH = "cash"
ROUNDING = "rounding"  # the payment row of a sale's cash rounding (rules/payment.py)
DEBT = "debt"  # the mode of an abandoned debt (rules/corrections.py ABD)
CORRECTION = "correction"  # the mode of a customer balance correction in the money chain

#: A payment mode's default account and label (the French chart of accounts).
DEFAULT_MODES: dict[str, tuple[str, str]] = {
    "cash": ("530", "Caisse espèces"),
    "card": ("5115", "Cartes bancaires à encaisser"),
    "cheque": ("5112", "Chèques à encaisser"),
    "meal_voucher": ("5116", "Titres-restaurant à encaisser"),
    "credit": ("4191", "Clients - avances reçues (compte client)"),
    "wallet": ("4191", "Clients - avances reçues (porte-monnaie)"),
    "voucher": ("4198", "Bons d'achat émis"),
    # An order's deposit (rules/documents.py): received on the order, used at its sale.
    "deposit": ("4191", "Clients - avances et acomptes reçus sur commandes"),
}
#: A shop's own payment mode with no account set: "other values to cash".
OTHER_MODE_ACCOUNT = "5118"
DEFAULT_CUSTOMERS = "411"
DEFAULT_LOSS = "658"  # a rounding or correction the shop gives: charges diverses de gestion courante
DEFAULT_GAIN = "758"  # one it gains: produits divers de gestion courante
DEFAULT_BAD_DEBTS = "654"  # pertes sur créances irrécouvrables

#: What an account number may be (FEC CompteNum is alphanumeric; a class digit first).
ACCOUNT = re.compile(r"[0-9][0-9A-Za-z]{0,19}")


# --- the accounts -----------------------------------------------------------------

def rate_key(rate: Decimal) -> str:
    """A VAT rate as the shop file and the labels write it: ``20``, ``5.5``, ``0``."""
    text = format(Decimal(rate).normalize(), "f")
    return "0" if text in ("0", "-0") else text


def _rate_suffix(rate: Decimal) -> str:
    """The rate in hundredths of a percent on four digits: 20 → 2000, 5.5 → 0550."""
    return f"{int((Decimal(rate) * 100).to_integral_value()):04d}"


def _french(number: str) -> str:
    return number.replace(".", ",")


class Accounts(msgspec.Struct, frozen=True, kw_only=True):
    """Where each kind of amount goes; the shop file's ``[accounting]`` table overrides
    any of them (config.py checks the numbers)."""

    customers: str = DEFAULT_CUSTOMERS
    sales: Mapping[str, str] = {}  # rate key → account; default 707 + the rate (rate_suffix)
    vat: Mapping[str, str] = {}  # rate key → account; default 44571 + the rate
    modes: Mapping[str, str] = {}  # payment mode → account; default DEFAULT_MODES, else OTHER_MODE_ACCOUNT
    mode_labels: Mapping[str, str] = {}  # a shop mode's label, for CompteLib
    loss: str = DEFAULT_LOSS
    gain: str = DEFAULT_GAIN
    bad_debts: str = DEFAULT_BAD_DEBTS

    def sales_account(self, rate: Decimal) -> tuple[str, str]:
        key = rate_key(rate)
        return self.sales.get(key, "707" + _rate_suffix(rate)), f"Ventes de marchandises TVA {_french(key)} %"

    def vat_account(self, rate: Decimal) -> tuple[str, str]:
        key = rate_key(rate)
        return self.vat.get(key, "44571" + _rate_suffix(rate)), f"TVA collectée {_french(key)} %"

    def mode_account(self, mode: str) -> tuple[str, str]:
        default, label = DEFAULT_MODES.get(mode, (OTHER_MODE_ACCOUNT, ""))
        label = label or self.mode_labels.get(mode) or f"Règlements {mode}"
        return self.modes.get(mode, default), label

    def customer_account(self) -> tuple[str, str]:
        return self.customers, "Clients"


# --- what the entries are built from (store/fec.py reads them) ----------------------

class VatPart(msgspec.Struct, frozen=True):
    rate: Decimal
    base: Decimal
    vat: Decimal
    total: Decimal


class Sale(msgspec.Struct, frozen=True, kw_only=True):
    """A record of the sales chain: a sale, a return, or the counter-entry of a sale."""

    number: int
    at: str  # as chained (ISO 8601): the payment rows written with it carry the same
    day: dt.date  # its shop day
    total: Decimal
    change: Decimal
    vat: tuple[VatPart, ...]
    customer: str | None = None
    customer_name: str | None = None
    cancels: int | None = None


class PaymentRow(msgspec.Struct, frozen=True, kw_only=True):
    """A row of the payments chain (rules/corrections.py types)."""

    number: int
    sale: int
    at: str
    day: dt.date
    type: str
    mode: str
    amount: Decimal
    sale_at: str  # the chained time of its sale: rows written with it settle the change
    sale_change: Decimal
    sale_cancels: int | None = None  # its sale is the counter-entry of that one
    customer: str | None = None
    customer_name: str | None = None


class MoneyRow(msgspec.Struct, frozen=True, kw_only=True):
    """A row of the money chain (money taken outside sales)."""

    number: int
    day: dt.date
    kind: str  # deposit, topup, topup_cancel, voucher, COR
    mode: str
    amount: Decimal
    customer: str | None = None
    customer_name: str | None = None
    ref: str | None = None


# --- the entries --------------------------------------------------------------------

class Line(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    account_label: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    aux: str = ""
    aux_label: str = ""
    rate: str = ""  # a sales or VAT line: its VAT rate (rate_key), for ``totals``; not in the file


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    journal: str
    number: str  # EcritureNum: the journal's code and its sequence in the file
    day: dt.date
    piece: str
    label: str
    lines: tuple[Line, ...]

    @property
    def debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)


def _line(account: tuple[str, str], amount: Decimal, *, debit: bool, aux: str | None = None,
          aux_label: str | None = None, rate: str = "") -> Line | None:
    """``amount`` on the debit side (``debit``) or the credit side; a negative amount on
    the other side; nothing for zero."""
    amount = round_cents(amount)
    if amount == 0:
        return None
    if amount < 0:
        amount, debit = -amount, not debit
    number, label = account
    return Line(account=number, account_label=label, debit=amount if debit else ZERO,
                credit=ZERO if debit else amount, aux=aux or "", aux_label=aux_label or "", rate=rate)


def _lines(*lines: Line | None) -> tuple[Line, ...]:
    return tuple(line for line in lines if line is not None)


def _piece(sale: int) -> str:
    return f"T{sale:06d}"


def _sale_label(sale: Sale) -> str:
    if sale.cancels is not None:
        return f"Annulation du ticket {sale.cancels} (ticket {sale.number})"
    if sale.total < 0:
        return f"Retour ticket {sale.number}"
    return f"Vente ticket {sale.number}"


def sale_entries(sale: Sale, accounts: Accounts) -> list[tuple[str, dt.date, str, str, tuple[Line, ...]]]:
    """The VE entry of a ticket and its TV entry (when it has VAT): (journal, day, piece,
    label, lines)."""
    customer = accounts.customer_account()
    aux = {"aux": sale.customer, "aux_label": sale.customer_name or sale.customer}
    goods = sum((part.total for part in sale.vat), ZERO)
    topup = sale.total - goods  # a wallet top-up line is in the total, in no VAT rate
    bases = sum((part.base for part in sale.vat), ZERO)
    label = _sale_label(sale)
    found = []
    ve = _lines(
        _line(customer, bases + topup, debit=True, **aux),
        *(_line(accounts.sales_account(part.rate), part.base, debit=False, rate=rate_key(part.rate))
          for part in sale.vat),
        _line(accounts.mode_account("wallet"), topup, debit=False, **aux),
    )
    if ve:
        found.append((SALES, sale.day, _piece(sale.number), label, ve))
    vat = sum((part.vat for part in sale.vat), ZERO)
    tv = _lines(
        _line(customer, vat, debit=True, **aux),
        *(_line(accounts.vat_account(part.rate), part.vat, debit=False, rate=rate_key(part.rate))
          for part in sale.vat),
    )
    if tv:
        found.append((VAT, sale.day, _piece(sale.number), f"TVA {label[:1].lower()}{label[1:]}", tv))
    return found


def _row_account(row_mode: str, amount: Decimal, accounts: Accounts) -> tuple[str, str]:
    """The account a payment (or money) row's amount is debited to (credited when negative)."""
    if row_mode in (ROUNDING, CORRECTION):
        return (accounts.loss, "Écarts et corrections (charge)") if amount > 0 else \
               (accounts.gain, "Écarts et corrections (produit)")
    if row_mode == DEBT:
        return accounts.bad_debts, "Pertes sur créances irrécouvrables"
    return accounts.mode_account(row_mode)


def payment_entry(rows: list[PaymentRow], accounts: Accounts) -> tuple[str, dt.date, str, str, tuple[Line, ...]]:
    """The RG entry of a sale's payment rows written together (one ``at``)."""
    first = rows[0]
    aux = {"aux": first.customer, "aux_label": first.customer_name or first.customer}
    settled = sum((row.amount for row in rows), ZERO)
    # The change is given once, when the sale is chained; its counter-entry takes it back.
    change = first.sale_change if first.at == first.sale_at else ZERO
    lines = _lines(
        *(_line(_row_account(row.mode, row.amount, accounts), row.amount, debit=True,
                **(aux if row.mode in ("credit", "wallet") else {})) for row in rows),
        _line(accounts.mode_account(CASH), change, debit=False),
        _line(accounts.customer_account(), settled - change, debit=False, **aux),
    )
    kinds = {row.type for row in rows}
    if first.sale_cancels is not None and first.at == first.sale_at:
        label = f"Annulation des règlements du ticket {first.sale_cancels} (ticket {first.sale})"
        return PAYMENTS, first.day, _piece(first.sale), label, lines
    what = ("Annulation de règlement" if kinds == {"ANL"} else
            "Correction de règlement" if "MAJ" in kinds else
            "Créance abandonnée" if kinds == {"ABD"} else
            "Remboursement" if settled < 0 else "Règlement")
    return PAYMENTS, first.day, _piece(first.sale), f"{what} ticket {first.sale}", lines


_MONEY_KINDS = {
    "deposit": ("credit", "Dépôt sur compte client"),
    "topup": ("wallet", "Rechargement porte-monnaie"),
    "topup_cancel": ("wallet", "Annulation de rechargement"),
    "voucher": ("voucher", "Bon d'achat vendu"),
    "order_deposit": ("deposit", "Acompte sur commande"),
    "order_deposit_refund": ("deposit", "Acompte remboursé"),
}


def money_entry(row: MoneyRow, accounts: Accounts) -> tuple[str, dt.date, str, str, tuple[Line, ...]]:
    """The CA entry of a money-chain row: its mode's account against the customer
    money it became (a balance correction: the shop's charge or gain against it)."""
    if row.kind == "COR":
        held, what = (row.ref if row.ref in ("credit", "wallet") else "credit"), "Correction de solde client"
    else:
        held, what = _MONEY_KINDS.get(row.kind, ("credit", f"Encaissement {row.kind}"))
    aux = {"aux": row.customer, "aux_label": row.customer_name or row.customer}
    lines = _lines(
        _line(_row_account(row.mode, row.amount, accounts), row.amount, debit=True),
        _line(accounts.mode_account(held), row.amount, debit=False, **aux),
    )
    return CASH_JOURNAL, row.day, f"M{row.number:06d}", f"{what} {row.number}", lines


def build(sales: Iterable[Sale], payments: Iterable[PaymentRow], money: Iterable[MoneyRow],
          accounts: Accounts) -> list[Entry]:
    """Every entry of the rows given, numbered per journal in date order (EcritureNum
    ``VE000001`` …), listed by day then journal."""
    drafts: list[tuple[dt.date, int, int, tuple[str, dt.date, str, str, tuple[Line, ...]]]] = []
    order = {code: i for i, code in enumerate(JOURNALS)}
    for sale in sales:
        for draft in sale_entries(sale, accounts):
            drafts.append((sale.day, order[draft[0]], sale.number, draft))
    groups: dict[tuple[int, str], list[PaymentRow]] = {}
    for row in payments:
        groups.setdefault((row.sale, row.at), []).append(row)
    for rows in groups.values():
        draft = payment_entry(rows, accounts)
        if draft[4]:
            drafts.append((draft[1], order[PAYMENTS], rows[0].number, draft))
    for row in money:
        draft = money_entry(row, accounts)
        if draft[4]:
            drafts.append((row.day, order[CASH_JOURNAL], row.number, draft))
    drafts.sort(key=lambda d: d[:3])
    counters = dict.fromkeys(JOURNALS, 0)
    entries = []
    for _, _, _, (journal, day, piece, label, lines) in drafts:
        counters[journal] += 1
        entries.append(Entry(journal=journal, number=f"{journal}{counters[journal]:06d}", day=day, piece=piece,
                             label=label, lines=lines))
    return entries


def unbalanced(entries: Iterable[Entry]) -> list[Entry]:
    """The entries whose debits are not their credits (none, by construction)."""
    return [entry for entry in entries if entry.debit != entry.credit]


# --- totals (the same figures a Z of the same days gives) ---------------------------

class Totals(msgspec.Struct, frozen=True, kw_only=True):
    """What the FEC of some days adds up to.

    ``by_rate``: rate key → (excluding VAT, VAT, including VAT), from VE and TV;
    ``by_mode``: payment mode → the net amount its rows settled (cash less the change
    given), from RG; ``money_by_mode``: the same for money taken outside sales, from CA.
    A rate or a mode whose amounts add up to nothing (a sale and its cancel) is left
    out; the cash rounding, abandoned debts and balance corrections are no mode.
    """

    by_rate: dict[str, tuple[Decimal, Decimal, Decimal]]
    by_mode: dict[str, Decimal]
    money_by_mode: dict[str, Decimal]


def totals(sales: Iterable[Sale], payments: Iterable[PaymentRow], money: Iterable[MoneyRow],
           accounts: Accounts) -> Totals:
    """The totals of the entries ``build`` makes of these rows: by rate read back from
    the VE and TV lines, by mode from the rows (two modes may share an account)."""
    sales, payments, money = list(sales), list(payments), list(money)
    base: dict[str, Decimal] = {}
    vat: dict[str, Decimal] = {}
    for entry in build(sales, payments, money, accounts):
        if entry.journal not in (SALES, VAT):
            continue
        into = base if entry.journal == SALES else vat
        for line in entry.lines:
            if line.rate:
                into[line.rate] = into.get(line.rate, ZERO) + line.credit - line.debit
    rates = sorted(set(base) | set(vat), key=Decimal)
    by_rate = {r: (base.get(r, ZERO), vat.get(r, ZERO), base.get(r, ZERO) + vat.get(r, ZERO)) for r in rates
               if base.get(r) or vat.get(r)}
    return Totals(by_rate=by_rate, by_mode=_mode_totals(payments, change=True),
                  money_by_mode=_mode_totals(money, change=False))


def _mode_totals(rows: list, *, change: bool) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    given: set[tuple[int, str]] = set()
    for row in rows:
        if row.mode in (ROUNDING, DEBT, CORRECTION):
            continue
        out[row.mode] = out.get(row.mode, ZERO) + row.amount
        if change and row.at == row.sale_at and (row.sale, row.at) not in given:
            given.add((row.sale, row.at))
            out[CASH] = out.get(CASH, ZERO) - row.sale_change
    return {mode: amount for mode, amount in sorted(out.items()) if amount}


# --- the file -----------------------------------------------------------------------

def amount_text(amount: Decimal) -> str:
    """An amount as the FEC writes it: two decimals, a comma, no thousands separator."""
    return format(amount.quantize(CENT), "f").replace(".", ",")


def _day(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _text(value: str) -> str:
    """A text field: no tab or line break can split a row."""
    return re.sub(r"[\t\r\n]+", " ", value).strip()


def rows(entries: Iterable[Entry]) -> list[tuple[str, ...]]:
    """The file's rows after its header: one per line of every entry, 18 fields each."""
    out = []
    for entry in entries:
        day = _day(entry.day)
        for line in entry.lines:
            out.append((
                entry.journal, JOURNALS[entry.journal], entry.number, day, line.account, _text(line.account_label),
                _text(line.aux), _text(line.aux_label), entry.piece, day, _text(entry.label),
                amount_text(line.debit), amount_text(line.credit), "", "", day, "", "",
            ))
    return out


def render(entries: Iterable[Entry], *, format: str = "fec") -> str:
    """The FEC file's text: tab-separated (``fec``) or comma-separated with quotes where
    a field needs them (``csv``), a header line, then the rows; UTF-8, LF line ends."""
    table = [COLUMNS, *rows(entries)]
    if format == "fec":
        return "".join("\t".join(row) + "\n" for row in table)
    if format == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(table)
        return out.getvalue()
    raise ValueError(f"unknown format {format!r} (fec or csv)")
