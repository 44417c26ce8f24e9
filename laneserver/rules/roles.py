"""Who may use which verb: the roles table and its one check.

Three roles, in rising order: ``cashier`` < ``supervisor`` < ``manager``. Each verb
needs a role (``DEFAULT_ROLES``); a seller whose role is that one or above may use it.
A shop changes the table with ``[roles]`` in its file (``role_table``: an unknown verb
or role is refused naming the key).

A verb whose route takes a ``supervisor_pin`` (server/routes.py ``approval``) is also
open to a seller of a lower role who types a supervisor's or a manager's PIN on the
spot: the session checks the PIN and hands the actor ``approved_by``. A seller whose
own role is ``supervisor`` or above approves such a verb himself (``self_approves``):
he needs no PIN.

Verbs needing ``cashier`` are not checked here at all: whether a seller must be signed
in for them is each domain's rule, as before the table.

The table is data: it names verbs whose handlers other modules add (the fiscal
verbs), and a verb it does not name needs ``cashier``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from laneserver.rules.auth import ROLES

_RANK = {role: rank for rank, role in enumerate(ROLES)}

_SUPERVISOR_VERBS = (
    "drawer_open",      # no sale: the drawer opened without a sale
    "sale_cancel",      # a finished sale cancelled (counter-entry)
    "payment_correct",  # a finished sale's payment corrected
    "debt_abandon",     # an unpaid sale's debt written off
    "balance_correct",  # a customer's credit or wallet corrected
    "closures",         # the closures' list
    "stock_count_validate",  # an inventory counted by zone applied to the stock (or a supervisor's PIN)
    "document_cancel",  # a quote or order cancelled, an order's deposit refunded or kept
    # An unknown code made sellable ([shop] unknown_code; or a supervisor's PIN on the spot).
    "article_create", "barcode_attach",
)
_MANAGER_VERBS = (
    "stock_count",      # an inventory count sets the real stock
    "stock_delete",     # an article's stock record removed
    "stock_tracking",   # stock tracking switched on or off
    "close",            # a day, month or year closed (fiscal; or a supervisor's PIN on the spot)
    "events",           # the technical event journal (JET)
    "sellers", "seller_add", "seller_disable", "seller_pin",
    "devices", "device_revoke",
    "keyboard_save",    # the till's keyboard layout (rules/keyboard.py)
)
_CASHIER_VERBS = (
    "hello", "pair", "sign_in", "sign_out", "scan", "add", "set_qty", "remove_line", "cancel_ticket", "discount",
    "set_customer", "hold", "held", "recall", "pay", "remove_payment", "finish", "ticket", "stock", "stock_entry",
    "stock_exit", "basket_empty", "basket_park", "search", "price_check", "keyboard", "alcohol_price", "stock_transfer",
    "stock_state", "stock_history", "stock_produce", "stock_expiring", "purchase_order_create", "purchase_receive",
    "purchase_cancel", "purchase_orders", "replenishment", "drawer", "drawer_movement", "drawer_count",
    "customer_create", "customer", "customer_search", "customer_edit", "credit_deposit", "wallet_topup",
    "wallet_topup_cancel", "voucher_issue", "voucher", "topup_line", "sale", "unpaid", "pay_later", "invoice",
    # The open period's totals: a cashier's own lane only (server/edge_fiscal.py); a copy of
    # a receipt: a duplicate is counted, chained and printed "DUPLICATA", a proof once.
    "x_report", "reprint",
    # A PDA's stock work (issue 16): counting by zone, the open count, shelf-label requests.
    "stock_count_zone", "stock_counts", "label_request", "label_requests",
    # Documents (rules/documents.py): made from the open ticket, listed, delivery notes invoiced.
    "quote", "order", "delivery_note", "documents", "document_invoice",
    "document_pdf",     # a document's A4 PDF (rules/document_print.py)
    # The till's second round (issue 17): a line's price overridden (a supervisor's PIN above
    # [shop] price_override_cap) and a subtotal marker.
    "set_price", "subtotal",
    "receipt",          # the receipt of one of the lane's last sales, as text (the till shows it)
)

# Every verb the server knows, with the role it needs unless the shop's ``[roles]`` says
# otherwise (docs/operations.md "Roles" shows it as a table).
DEFAULT_ROLES: Mapping[str, str] = MappingProxyType({
    **{verb: "cashier" for verb in _CASHIER_VERBS},
    **{verb: "supervisor" for verb in _SUPERVISOR_VERBS},
    **{verb: "manager" for verb in _MANAGER_VERBS},
})


class RoleTableError(ValueError):
    """A ``[roles]`` entry cannot be used; the message names its key (``roles.VERB``)."""


def role_table(overrides: Mapping[str, object] | None = None) -> Mapping[str, str]:
    """The default table with the shop's ``overrides`` (verb → role) applied.

    Raises:
        RoleTableError: a verb the table does not know, or a role that is not one of
            ``ROLES``; the message names the key.
    """
    table = dict(DEFAULT_ROLES)
    for verb, role in (overrides or {}).items():
        if verb not in DEFAULT_ROLES:
            raise RoleTableError(f"roles.{verb}: unknown verb {verb!r} (docs/operations.md lists the verbs)")
        if role not in _RANK:
            raise RoleTableError(f"roles.{verb}: {role!r} is not a role (one of {', '.join(ROLES)})")
        table[verb] = str(role)
    return MappingProxyType(table)


def needed(table: Mapping[str, str], verb: str) -> str:
    """The role ``verb`` needs (``cashier`` for a verb the table does not name)."""
    return table.get(verb, "cashier")


def at_least(role: str | None, needed_role: str) -> bool:
    """``role`` is ``needed_role`` or above (None: nobody signed in, below every role)."""
    return role is not None and _RANK.get(role, -1) >= _RANK[needed_role]


def self_approves(role: str | None) -> bool:
    """A seller of ``role`` approves a verb that takes a supervisor's PIN himself."""
    return at_least(role, "supervisor")


@dataclass(frozen=True)
class Denied:
    """Why a verb is refused: the error ``code``, the ``role`` it needs, and the words."""

    code: str  # forbidden | supervisor_required | not_signed_in
    role: str
    message: str


def check(table: Mapping[str, str], verb: str, role: str | None, *, takes_pin: bool,
          pin_given: bool) -> Denied | None:
    """None when a seller of ``role`` (None: nobody signed in) may send ``verb``, else why not.

    ``takes_pin``: the verb's route checks a ``supervisor_pin``; ``pin_given``: the request
    carries one (checked afterwards by the session: a wrong one is refused there).
    """
    need = needed(table, verb)
    if need == "cashier" or at_least(role, need):
        return None
    if takes_pin:
        if pin_given:
            return None
        return Denied("supervisor_required", need,
                      f"{verb} needs a {need} signed in, or a supervisor's PIN (supervisor_pin): nothing was changed")
    if role is None:
        return Denied("not_signed_in", need, f"{verb} needs a {need} signed in on this device")
    return Denied("forbidden", need, f"{verb} is for a {need}{'' if need == 'manager' else ' or a manager'}; "
                                     f"{role} is not enough: nothing was changed")
