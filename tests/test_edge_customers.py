"""The customers edge (server/edge_customers.py) without an actor: every customer verb
of the wire becomes a domain command (money parsed there, a bad amount refused before
any actor sees it), and the actor's results become the replies the wire always had.
Synchronous: ``build`` and ``answer`` are pure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from laneserver.actors.customers_messages import (
    CouponsLeft,
    CustomerFile,
    DepositCredit,
    EditCustomer,
    SaleSeen,
    ToppedUp,
    VoucherState,
)
from laneserver.protocol import messages as wire
from laneserver.rules.customers import Customer, Voucher
from laneserver.rules.outcome import Refused
from laneserver.server.edge_customers import answer, build

D = Decimal

VERBS = {
    "customer_create": {"name": "Jeanne"},
    "customer": {"customer": "C1"},
    "customer_search": {"text": "jea"},
    "customer_edit": {"customer": "C1", "card": None},
    "credit_deposit": {"customer": "C1", "amount": "10.00", "mode": "cash"},
    "wallet_topup": {"customer": "C1", "amount": 10, "mode": "cash"},
    "wallet_topup_cancel": {"topup": 1},
    "balance_correct": {"customer": "C1", "account": "credit", "amount": "-1.50", "reason": "typo"},
    "voucher_issue": {"amount": "20.00", "mode": "card"},
    "voucher": {"code": "V1"},
}


def request(verb: str, **fields) -> wire.Request:
    return msgspec.convert({"type": verb, "id": 1, **fields}, wire.RequestUnion)


def test_every_customer_verb_becomes_a_command():
    assert {v.__struct_config__.tag for v in wire.CUSTOMER_VERBS} == set(VERBS)
    for verb, fields in VERBS.items():
        command = build(request(verb, **fields))
        assert not isinstance(command, Refused), (verb, command)
    assert build(request("credit_deposit", customer="C1", amount="10.00", mode="cash")) == DepositCredit(
        customer="C1", amount=D("10.00"), mode="cash")
    # Fields left out stay unset; null clears.
    edit = build(request("customer_edit", customer="C1", card=None))
    assert edit == EditCustomer(customer="C1", card=None) and edit.name is msgspec.UNSET


def test_a_bad_amount_is_refused_at_the_edge():
    refused = build(request("wallet_topup", customer="C1", amount="10.005", mode="cash"))
    assert isinstance(refused, Refused) and refused.code == "bad_request" and "two decimals" in refused.message


def test_results_become_the_replies():
    jeanne = Customer(customer="C1", name="Jeanne", wallet_enabled=True)
    voucher = Voucher(code="V1", amount=D("20.00"), issued_at="2026-01-15T09:30:00+00:00",
                      valid_until=dt.date(2027, 1, 15), origin="".join(["so", "ld"]))  # as read back
    file = CustomerFile(customer=jeanne, credit=D("5"), wallet=D("12.50"), credit_available=D("5"),
                        wallet_available=D("2.50"), vouchers=(VoucherState(voucher, "valid"),),
                        history=(SaleSeen(3, "2026-01-15T09:00:00+00:00", "12.00"),),
                        coupons=(CouponsLeft(article="CAFE", name="Café", left=4, valid_until=dt.date(2026, 2, 1),
                                             held=1),),
                        owes=D("7.10"))
    reply = msgspec.json.decode(answer(request("wallet_topup", customer="C1", amount=10, mode="cash"),
                                       ToppedUp(2, file)))
    assert reply == {
        "type": "ok", "re": 1, "topup": 2,
        "customer": {
            "customer": "C1", "name": "Jeanne", "card": None, "business": False, "contact": None, "notes": None,
            "credit": "5.00", "wallet": "12.50", "wallet_enabled": True, "credit_available": "5.00",
            "wallet_available": "2.50",
            # origin "sold" (the default) is left out, however the voucher was read.
            "vouchers": [{"code": "V1", "amount": "20.00", "valid_until": "2027-01-15", "status": "valid",
                          "issued_at": "2026-01-15T09:30:00+00:00"}],
            "history": [{"number": 3, "at": "2026-01-15T09:00:00+00:00", "total": "12.00"}],
            "owes": "7.10",
            "coupons": [{"article": "CAFE", "left": 4, "valid_until": "2026-02-01", "expired": 0, "held": 1,
                         "name": "Café"}],
        },
    }
