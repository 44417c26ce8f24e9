"""The till's customer card in a shop with a head office that does not answer (issue 19,
the chain-wide balance): a customer head office never spoke of shows the shop's own
figures with no note; once the shop holds a figure head office said (``hq_seen``, as its
last answer left it), the card shows that figure and "Hors ligne — soldes du réseau au
…", the ticket's strip "hors ligne". Real server, real Chromium; head office is a closed
loopback port (every call refused at once), so no PostgreSQL is needed here — the
answered case is tests/e2e/test_wallet_holds.py."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from laneserver.store.schema import DB_NAME
from tests.e2e.browser.conftest import Till, euros, expect
from tests.e2e.configured import CASHIER, configured_shop

CATALOG = "id,name,price,vat_rate,barcodes\nG890,Côtes du Rhône,8.90,20,200000008900\n"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: a connection there is refused


@pytest.fixture
def server(tmp_path: Path):
    config = (f'[shop]\nname = "Épicerie du Port"\nlocale = "fr"\n[[stock_points]]\nid = "main"\n'
              f'[[lanes]]\nid = "1"\nstock_point = "main"\n'
              f'[head_office]\nshop = "S001"\ndsn = "postgresql://postgres@127.0.0.1:{_closed_port()}/hq"\n'
              f'hold_timeout = 0.5\nbackoff_max = 5\n')
    with configured_shop(tmp_path, config, CATALOG) as running:
        yield running


def test_the_customer_card_says_the_balance_is_head_offices_last_figure(browser, server):
    till = Till(browser, server, "1").open().sign_in(CASHIER[0], CASHIER[1]).signed_in(CASHIER[0])
    try:
        till.by("customer-open").click()
        till.by("customer-new").click()
        till.by("customer-name-input").fill("Jeanne Martin")
        till.by("customer-wallet-input").check()
        till.by("customer-create").click()
        expect(till.by("customer-name")).to_have_text("Jeanne Martin")
        expect(till.by("customer-wallet")).to_have_text(euros(0))
        expect(till.by("customer-balance-source")).to_be_hidden()  # never said by head office: the shop's own
        customer = till.by("customer-id").inner_text().split(" ")[0]
        # Head office's last answer about her, as the shop noted it (42.00 available).
        db = sqlite3.connect(server.data / DB_NAME)
        try:
            with db:
                db.execute("INSERT INTO hq_seen(customer, account, available, at, up_to) VALUES (?, 'wallet',"
                           " '42.00', '2026-12-06T09:30:00+00:00', 0)", (customer,))
        finally:
            db.close()
        till.by("customer-close").click()
        till.by("customer-open").click()  # the ticket's customer, asked again
        expect(till.by("customer-wallet")).to_have_text(euros(42))
        note = till.by("customer-balance-source")
        expect(note).to_be_visible()
        expect(note).to_contain_text("Hors ligne — soldes du réseau au 06/12/2026")
        till.by("customer-close").click()
        expect(till.by("ticket-customer-money")).to_contain_text("hors ligne")
        said = till.page.evaluate("""async () => {
            const i18n = await import("/till/i18n.js");
            const say = () => [i18n.t("customer.balance_head_office"), i18n.t("customer.balance_cached", {date: "D"}),
                               i18n.t("customer.strip_offline")];
            i18n.setLanguage("en");
            const en = say();
            i18n.setLanguage("fr");
            return {en, fr: say()};
        }""")
        assert said == {
            "en": ["Balances across the chain (head office).",
                   "Offline — chain balances as of D, less the payments taken here since.", "offline"],
            "fr": ["Soldes de tout le réseau (siège).",
                   "Hors ligne — soldes du réseau au D, moins les paiements faits ici depuis.", "hors ligne"]}, said
        assert till.errors == []
    finally:
        till.close()
