"""What the till page says, in French and in English, when the terminal does not
approve the refund of a card payment the cashier removes (``remove_payment`` answered
``payment_declined`` with ``payment``): the payment stays on the ticket — not "nothing
was paid", a card payment's wording. The page's own modules (format.js, i18n.js) run
by Node, no browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

TILL = Path(__file__).resolve().parents[2] / "laneserver" / "clients" / "web_till"

SCRIPT = """
const f = await import(%(format)s);
const i18n = await import(%(i18n)s);
const say = (verb) => f.describeError({code: "payment_declined", frame: {outcome: "declined", payment: 1}},
                                      {verb}).text;
const out = {fr: [say("remove_payment"), say("pay")]};
i18n.setLanguage("en");
out.en = [say("remove_payment"), say("pay")];
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the page's modules without a browser")
def test_a_refund_the_terminal_refused_says_the_payment_stays():
    script = SCRIPT % {"format": json.dumps((TILL / "format.js").as_uri()),
                       "i18n": json.dumps((TILL / "i18n.js").as_uri())}
    done = subprocess.run(["node", "--experimental-default-type=module", "--input-type=module", "-e", script],
                          capture_output=True, text=True, timeout=60, check=True)
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert "reste sur le ticket" in said["fr"][0] and "stays on the ticket" in said["en"][0], said
    assert "rien n'a été payé" not in said["fr"][0] and "nothing was paid" not in said["en"][0], said
    # A card payment declined reads as before.
    assert said["fr"][1].startswith("Carte refusée") and said["en"][1].startswith("Card declined")
