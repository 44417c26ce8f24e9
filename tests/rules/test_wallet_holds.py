"""The shop's offline decisions on a chain-wide wallet or credit (rules/wallet_holds.py): the
per-customer allowance, the balance last seen at head office, stale hold rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.wallet_holds import (
    SEEN_RECENTLY,
    Figure,
    Offline,
    Row,
    Seen,
    cached_figure,
    offline_left,
    offline_refusal,
    online_figure,
    short_refusal,
    stale_rows,
)

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def state(limit="30.00", used="0", seen="50.00", ago=dt.timedelta(minutes=5), since="0", topped="0") -> Offline:
    return Offline(limit=D(limit), used=D(used), seen=None if seen is None else Seen(D(seen), NOW - ago),
                   spent_since_seen=D(since), topped_up=D(topped))


def test_the_allowance_bounds_what_a_customer_spends_offline():
    assert offline_left(state(), NOW) == D("30.00")
    assert offline_refusal(state(), "wallet", D("30.00"), NOW) is None
    assert offline_left(state(used="25.00"), NOW) == D("5.00")
    refused = offline_refusal(state(used="25.00"), "wallet", D("5.01"), NOW)
    assert refused.code == "insufficient_funds"
    assert refused.details == {"available": "5.00", "short": "0.01"}
    assert "offline allowance of 30.00 per customer has 5.00 left" in refused.message
    # Used beyond it (a limit lowered since): nothing left, never a negative amount.
    assert offline_left(state(used="40.00"), NOW) == 0


def test_the_balance_last_seen_bounds_it_too_less_what_was_taken_offline_since():
    assert offline_left(state(seen="5.00"), NOW) == D("5.00")
    assert offline_left(state(seen="5.00", since="3.00"), NOW) == D("2.00")
    refused = offline_refusal(state(seen="5.00", since="3.00"), "credit", D("2.50"), NOW)
    assert refused.details == {"available": "2.00", "short": "0.50"}
    assert "the customer's credit had 2.00 available when head office last answered" in refused.message
    assert offline_left(state(seen="-4.00"), NOW) == 0  # a balance gone below zero: nothing


def test_nothing_offline_with_no_allowance_or_a_balance_not_seen_recently():
    for off in (state(limit="0"), state(seen=None), state(ago=SEEN_RECENTLY + dt.timedelta(seconds=1))):
        assert offline_left(off, NOW) is None
        refused = offline_refusal(off, "wallet", D("1.00"), NOW)
        assert refused.code == "unavailable" and "head office does not answer" in refused.message
    assert "offline_wallet_limit = 0" in offline_refusal(state(limit="0"), "wallet", D("1"), NOW).message
    assert "not seen the customer's wallet balance" in offline_refusal(state(seen=None), "wallet", D("1"), NOW).message
    assert offline_left(state(ago=SEEN_RECENTLY), NOW) == D("30.00")  # the edge: still recent


def test_money_topped_up_here_offline_adds_to_what_may_be_spent_not_to_the_limit():
    # Seen 50.00, 10.00 topped up here: 35.00 may be spent, past the 30.00 allowance.
    assert offline_left(state(topped="10.00"), NOW) == D("40.00")
    assert offline_refusal(state(topped="10.00"), "wallet", D("35.00"), NOW) is None
    # Spent: 5.00 left (30.00 of risk, 10.00 of the customer's own money here).
    after = state(used="35.00", since="35.00", topped="10.00")
    assert offline_left(after, NOW) == D("5.00")
    refused = offline_refusal(after, "wallet", D("6.00"), NOW)
    assert refused.details == {"available": "5.00", "short": "1.00"}
    assert "allowance of 30.00 per customer has 5.00 left (with 10.00 topped up here)" in refused.message
    # A balance seen at nothing: the top-up alone may be spent.
    assert offline_left(state(seen="0.00", topped="10.00"), NOW) == D("10.00")
    # A top-up given back offline (negative) takes it off again; the limit stays the limit.
    assert offline_left(state(topped="-5.00"), NOW) == D("25.00")
    # No allowance configured, or the balance not seen: a top-up does not open offline spending.
    assert offline_left(state(limit="0", topped="10.00"), NOW) is None
    assert offline_left(state(seen=None, topped="10.00"), NOW) is None


def test_the_tills_chain_wide_figures():
    # Head office: 50.00 across the shops, 2.00 of this shop's not shipped yet, 5.00 held
    # by another shop, 3.00 by this shop's open tickets.
    assert online_figure(D("50.00"), D("2.00"), D("5.00"), D("3.00")) == Figure(D("52.00"), D("44.00"))
    # Cached: the figure seen, less the offline spends, plus the top-ups since.
    assert cached_figure(state(seen="50.00", since="35.00", topped="10.00")) == Figure(D("25.00"), D("25.00"))
    assert cached_figure(state(seen=None)) is None


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(-5_000, 10_000), st.integers(0, 10_000),
       st.integers(1, 10_000), st.integers(-2_000, 10_000))
def test_what_is_granted_offline_never_passes_the_allowance_nor_the_seen_balance(limit, used, seen, since, cents,
                                                                                   topped):
    amount = D(cents) / 100
    off = state(limit=str(D(limit) / 100), used=str(D(used) / 100), seen=str(D(seen) / 100),
                since=str(D(since) / 100), topped=str(D(topped) / 100))
    if offline_refusal(off, "wallet", amount, NOW) is None:
        # The risk (spent beyond what was topped up here) within the allowance, and the
        # spends within the balance seen plus the top-ups.
        assert off.used + amount - off.topped_up <= off.limit
        assert off.spent_since_seen + amount <= off.seen.available + off.topped_up
    left = offline_left(off, NOW)
    assert left is None or left >= 0


def test_head_office_short_names_what_is_available_across_the_shops():
    refused = short_refusal("wallet", D("15.00"), D("5.00"))
    assert refused.code == "insufficient_funds" and refused.details == {"available": "5.00", "short": "10.00"}
    assert "5.00 available across the shops" in refused.message
    assert short_refusal("wallet", D("1.00"), D("-2.00")).details == {"available": "0.00", "short": "1.00"}


def test_rows_no_ticket_line_matches_are_stale():
    rows = [Row(1, 1, "H1", "wallet", D("15.00")), Row(2, 2, "H1", "credit", D("5.00")),
            Row(3, 3, "H1", "wallet", D("2.00"))]
    assert stale_rows(rows, [(1, "H1", "wallet", D("15.0")), (3, "H2", "wallet", D("2.00"))]) == [2, 3]
    assert stale_rows(rows, []) == [1, 2, 3]
