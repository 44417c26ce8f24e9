"""Who is signed in on a till page: the page's own reconnect (a server restart) keeps
its seller through the resume secret held in the page's memory, a reload asks for the
PIN again (the token alone, as a copied token, signs no one in), and a wrong PIN says
how many tries are left, in the page's language."""

from __future__ import annotations

from tests.e2e.browser.conftest import expect

RECONNECT = 15_000  # ms: a restart plus the page's reconnection backoff (≤ 3 s)


def test_a_restart_keeps_the_seller_a_reload_asks_the_pin(live_server, tills):
    till = tills(live_server).start()
    live_server.kill()
    expect(till.by("connection-banner")).to_have_attribute("data-state", "lost")
    live_server.restart()
    expect(till.by("connection-banner")).to_have_attribute("data-state", "back", timeout=RECONNECT)
    expect(till.by("seller")).to_contain_text("marie")  # the websocket came back: no PIN
    expect(till.by("sign-in-screen")).to_be_hidden()
    assert "resume" not in till.page.evaluate("JSON.stringify({...localStorage, ...sessionStorage})")

    till.page.reload()
    expect(till.by("sign-in-screen")).to_be_visible()  # a new page: the PIN again
    till.sign_in(pin="9999")
    expect(till.by("error-text")).to_contain_text("Encore 4 essais")
    till.sign_in().signed_in()
