"""Head office's published customers (rules/customers_csv.py): the file refused whole
with its line, and what a version changes in a shop's directory."""

from __future__ import annotations

import pytest

from laneserver.rules.customers import Customer
from laneserver.rules.customers_csv import (
    CustomersCsvError,
    parse_customers_csv,
    published_changes,
)


def test_a_file_is_read_with_its_optional_columns_in_any_separator():
    found = parse_customers_csv("customer\tname\tbusiness\tcontact\twallet\nH1\tDupont SA\toui\t01 02\t\n"
                                "H2\tJeanne\t\t\ttrue\n")
    assert found == (Customer(customer="H1", name="Dupont SA", business=True, contact="01 02"),
                     Customer(customer="H2", name="Jeanne", wallet_enabled=True))


@pytest.mark.parametrize(("content", "said"), [
    ("name\nJeanne\n", "line 1: missing column(s) customer"),
    ("customer,name,age\nH1,J,3\n", "line 1: unknown column(s) age"),
    ("customer,name\nC12,Jeanne\n", "line 2: C12 is an id of the shops' own numbering"),
    ("customer,name\nH1,Jeanne\nH1,Paul\n", "line 3: customer H1 twice"),
    ("customer,name,card\nH1,Jeanne,29\nH2,Paul,29\n", "line 3: card 29 is also customer H1's"),
    ("customer,name\nH 1,Jeanne\n", "line 2: customer must be an id without spaces"),
    ("customer,name\nH1,\n", "line 2: customer H1 has no name"),
    ("customer,name,wallet\nH1,Jeanne,maybe\n", "line 2: wallet must be true or false"),
    ("customer,name\nH1,Jeanne,extra\n", "line 2: more cells than columns"),
])
def test_a_fault_refuses_the_whole_file_with_its_line(content, said):
    with pytest.raises(CustomersCsvError, match="^" + said.replace("(", r"\(").replace(")", r"\)")):
        parse_customers_csv(content)


def test_a_version_changes_only_what_differs_and_never_takes_another_customers_card():
    jeanne = Customer(customer="H1", name="Jeanne", card="29")
    directory = {"H1": jeanne, "C1": Customer(customer="C1", name="Local", card="30")}
    cards = {"29": "H1", "30": "C1"}
    renamed = Customer(customer="H1", name="Jeanne Roy", card="29")
    assert published_changes(directory, cards, [jeanne]) == ()
    new = Customer(customer="H3", name="Marc")
    assert published_changes(directory, cards, [renamed, new]) == (renamed, new)
    taken = Customer(customer="H2", name="Paul", card="30")
    assert published_changes(directory, cards, [taken]) == "card 30 of H2 is customer C1's in this shop"
