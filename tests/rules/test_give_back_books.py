"""What a sale's cancel takes back off accounts, held in the books like a lane's spend
(rules/customers.py ``Books.giving_back`` / ``end_giving_back``): pure, no actor."""

from __future__ import annotations

from decimal import Decimal

from laneserver.rules.customers import Books, Hold

D = Decimal


def test_a_cancel_holds_what_it_takes_back_until_it_ends_and_a_spend_meanwhile_is_refused():
    books = Books({("C1", "wallet"): D("20.00"), ("C1", "credit"): D("5.00")})
    assert books.giving_back(7, "C1", "wallet", D("12.00")) is None
    assert books.giving_back(7, "C1", "credit", D("5.00")) is None
    # Its second take of the same account counts the first.
    refused = books.giving_back(7, "C1", "wallet", D("9.00"))
    assert refused is not None and refused.details == {"available": "8.00", "short": "1.00"}
    assert (books.available("C1", "wallet"), books.available("C1", "credit")) == (D("8.00"), D("0.00"))
    spend = books.ask(Hold(lane="2", payment=1, mode="wallet", amount=D("10.00"), customer="C1"))
    assert spend is not None and (spend.code, spend.details) == ("insufficient_funds",
                                                                 {"available": "8.00", "short": "2.00"})
    # A lane's restart reports its own holds: a cancel's are not its.
    books.report("2", [])
    assert books.available("C1", "wallet") == D("8.00")
    # Another cancel's holds are its own; ended one by one, or all at once.
    assert books.giving_back(8, "C1", "wallet", D("3.00")) is None
    ended = books.end_giving_back(7)
    assert sorted((h.mode, h.amount) for h in ended) == [("credit", D("5.00")), ("wallet", D("12.00"))]
    assert books.available("C1", "wallet") == D("17.00")
    assert [h.amount for h in books.end_giving_back(every=True)] == [D("3.00")]
    assert books.holds == {} and books.available("C1", "wallet") == D("20.00")
