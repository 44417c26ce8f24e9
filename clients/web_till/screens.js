// The till's screens: pairing, seller sign-in, selling. Each `bind…` wires one
// screen's controls to the app (till.js) and returns what the app needs to drive it.
// Requests go through `app.act(verb, fields, options)`, which shows errors itself.

import { byTestId, captureWedge, keepFocus, setText, show } from "./dom.js";
import { parseAmount, parseScan, wireQty, formatQty } from "./format.js";
import { renderCandidates, renderHeld, renderTicket } from "./render.js";

/** The pairing form: a device token typed in (or pasted). */
export function bindPairScreen(app) {
    const form = byTestId("pair-form");
    const input = byTestId("token-input");
    form.addEventListener("submit", (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        input.value = "";
        app.pair(token);
    });
    return {
        focus() { input.focus(); },
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
                app.signedIn(reply.seller, reply.role);
            }
        } finally {
            button.disabled = false;
        }
    });
    return {
        focus() { seller.focus(); },
    };
}

/** The selling screen: code entry, the ticket, payments, hold / recall. */
export function bindSellScreen(app) {
    const ui = {
        lines: byTestId("ticket-lines"),
        empty: byTestId("ticket-empty"),
        total: byTestId("total"),
        paid: byTestId("paid"),
        balance: byTestId("balance"),
        change: byTestId("change"),
        payments: byTestId("payments"),
        paymentsBox: byTestId("payments-box"),
    };
    const scanForm = byTestId("scan-form");
    const code = byTestId("code-input");
    const candidates = byTestId("candidates");
    const lastSale = byTestId("last-sale");
    const heldList = byTestId("held-list");
    const payForm = byTestId("pay-form");
    const cash = byTestId("cash-amount");
    const noReceipt = byTestId("no-receipt");
    const finish = byTestId("finish");
    const active = () => app.screen === "sell";

    captureWedge({ input: code, form: scanForm, active });
    const refocus = keepFocus(code, active);

    const ticketActions = {
        removeLine: (line) => app.act("remove_line", { line: line.line }, { mutating: true }),
        setQty: (line) => {
            const typed = prompt(`Nouvelle quantité pour « ${line.name} »`, formatQty(line.qty));
            if (typed === null) return;
            const qty = wireQty(typed);
            if (qty === null) {
                app.showMessage("Quantité invalide.", typed);
                return;
            }
            app.act("set_qty", { line: line.line, qty }, { mutating: true });
        },
        removePayment: (payment) => app.act("remove_payment", { payment: payment.payment }, { mutating: true }),
    };

    // --- adding lines -------------------------------------------------------------

    scanForm.addEventListener("submit", (event) => {
        event.preventDefault();
        const scanned = parseScan(code.value);
        if (scanned === null) return;
        if (scanned.qtyOnly !== undefined) {
            app.showMessage("Scannez ou saisissez l'article après la quantité.", "");
            return; // keep "3*": the scan that follows completes it
        }
        code.value = ""; // ready for the next scan at once
        if (scanned.badQty !== undefined) {
            app.showMessage("Quantité invalide.", scanned.badQty);
            return;
        }
        addByCode(scanned.code, scanned.qty);
    });

    async function addByCode(value, qty) {
        show(candidates, false);
        await app.act("scan", { code: value, qty: qty ?? undefined }, {
            mutating: true,
            context: { code: value },
            onError(error) {
                if (error.code === "ambiguous_code" && Array.isArray(error.frame.candidates)) {
                    renderCandidates(candidates, error.frame.candidates, (c) => addArticle(c.article, qty));
                    return true; // the candidates are the message
                }
                return false;
            },
        });
    }

    async function addArticle(article, qty) {
        show(candidates, false);
        await app.act("add", { article, qty: qty ?? undefined }, { mutating: true });
        refocus();
    }

    // --- the ticket as a whole ------------------------------------------------------

    byTestId("cancel-ticket").addEventListener("click", () => {
        const t = app.ticket;
        if (t && !t.lines.length && !t.payments.length) return;
        if (!confirm("Annuler le ticket en cours ? Toutes ses lignes seront supprimées.")) return;
        app.act("cancel_ticket", {}, { mutating: true });
    });

    byTestId("hold").addEventListener("click", async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try {
            const reply = await app.act("hold", {}, { mutating: true });
            if (reply) {
                app.notice("Ticket mis en attente.");
                await refreshHeld();
            }
        } finally {
            button.disabled = false;
        }
    });

    async function refreshHeld() {
        const reply = await app.act("held", {}, { quiet: true });
        if (reply) renderHeld(heldList, reply.tickets || [], app.money, recall);
    }

    async function recall(held) {
        const reply = await app.act("recall", { held: held.held }, { mutating: true });
        if (reply) app.notice("Ticket repris.");
        await refreshHeld();
    }

    byTestId("held-refresh").addEventListener("click", (event) => {
        event.preventDefault(); // inside <summary>: do not fold the panel
        refreshHeld();
    });

    // --- payment and validation -----------------------------------------------------

    payForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const typed = cash.value.trim();
        if (/^\d{8,}$/.test(typed)) {
            // A barcode scanned while the amount field had the focus: it is a scan.
            cash.value = "";
            refocus();
            addByCode(typed, null);
            return;
        }
        let amount;
        if (typed) {
            amount = parseAmount(typed);
            if (amount === null) {
                app.showMessage("Montant invalide.", typed);
                return;
            }
        }
        const reply = await busy(byTestId("pay-cash"), app.act("pay", { mode: "cash", amount }, { mutating: true }));
        if (reply) cash.value = "";
        refocus();
    });

    byTestId("pay-card").addEventListener("click", async (event) => {
        await busy(event.currentTarget, app.act("pay", { mode: "card" }, { mutating: true }));
    });

    finish.addEventListener("click", async () => {
        const receipt = noReceipt.checked ? "none" : "ticket";
        const reply = await busy(finish, app.act("finish", { receipt }, { mutating: true }));
        if (reply) {
            noReceipt.checked = false;
            showLastSale(reply);
        }
    });

    function showLastSale(reply) {
        setText(lastSale, `Ticket n° ${reply.number} — rendu ${app.money.format(reply.change)}`);
        lastSale.dataset.number = reply.number;
        show(lastSale, true);
    }

    return {
        renderTicket(ticket) {
            renderTicket(ui, ticket, app.money, ticketActions);
            if (ticket && ticket.lines.length) show(lastSale, false);
        },
        showLastSale,
        refreshHeld,
        focus: refocus,
        reset() {
            show(candidates, false);
            code.value = "";
        },
    };
}

/** Disable a button while its request is in flight (no double sale on a double tap). */
async function busy(button, promise) {
    button.disabled = true;
    try {
        return await promise;
    } finally {
        button.disabled = false;
    }
}
