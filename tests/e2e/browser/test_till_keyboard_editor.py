"""The till's keyboard edited by a manager on the till (issue 17, "custom keyboards"):
a page of an article key, a function key and a payment key, moved and saved from the
manager's screen; the sell screen shows it at once and its keys work. The price check
shows the article's shelf location."""

from __future__ import annotations

from tests.e2e.browser.conftest import expect, plain_articles


def test_a_manager_edits_and_saves_the_keyboard(live_server, tills):
    article = plain_articles()[0]
    till = tills(live_server).start()  # marie, the demo shop's seller, is a manager
    till.by("manager-open").click()
    expect(till.by("kb-page").first).to_be_visible()  # the demo's pages, one per department

    till.by("kb-label").fill("Caisse")
    till.by("kb-page-add").click()
    expect(till.by("kb-keys")).to_have_text("Aucune touche sur cette page.")
    for kind, value, label in (("function", "hold", "Attente"), ("mode", "card", "CB"),
                               ("article", article["id"], "")):
        till.by("kb-kind").select_option(kind)
        till.by("kb-value").fill(value)
        till.by("kb-label").fill(label)
        till.by("kb-add").click()
    expect(till.by("kb-key-label")).to_have_text(["Attente", "CB", article["id"]])
    till.by("kb-up").nth(2).click()  # the article before the payment key
    till.by("kb-remove").nth(2).click()  # and no card key after all
    expect(till.by("kb-key-label")).to_have_text(["Attente", article["id"]])
    till.by("kb-save").click()
    expect(till.by("manager-result")).to_contain_text("Clavier enregistré")
    till.by("manager-close").click()

    till.page.locator('[data-testid="key-page"]', has_text="Caisse").click()
    expect(till.by("function-key")).to_have_text(["Attente"])
    expect(till.by("product-key")).to_have_count(1)
    till.by("product-key").click()
    expect(till.lines()).to_have_count(1)
    till.by("function-key").click()  # hold
    expect(till.lines()).to_have_count(0)
    expect(till.by("held-count")).to_have_text("1")

    # The shelf location on the price check (catalog `location`).
    till.by("price-check").click()
    till.scan(article["barcode"])
    expect(till.by("info-location")).to_have_text(f"Emplacement : {article['location']}")
