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


def test_pin_errors_in_the_pages_languages(live_server, tills):
    """The tries left and the lock's length, as the server sends them, in French and English."""
    till = tills(live_server)
    till.page.goto(f"{live_server.url}/till/")
    got = till.page.evaluate("""async () => {
        const f = await import("/till/format.js");
        const i18n = await import("/till/i18n.js");
        const say = () => [
            f.describeError({code: "wrong_pin", frame: {tries_left: 3}}, {verb: "sign_in"}).text,
            f.describeError({code: "wrong_pin", frame: {tries_left: 1}}, {verb: "sign_in"}).text,
            f.describeError({code: "forbidden", frame: {tries_left: 0, locked_seconds: 42}}, {verb: "sign_in"}).text,
            f.describeError({code: "supervisor_required", frame: {tries_left: 0, locked_seconds: 120}},
                            {verb: "discount"}).text,
        ];
        i18n.setLanguage("fr");
        const fr = say();
        i18n.setLanguage("en");
        return {fr, en: say()};
    }""")
    assert got["fr"] == [
        "Vendeur inconnu ou code PIN incorrect. Encore 3 essais avant le blocage des codes.",
        "Vendeur inconnu ou code PIN incorrect. Encore 1 essai avant le blocage des codes.",
        "Trop de codes PIN faux : codes bloqués pendant 42 s. Réessayez ensuite.",
        "Trop de codes PIN faux : codes bloqués pendant 2 min. Réessayez ensuite.",
    ], got
    assert got["en"] == [
        "Unknown seller or wrong PIN. 3 tries left before PINs are locked.",
        "Unknown seller or wrong PIN. 1 try left before PINs are locked.",
        "Too many wrong PINs: PINs are locked for 42 s. Try again after that.",
        "Too many wrong PINs: PINs are locked for 2 min. Try again after that.",
    ], got
