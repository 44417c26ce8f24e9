"""The pages under their Content-Security-Policy (no inline script or style, nothing
from another origin): the till signs in, sells and takes cash, the PDA signs in, and
the browser reports no policy violation (Chromium logs each one on the console and
fires ``securitypolicyviolation``)."""

from __future__ import annotations

from tests.e2e.browser.conftest import PIN, SELLER, WAIT, expect, plain_articles

WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));
"""


def _watch(page, console: list[str]) -> None:
    page.add_init_script(WATCH_VIOLATIONS)
    page.on("console", lambda message: console.append(message.text))


def _violations(page, console: list[str]) -> list[str]:
    logged = [text for text in console if "Content Security Policy" in text]
    return logged + page.evaluate("window.__cspViolations || []")


def test_the_pages_run_under_their_csp(live_server, browser, tills):
    article = plain_articles()[0]
    till = tills(live_server, "1")
    console: list[str] = []
    _watch(till.page, console)
    response = till.page.goto(f"{live_server.url}/till/#token={till.token}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(till.by("lane")).to_have_text("Caisse 1")
    till.sign_in().signed_in()
    till.scan(article["barcode"], lines=1)
    till.expect_no_error()
    assert _violations(till.page, console) == []
    # the watch itself works: an image from another origin (not allowed) is reported
    till.page.evaluate("() => { const img = document.createElement('img'); "
                       "img.src = 'http://203.0.113.9/x.png'; document.body.append(img); }")
    for _ in range(50):  # the event comes a moment later (wait_for_function would eval too)
        if _violations(till.page, console):
            break
        till.page.wait_for_timeout(100)
    assert any("img-src" in violation or "203.0.113.9" in violation for violation in _violations(till.page, console))

    context = browser.new_context(viewport={"width": 480, "height": 800})
    try:
        pda = context.new_page()
        pda.set_default_timeout(WAIT)
        pda_console: list[str] = []
        _watch(pda, pda_console)
        pda.goto(f"{live_server.url}/pda/#token={live_server.pair('pda')}")
        pda.get_by_test_id("seller-input").fill(SELLER)
        pda.get_by_test_id("pin-input").fill(PIN)
        pda.get_by_test_id("sign-in-button").click()
        expect(pda.get_by_test_id("seller")).to_contain_text(SELLER)
        assert _violations(pda, pda_console) == []
    finally:
        context.close()
