"""A sale's receipt, built from the sale (rules/sale_receipt.py): pure, no printer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from laneserver.rules import lane as rules
from laneserver.rules import payment as payments
from laneserver.rules.sale_receipt import sale_footer, sale_receipt
from tests.rules.lane_history import NOW, SELLER, SWIM, WINE

D = Decimal
POLICY = payments.Policy(modes=payments.BUILTIN_MODES + (payments.Mode("gift", "Carte cadeau"),))


class Voucher(msgspec.Struct, frozen=True):
    origin: str
    code: str
    amount: Decimal
    valid_until: dt.date


def sold(*commands) -> rules.SaleCompleted:
    state = rules.LaneState(lane="2")
    for command in (*commands, rules.Finish(SELLER)):
        result = rules.apply(state, command, now=NOW)
        assert isinstance(result, rules.Applied), result
        state = result.state
    return next(e for e in result.events if isinstance(e, rules.SaleCompleted))


def test_a_receipt_shows_the_sale_with_the_shops_own_mode_by_its_label():
    sale = sold(rules.AddLine(SELLER, WINE, D(2)), rules.Pay(SELLER, "gift", D("10.00"), policy=POLICY),
                rules.Pay(SELLER, "cash", D("10.00"), policy=POLICY))
    receipt = sale_receipt(sale, number=42, shop_name="Épicerie", header=("1 rue",), footer=("Merci",),
                           policy=POLICY)
    assert (receipt.lane, receipt.number, receipt.seller, receipt.at, receipt.title) == ("2", 42, SELLER, NOW, "")
    assert [(l.name, l.qty, l.total) for l in receipt.lines] == [("Côtes du Rhône", D(2), D("17.80"))]
    assert [(p.mode, p.label, p.amount) for p in receipt.payments] == [
        ("gift", "Carte cadeau", D("10.00")), ("cash", "", D("10.00"))]  # a built-in mode: the printer's label
    assert (receipt.total, receipt.change, receipt.footer, receipt.header) == (D("17.80"), D("2.20"), ("Merci",),
                                                                                ("1 rue",))


def test_an_invoice_titles_the_slip_with_its_number():
    sale = sold(rules.AddLine(SELLER, WINE, D(1)), rules.Pay(SELLER, "card", policy=POLICY))
    receipt = sale_receipt(sale, number=7, shop_name="", header=(), footer=(), policy=POLICY, invoice=3)
    assert receipt.title == "FACTURE n° F-000003"


def test_the_footer_says_what_the_sale_left_the_customer_with():
    sale = sold(rules.SetCustomer(SELLER, "C1"), rules.AddLine(SELLER, SWIM, D(1), coupon=True, coupon_left=4),
                rules.AddTopup(SELLER, D("20.00")), rules.Pay(SELLER, "cash", policy=POLICY))
    vouchers = (Voucher("remainder", "V-9", D("3.50"), dt.date(2027, 6, 1)), Voucher("sale", "V-1", D(5), NOW.date()))
    assert sale_footer(sale, vouchers, balances=(("C1", "credit", D(1)), ("C1", "wallet", D("25.00")))) == (
        "Porte-monnaie : nouveau solde 25,00 €",
        "Entrée piscine : 4 coupon(s) restant(s)",
        "Reste : bon d'achat n° V-9 : 3,50 €",
        "Valable jusqu'au 2027-06-01",
    )
    receipt = sale_receipt(sale, number=1, shop_name="", header=(), footer=("Merci",), policy=POLICY)
    assert receipt.footer == ("Entrée piscine : 4 coupon(s) restant(s)", "Merci")  # no balance told: none shown
    assert [l.name for l in receipt.lines][0] == "Entrée piscine (coupon)"


def test_the_catalog_s_ticket_text_is_printed_under_its_article_s_lines():
    from laneserver.hw.receipt import render_receipt

    sale = sold(rules.AddLine(SELLER, WINE, D(1)), rules.Pay(SELLER, "card", policy=POLICY))
    texts = {WINE.id: "Garde 5 ans, servir à 16 °C"}
    receipt = sale_receipt(sale, number=8, shop_name="", header=(), footer=(), policy=POLICY,
                           ticket_text=lambda article: texts.get(article, ""))
    assert [l.text for l in receipt.lines] == ["Garde 5 ans, servir à 16 °C"]
    paper = render_receipt(receipt).decode("cp858", errors="replace")
    assert "Côtes du Rhône\n  Garde 5 ans, servir à 16 °C\n" in paper
    assert [l.text for l in sale_receipt(sale, number=8, shop_name="", header=(), footer=(),
                                         policy=POLICY).lines] == [""]
