"""Pairing by code and the manager's screen, in the system's Chromium against a real server.

A till page opened with no token asks for the code store IT read out: a wrong code is
said, the right one pairs the page (its token kept in localStorage, a reload stays
paired); a PDA page pairs the same way. A manager signed in on a till adds a seller,
gives her a new PIN, disables her, revokes another device and sees that no closure
was made today.
"""

from __future__ import annotations

import re

from tests.e2e.browser.conftest import WAIT, expect


def _code(server, *args: str) -> str:
    return server.cli("pair", *args, "--code").stdout.strip().splitlines()[-1]


def test_a_till_and_a_pda_pair_with_a_code(live_server, browser):
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{live_server.url}/till/")
        expect(page.get_by_test_id("pair-screen")).to_be_visible()
        code_input = page.get_by_test_id("pair-code-input")
        expect(code_input).to_be_focused()  # first open, no token: the code is asked

        code = _code(live_server, "till", "--lane", "2")
        code_input.fill(f"{(int(code) + 1) % 1_000_000:06d}")
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("error-text")).to_contain_text("Code d'appairage inconnu")
        expect(page.get_by_test_id("pair-screen")).to_be_visible()

        code_input.fill(code)
        page.get_by_test_id("pair-code-button").click()
        expect(page.get_by_test_id("lane")).to_have_text("Caisse 2")
        expect(page.get_by_test_id("sign-in-screen")).to_be_visible()
        token = page.evaluate("localStorage.getItem('laneserver.token')")
        assert token and len(token) >= 32
        page.reload()  # the token is kept: still paired
        expect(page.get_by_test_id("sign-in-screen")).to_be_visible()
        expect(page.get_by_test_id("lane")).to_have_text("Caisse 2")

        pda = context.new_page()
        pda.set_default_timeout(WAIT)
        pda.on("pageerror", lambda error: errors.append(str(error)))
        pda.goto(f"{live_server.url}/pda/")
        expect(pda.get_by_test_id("pair-code-input")).to_be_focused()
        pda.get_by_test_id("pair-code-input").fill(_code(live_server, "pda"))
        pda.get_by_test_id("pair-code-button").click()
        expect(pda.get_by_test_id("sign-in-screen")).to_be_visible()
        assert pda.evaluate("localStorage.getItem('laneserver.pda.token')")
    finally:
        context.close()
    assert not errors, errors


def test_the_manager_screen(live_server, tills):
    """marie, the demo shop's seller, is a manager."""
    live_server.pair("pda")  # another device, to revoke
    till = tills(live_server).start()
    till.by("manager-open").click()
    panel = till.by("manager-panel")
    expect(panel).to_be_visible()
    expect(till.by("manager-seller")).to_have_count(1)
    expect(till.by("manager-no-closure")).to_be_visible()
    expect(till.by("manager-device")).to_have_count(2)

    # A new seller.
    till.by("seller-add-name").fill("lea")
    till.by("seller-add-pin").fill("2468")
    till.by("seller-add-role").select_option("cashier")
    till.by("seller-add-button").click()
    expect(till.by("manager-result")).to_contain_text("lea ajouté")
    lea = panel.locator('[data-testid="manager-seller"][data-seller="lea"]')
    expect(lea.get_by_test_id("manager-seller-state")).to_have_text("actif")

    # A new PIN for her.
    lea.get_by_test_id("seller-pin-open").click()
    expect(till.by("seller-pin-for")).to_have_text("Nouveau PIN de lea")
    till.by("seller-pin-input").fill("1357")
    till.by("seller-pin-save").click()
    expect(till.by("manager-result")).to_contain_text("Nouveau PIN enregistré pour lea")
    till.shot("manager-screen")

    # Disabled, after a confirmation.
    lea.get_by_test_id("seller-disable").click()
    till.by("confirm-yes").click()
    expect(lea.get_by_test_id("manager-seller-state")).to_have_text("désactivé")

    # The PDA revoked; this till cannot revoke itself.
    pda_row = panel.locator('[data-testid="manager-device"][data-device="pda-1"]')
    own = panel.locator('[data-testid="manager-device"][data-device="till-1-1"]')
    expect(own.get_by_test_id("device-revoke")).to_have_count(0)
    pda_row.get_by_test_id("device-revoke").click()
    till.by("confirm-yes").click()
    expect(pda_row.get_by_test_id("manager-device-state")).to_have_text("révoqué")
    till.expect_no_error()

    # What the server says of it, seen from the database the CLI reads.
    listing = live_server.cli("device", "list").stdout
    assert re.search(r"pda-1\s.*\syes$", listing, re.MULTILINE), listing
