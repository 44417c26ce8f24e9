"""What the till page says, in French and in English, about card money the terminal
took (the page's own modules, format.js and i18n.js, run by Node, no browser):

- the terminal does not approve the refund of a card payment the cashier removes
  (``remove_payment`` answered ``payment_declined`` with ``payment``): the payment
  stays on the ticket — not "nothing was paid", a card payment's wording;
- a card payment charged, then its sale refused by a later step (``pay`` answered, say,
  ``insufficient_funds`` with ``payment``): the payment is on the ticket, the sale not
  finished, and why;
- a refund whose end the terminal has not said (``outcome: "unknown"``): the payment
  stays and the sale cannot be finished — not "try again, or finish the sale"."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


TILL = Path(__file__).resolve().parents[2] / "laneserver" / "clients" / "web_till"

SCRIPT = """
const f = await import(%(format)s);
const i18n = await import(%(i18n)s);
const say = (verb) => f.describeError({code: "payment_declined", frame: {outcome: "declined", payment: 1}},
                                      {verb}).text;
const kept = () => f.describeError({code: "insufficient_funds",
                                    frame: {payment: 2, recorded: true, available: "0.00", short: "30.00"}},
                                   {verb: "pay", mode: "card"}).text;
// A card pay refused before any charge, naming a payment already on the ticket (one given
// back whose removal was not saved): nothing was taken by this pay.
const blocked = () => f.describeError({code: "conflict", frame: {payment: 1}}, {verb: "pay", mode: "card"}).text;
const unsure = () => f.describeError({code: "payment_declined", frame: {outcome: "unknown", payment: 1}},
                                     {verb: "remove_payment"}).text;
const out = {fr: [say("remove_payment"), say("pay"), kept(), unsure(), blocked()]};
i18n.setLanguage("en");
out.en = [say("remove_payment"), say("pay"), kept(), unsure(), blocked()];
console.log(JSON.stringify(out));
"""


def _said() -> dict[str, list[str]]:
    script = SCRIPT % {"format": json.dumps((TILL / "format.js").as_uri()),
                       "i18n": json.dumps((TILL / "i18n.js").as_uri())}
    done = subprocess.run(["node", "--experimental-default-type=module", "--input-type=module", "-e", script],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_refund_the_terminal_refused_says_the_payment_stays():
    said = _said()
    assert "reste sur le ticket" in said["fr"][0] and "stays on the ticket" in said["en"][0], said
    assert "rien n'a été payé" not in said["fr"][0] and "nothing was paid" not in said["en"][0], said
    # A card payment declined reads as before.
    assert said["fr"][1].startswith("Carte refusée") and said["en"][1].startswith("Card declined")


def test_a_card_payment_kept_unfinished_says_it_is_on_the_ticket_and_why():
    said = _said()
    assert said["fr"][2].startswith("Paiement par carte n° 2 encaissé et enregistré sur le ticket"), said
    assert said["en"][2].startswith("Card payment 2 was taken and is on the ticket"), said
    assert "il manque 30.00" in said["fr"][2] and "30.00 missing" in said["en"][2], said


def test_a_refund_the_terminal_has_not_said_the_end_of_says_the_sale_cannot_be_finished():
    said = _said()
    assert "ne peut pas être validée" in said["fr"][3] and "cannot be finished" in said["en"][3], said
    assert "validez la vente" not in said["fr"][3] and "finish the sale" not in said["en"][3], said


def test_a_card_pay_refused_before_any_charge_does_not_say_a_payment_was_taken():
    said = _said()
    assert "encaissé" not in said["fr"][4] and "was taken" not in said["en"][4], said
