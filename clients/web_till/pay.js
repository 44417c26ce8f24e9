// The payment panel (the right half of the selling screen in payment mode): balance
// and change in big type, the amount tendered (keyboard or on-screen keypad), quick
// amounts for cash, one button per payment mode the server takes (learned from the
// hello reply: a mode added on the server appears here with no change to the page),
// the payment lines with their remove buttons, and the finish buttons (with or
// without a receipt).

import { byTestId, h, setText, show } from "./dom.js";
import { paymentLabel, parseAmount } from "./format.js";
import { t } from "./i18n.js";
import { EMPTY_TICKET, renderPayments } from "./render.js";

const NOTES_CENTS = [500, 1000, 2000, 5000, 10000, 20000];

/** Quick cash amounts for a balance: the exact amount, then the next round notes. */
export function quickAmounts(balance, count = 4) {
    const cents = Math.round(Number(balance) * 100);
    if (!(cents > 0)) return [];
    const out = [cents];
    for (const note of NOTES_CENTS) {
        const up = Math.ceil(cents / note) * note;
        if (up > cents && !out.includes(up)) out.push(up);
        if (out.length > count) break;
    }
    return out.map((c) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, "0")}`);
}

export function bindPayPanel(app) {
    const screen = byTestId("sell-screen");
    const keysPanel = byTestId("keys-panel");
    const panel = byTestId("pay-panel");
    const form = byTestId("pay-form");
    const amount = byTestId("cash-amount");
    const quick = byTestId("quick-amounts");
    const modes = byTestId("pay-modes");
    const payments = byTestId("payments");
    const balance = byTestId("pay-balance");
    const change = byTestId("pay-change");
    const changeBox = byTestId("pay-change-box");
    const finish = byTestId("finish");
    const finishNone = byTestId("finish-no-receipt");
    let open = false;
    let modeList = ["cash", "card"];
    let drawnQuick = "";

    function setOpen(on) {
        open = on;
        screen.dataset.mode = on ? "pay" : "sell";
        show(panel, on);
        show(keysPanel, !on);
        if (on) {
            amount.value = "";
            draw();
            amount.focus({ preventScroll: true });
        } else {
            app.refocus();
        }
    }

    // --- paying -----------------------------------------------------------------------

    let paying = false;

    async function pay(mode, value) {
        if (paying) return; // a double tap or a double Enter pays once
        let typed = value;
        if (typed === undefined) {
            const text = amount.value.trim();
            if (text) {
                typed = parseAmount(text);
                if (typed === null) {
                    app.showMessage(t("msg.bad_amount"), text);
                    return;
                }
            }
        }
        paying = true;
        let reply;
        try {
            reply = await busy([...modes.querySelectorAll("button"), ...quick.querySelectorAll("button")],
                app.act("pay", { mode, amount: typed ?? undefined }, { mutating: true }));
        } finally {
            paying = false;
        }
        if (reply) amount.value = "";
        draw();
        amount.focus({ preventScroll: true });
    }

    form.addEventListener("submit", (event) => {
        event.preventDefault();
        const typed = amount.value.trim();
        if (/^\d{8,}$/.test(typed)) {
            // A barcode scanned while the amount field had the focus: it is a scan.
            amount.value = "";
            app.sell.submitCode(typed);
            return;
        }
        const ticket = app.ticket || EMPTY_TICKET;
        if (!typed && ticket.lines.length && Number(ticket.balance) === 0) {
            done("ticket"); // Enter on a paid ticket: finish it
            return;
        }
        pay("cash");
    });

    quick.addEventListener("click", (event) => {
        const button = event.target instanceof Element ? event.target.closest("[data-amount]") : null;
        if (button) pay("cash", button.dataset.amount);
    });

    modes.addEventListener("click", (event) => {
        const button = event.target instanceof Element ? event.target.closest("[data-mode]") : null;
        if (button) pay(button.dataset.mode);
    });

    byTestId("pay-keypad").addEventListener("click", (event) => {
        const key = event.target instanceof Element ? event.target.closest("[data-key]") : null;
        if (!key) return;
        const k = key.dataset.key;
        if (k === "back") amount.value = amount.value.slice(0, -1);
        else amount.value += k;
        amount.focus({ preventScroll: true });
    });

    async function removePayment(payment) {
        const reply = await app.act("remove_payment", { payment: payment.payment }, { mutating: true });
        if (reply) app.notice(t("notice.payment_removed"));
    }

    // --- finishing ---------------------------------------------------------------------

    async function done(receipt) {
        if (finish.disabled && finishNone.disabled) return;
        const reply = await busy([finish, finishNone], app.act("finish", { receipt }, { mutating: true }));
        if (reply) {
            setOpen(false);
            app.sell.showLastSale(reply);
        }
        draw();
    }

    finish.addEventListener("click", () => done("ticket"));
    finishNone.addEventListener("click", () => done("none"));
    byTestId("pay-back").addEventListener("click", () => setOpen(false));

    // --- drawing -----------------------------------------------------------------------

    function drawModes() {
        modes.replaceChildren(
            ...modeList.map((mode) =>
                h("button", { type: "button", class: `mode mode-${mode}`, testid: `pay-${mode}`, dataset: { mode } },
                    paymentLabel(mode))),
        );
    }

    function draw() {
        const ticket = app.ticket || EMPTY_TICKET;
        setText(balance, app.money.format(ticket.balance));
        setText(change, app.money.format(ticket.change));
        const due = Number(ticket.change) > 0;
        changeBox.classList.toggle("due", due);
        const paidUp = ticket.lines.length > 0 && Number(ticket.balance) === 0;
        panel.classList.toggle("paid-up", paidUp);
        finish.disabled = !paidUp;
        finishNone.disabled = !paidUp;
        for (const button of modes.querySelectorAll("button")) button.disabled = paidUp;
        const amounts = paidUp ? [] : quickAmounts(ticket.balance);
        const key = `${amounts.join(",")}|${app.money.locale}`;
        if (key !== drawnQuick) {
            drawnQuick = key;
            quick.replaceChildren(
                ...amounts.map((value, i) =>
                    h("button", { type: "button", class: i === 0 ? "exact" : null, testid: "quick-amount", dataset: { amount: value } },
                        i === 0 ? h("span", { class: "what" }, t("pay.exact")) : null,
                        app.money.format(value))),
            );
        }
        renderPayments(payments, ticket.payments, app.money, removePayment);
    }

    return {
        get isOpen() { return open; },
        get amountInput() { return amount; },
        get form() { return form; },
        open() { setOpen(true); },
        close() { if (open) setOpen(false); },
        setModes(list) {
            modeList = Array.isArray(list) && list.length ? list : ["cash", "card"];
            drawModes();
        },
        render(ticket) {
            if (open && (!ticket || !ticket.lines.length)) {
                setOpen(false);
                return;
            }
            if (open) draw();
        },
        redraw() {
            drawnQuick = "";
            drawModes();
            if (open) draw();
        },
    };
}

/** Disable buttons while a request is in flight (no double payment on a double tap). */
async function busy(buttons, promise) {
    for (const button of buttons) button.disabled = true;
    try {
        return await promise;
    } finally {
        for (const button of buttons) button.disabled = false;
    }
}
