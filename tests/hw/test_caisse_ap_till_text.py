"""What the till page says, in French and in English, for a card payment whose
terminal answer was lost (``payment_declined`` with ``outcome: "unknown"``, from the
Caisse-AP driver): the page's own modules (format.js, i18n.js) run by Node, no browser."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


TILL = Path(__file__).resolve().parents[2] / "laneserver" / "clients" / "web_till"

SCRIPT = """
const f = await import(%(format)s);
const i18n = await import(%(i18n)s);
const say = (outcome) => f.describeError({code: "payment_declined", frame: {outcome}}, {verb: "pay"}).text;
const out = {fr: [say("unknown"), say("declined"), say("cancelled")]};
i18n.setLanguage("en");
out.en = [say("unknown"), say("declined"), say("cancelled")];
console.log(JSON.stringify(out));
"""


def test_a_lost_terminal_answer_is_explained_in_both_languages():
    script = SCRIPT % {"format": json.dumps((TILL / "format.js").as_uri()),
                       "i18n": json.dumps((TILL / "i18n.js").as_uri())}
    done = subprocess.run(["node", "--experimental-default-type=module", "--input-type=module", "-e", script],
                          capture_output=True, text=True, timeout=60, check=True)
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert said["fr"][0].startswith("Le terminal n'a pas dit comment le paiement par carte s'est terminé")
    assert "jamais débitée deux fois" in said["fr"][0]
    assert said["en"][0].startswith("The terminal has not said how the card payment ended")
    assert "never charged twice" in said["en"][0]
    # The terminal's refusals read as the simulator's do.
    assert said["fr"][1].startswith("Carte refusée") and said["en"][1].startswith("Card declined")
    assert said["fr"][2].startswith("Paiement annulé") and said["en"][2].startswith("Payment cancelled")
