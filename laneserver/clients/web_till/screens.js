// The screens the till shares with the PDA: pairing and seller sign-in. Each
// `bind…` wires one screen's controls to the app (till.js, pda.js) and returns what
// the app needs to drive it. Requests go through `app.act(verb, fields, options)`,
// which shows errors itself. (The till's selling screen is sell.js and pay.js.)

import { byTestId } from "./dom.js";
import { pairWithCode } from "./pairing.js";

/**
 * The pairing screen: the one-time code store IT read out (6 digits, `pair`), or the
 * device token itself typed in (or pasted). A page opened with no token starts here,
 * the focus in the code.
 */
export function bindPairScreen(app) {
    const form = byTestId("pair-form");
    const input = byTestId("token-input");
    const codeForm = byTestId("pair-code-form");
    const code = byTestId("pair-code-input");
    const codeButton = byTestId("pair-code-button");
    form.addEventListener("submit", (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        input.value = "";
        app.pair(token);
    });
    codeForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const digits = code.value.replace(/\s+/g, "");
        if (!digits) return;
        codeButton.disabled = true;
        app.clearMessage();
        try {
            const reply = await pairWithCode(digits, app.deviceKind);
            code.value = "";
            app.pair(reply.token);
        } catch (error) {
            app.showError(error, { verb: "pair" });
            code.select();
            code.focus();
        } finally {
            codeButton.disabled = false;
        }
    });
    return {
        focus() { code.focus(); },
    };
}

/** Seller name + PIN (typed, or with the on-screen PIN pad). */
export function bindSignInScreen(app) {
    const form = byTestId("sign-in-form");
    const seller = byTestId("seller-input");
    const pin = byTestId("pin-input");
    const button = byTestId("sign-in-button");

    byTestId("pin-pad").addEventListener("click", (event) => {
        const key = event.target.closest("button");
        if (!key) return;
        if (key.dataset.digit !== undefined) pin.value += key.dataset.digit;
        else if (key.dataset.pin === "clear") pin.value = "";
    });

    form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const name = seller.value.trim();
        const code = pin.value;
        pin.value = "";
        if (!name || !code) return;
        button.disabled = true;
        try {
            const reply = await app.act("sign_in", { seller: name, pin: code });
            if (reply) {
                seller.value = ""; // "Changer de vendeur" starts from a blank form
                app.signedIn(reply.seller, reply.role, reply.resume || null);
            }
        } finally {
            button.disabled = false;
        }
    });
    return {
        focus() {
            if (seller.value.trim()) pin.focus();
            else seller.focus();
        },
        /** Fill the seller's name (a tap on a recent seller) and wait for the PIN. */
        chooseSeller(name) {
            seller.value = name;
            pin.value = "";
            pin.focus();
        },
    };
}
