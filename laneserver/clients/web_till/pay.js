// The payment panel (the right half of the selling screen in payment mode): balance
// and change in big type, the amount tendered (keyboard or on-screen keypad), quick
// amounts for cash, one button per payment mode the server takes (learned from the
// hello reply: a mode added on the server appears here with no change to the page),
// the payment lines with their remove buttons, and the finish buttons (with or
// without a receipt).
//
// Modes that need more than an amount open a small form under the keypad:
//   cheque        the cheque's number (optional) and the number of instalments
//   meal_voucher  the voucher's number (required); a voucher worth more than vouchers
//                 can pay asks whether to forfeit the excess (the server's `payable`)
//   voucher       the voucher's code, scanned or typed (also straight into the amount
//                 field: a "V…" code there pays by voucher)
//   credit/wallet the ticket's customer and what they have; short of money, a top-up
//                 of what is missing is offered (the server's `short`)
// A card on a lane with a terminal shows "follow the terminal" while it waits; a
// refusal says how (declined, cancelled, timeout). A pay reply that carries a sale
// number (the shop's auto_finish) ends the sale like finish.
//
// Returns: a negative balance is what the shop owes ("to refund"). Each mode then
// refunds (a negative amount: the amount typed, or all that is owed), after the
// supervisor's PIN, asked first; a refund by voucher issues a voucher whose code the
// finish reply carries. With the shop's `deferred_payment` and a customer on the
// ticket, "Leave unpaid" finishes the sale with its balance due (`finish` unpaid).

import { byTestId, h, setText, show } from "./dom.js";
import { paymentLabel, parseAmount } from "./format.js";
import { t } from "./i18n.js";
import { EMPTY_TICKET, renderPayments } from "./render.js";

const NOTES_CENTS = [500, 1000, 2000, 5000, 10000, 20000];
const WITH_FORM = new Set(["cheque", "meal_voucher", "voucher", "credit", "wallet"]);
const VOUCHER_CODE = /^V\d{12}$/i;
const TERMINAL_AFTER_MS = 150;

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
    const modeForm = byTestId("mode-form");
    const terminal = byTestId("terminal-status");
    const payments = byTestId("payments");
    const balance = byTestId("pay-balance");
    const change = byTestId("pay-change");
    const changeBox = byTestId("pay-change-box");
    const finish = byTestId("finish");
    const finishNone = byTestId("finish-no-receipt");
    const finishUnpaid = byTestId("finish-unpaid");
    const finishInvoice = byTestId("finish-invoice");
    const balanceLabel = byTestId("pay-balance-label");
    const note = byTestId("pay-note");
    let open = false;
    let modeList = ["cash", "card"];
    let drawnQuick = "";
    let formMode = null;       // the mode whose form is open
    let formFields = {};       // its inputs

    function refunding() {
        return Number((app.ticket || EMPTY_TICKET).balance) < 0;
    }

    function setOpen(on) {
        open = on;
        screen.dataset.mode = on ? "pay" : "sell";
        show(panel, on);
        show(keysPanel, !on);
        closeForm();
        show(terminal, false);
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

    /** The amount typed in `input` (empty: undefined, the server's default), or null after saying it is bad. */
    function typedAmount(input) {
        const text = input.value.trim();
        if (!text) return undefined;
        const value = parseAmount(text);
        if (value === null) app.showMessage(t("msg.bad_amount"), text);
        return value;
    }

    /**
     * Send one payment. `fields`: amount (undefined = the server's default: the
     * balance, rounded for cash), reference, instalments, excess. Returns the reply
     * or null (the error was shown or handled).
     */
    async function pay(mode, fields = {}) {
        if (paying) return null; // a double tap or a double Enter pays once
        const refund = refunding();
        if (refund && mode === "meal_voucher") {
            app.showMessage(t("pay.refund_no_meal"), "", "bad_request");
            return null;
        }
        paying = true;
        let reply = null;
        let waitTimer = null;
        const buttons = [...modes.querySelectorAll("button"), ...quick.querySelectorAll("button"), ...modeForm.querySelectorAll("button")];
        if (mode === "card") {
            show(terminal, false);
            waitTimer = setTimeout(() => {
                setText(terminal, t("pay.terminal_wait", { amount: app.money.format(fields.amount ?? app.ticket?.balance) }));
                terminal.dataset.state = "waiting";
                show(terminal, true);
            }, TERMINAL_AFTER_MS);
        }
        try {
            const opts = {
                mutating: true,
                context: { mode, amount: fields.amount },
                onError: (error) => onPayError(mode, fields, error),
            };
            if (refund) {
                // A refund always needs a supervisor: the PIN is asked before sending.
                const owed = fields.amount !== undefined ? String(fields.amount).replace(/^-/, "") : Math.abs(Number(app.ticket.balance)).toFixed(2);
                const why = t("sup.why_refund", { amount: app.money.format(owed), mode: paymentLabel(mode) });
                reply = await busy(buttons, app.approved("pay", { mode, ...fields }, opts, { askFirst: true, why }));
            } else {
                // With the shop's auto_finish, a business customer's sale ends on an invoice.
                const shop = (app.hello && app.hello.shop) || {};
                const extra = shop.auto_finish && app.ticket && app.ticket.excl_vat ? { receipt: "invoice" } : {};
                reply = await busy(buttons, app.act("pay", { mode, ...fields, ...extra }, opts));
            }
        } finally {
            paying = false;
            clearTimeout(waitTimer);
            if (mode === "card") show(terminal, false);
        }
        if (reply && reply.number !== undefined) {
            finished(reply); // auto_finish: this payment ended the sale
            return reply;
        }
        if (reply) {
            amount.value = "";
            closeForm();
        }
        draw();
        if (!formMode) amount.focus({ preventScroll: true });
        return reply;
    }

    /** Errors with something to offer: the meal voucher's excess, a top-up. */
    function onPayError(mode, fields, error) {
        const frame = error.frame || {};
        if (mode === "meal_voucher" && error.code === "conflict" && frame.payable !== undefined
            && Number(frame.payable) > 0 && fields.amount !== undefined && !fields.excess) {
            askExcess(fields, frame.payable);
            return true;
        }
        if ((mode === "wallet" || mode === "credit") && error.code === "insufficient_funds" && frame.short !== undefined) {
            offerTopup(mode, fields, frame);
            return true;
        }
        return false;
    }

    async function askExcess(fields, payable) {
        const lost = (Math.round(Number(fields.amount) * 100) - Math.round(Number(payable) * 100)) / 100;
        const yes = await app.confirm(
            t("pay.excess_question", {
                face: app.money.format(fields.amount), payable: app.money.format(payable), lost: app.money.format(lost),
            }),
            t("pay.excess_forfeit", { lost: app.money.format(lost) }),
            t("pay.excess_refuse"));
        if (yes) await pay("meal_voucher", { ...fields, excess: "forfeit" });
        else app.showMessage(t("pay.excess_refused", { payable: app.money.format(payable) }), "", "conflict");
    }

    async function offerTopup(mode, fields, frame) {
        const customer = app.ticket && app.ticket.customer;
        const words = {
            short: app.money.format(frame.short), available: app.money.format(frame.available ?? "0"),
            account: paymentLabel(mode),
        };
        app.showMessage(t("err.insufficient_funds_x", words), "", "insufficient_funds");
        if (!customer) return;
        const yes = await app.confirm(t("pay.topup_question", words), t("pay.topup_yes", words), t("pay.topup_no"));
        if (!yes) return;
        app.clearMessage();
        const done = await app.customers.topUp(customer, mode, frame.short);
        if (done) await pay(mode, fields); // the same payment, now that the money is there
    }

    function finished(reply) {
        setOpen(false);
        app.sell.showLastSale(reply);
        app.customers.saleFinished();
    }

    amount.addEventListener("input", () => draw());

    form.addEventListener("submit", (event) => {
        event.preventDefault();
        const typed = amount.value.trim();
        if (/^\d{8,}$/.test(typed)) {
            // A barcode scanned while the amount field had the focus: it is a scan.
            amount.value = "";
            app.sell.submitCode(typed);
            return;
        }
        if (VOUCHER_CODE.test(typed)) {
            // A purchase voucher scanned: it pays what it is worth.
            amount.value = "";
            pay("voucher", { reference: typed.toUpperCase() });
            return;
        }
        const ticket = app.ticket || EMPTY_TICKET;
        if (!typed && ticket.lines.length && Number(ticket.balance) === 0) {
            done("ticket"); // Enter on a paid ticket: finish it
            return;
        }
        const value = typedAmount(amount);
        if (value !== null) pay("cash", { amount: refunding() ? negative(value) : value });
    });

    quick.addEventListener("click", (event) => {
        const button = event.target instanceof Element ? event.target.closest("[data-amount]") : null;
        if (!button) return;
        // The exact amount is the server's default: the balance, rounded as the shop rounds cash.
        pay("cash", { amount: button.classList.contains("exact") ? undefined : button.dataset.amount });
    });

    modes.addEventListener("click", (event) => {
        const button = event.target instanceof Element ? event.target.closest("[data-mode]") : null;
        if (!button) return;
        const mode = button.dataset.mode;
        if (refunding()) {
            // A refund needs no form: the amount typed (or all that is owed), in this mode;
            // by voucher with no code, a new voucher is issued at finish.
            const value = typedAmount(amount);
            if (value !== null) pay(mode, { amount: negative(value) });
            return;
        }
        if (WITH_FORM.has(mode)) {
            openForm(mode);
            return;
        }
        const value = typedAmount(amount);
        if (value !== null) pay(mode, { amount: value });
    });

    byTestId("pay-keypad").addEventListener("click", (event) => {
        const key = event.target instanceof Element ? event.target.closest("[data-key]") : null;
        if (!key) return;
        // The keypad types into the field that has the focus in the mode form, else the amount.
        const target = formMode && modeForm.contains(document.activeElement) && document.activeElement.tagName === "INPUT"
            ? document.activeElement : amount;
        const k = key.dataset.key;
        if (k === "back") target.value = target.value.slice(0, -1);
        else target.value += k;
        target.focus({ preventScroll: true });
        if (target === amount) draw();
    });

    async function removePayment(payment) {
        const reply = await app.act("remove_payment", { payment: payment.payment }, { mutating: true });
        if (reply) app.notice(t("notice.payment_removed"));
    }

    // --- the mode forms ---------------------------------------------------------------

    function field(name, labelKey, attrs = {}) {
        const input = h("input", { name, testid: `mode-${name}`, autocomplete: "off", spellcheck: "false", ...attrs });
        formFields[name] = input;
        return h("label", { class: `f-${name}` }, h("span", {}, t(labelKey)), input);
    }

    function openForm(mode) {
        formMode = mode;
        formFields = {};
        modeForm.dataset.mode = mode;
        const typed = amount.value.trim();
        const parts = [];
        if (mode === "credit" || mode === "wallet") {
            parts.push(h("p", { class: "who", testid: "mode-customer" }, customerLine(mode)));
        }
        const row = [];
        const amountPlaceholder = mode === "voucher" ? t("pay.voucher_amount_hint")
            : mode === "meal_voucher" ? t("pay.meal_amount_hint") : t("pay.amount_placeholder");
        row.push(field("amount", mode === "meal_voucher" ? "pay.face_value" : "pay.amount_short",
            { inputmode: "decimal", placeholder: amountPlaceholder, value: typed }));
        if (mode === "cheque") {
            row.push(field("reference", "pay.cheque_number", { placeholder: t("pay.optional") }));
            row.push(field("instalments", "pay.instalments", { inputmode: "numeric", value: "1", class: "short" }));
        } else if (mode === "meal_voucher") {
            row.push(field("reference", "pay.meal_number"));
        } else if (mode === "voucher") {
            row.push(field("reference", "pay.voucher_code", { placeholder: t("pay.voucher_scan") }));
        }
        parts.push(h("div", { class: "row" }, ...row));
        const buttons = [];
        if (mode === "cheque") {
            for (const n of [1, 2, 3, 4]) {
                buttons.push(h("button", {
                    type: "button", class: "small chip", testid: `instalments-${n}`,
                    onclick: () => { formFields.instalments.value = String(n); drawChips(); },
                }, t("pay.in_n", { n })));
            }
        }
        if ((mode === "credit" || mode === "wallet") && app.ticket && !app.ticket.customer) {
            buttons.push(h("button", { type: "button", class: "small", testid: "mode-choose-customer", onclick: () => app.customers.open() },
                t("pay.choose_customer")));
        }
        buttons.push(h("span", { class: "spacer" }));
        buttons.push(h("button", { type: "button", class: "small", testid: "mode-cancel", onclick: () => { closeForm(); amount.focus({ preventScroll: true }); } }, t("pay.form_cancel")));
        buttons.push(h("button", { type: "submit", class: "primary", testid: "mode-ok" }, t("pay.form_ok", { mode: paymentLabel(mode) })));
        parts.push(h("div", { class: "buttons" }, ...buttons));
        modeForm.replaceChildren(h("p", { class: "title" }, paymentLabel(mode)), ...parts);
        amount.value = "";
        show(modeForm, true);
        show(quick, false);
        drawChips();
        const first = formFields.reference || formFields.amount;
        first.focus();
        if (mode === "credit" || mode === "wallet") app.customers.refreshTicketCustomer();
    }

    function drawChips() {
        if (!formFields.instalments) return;
        for (const chip of modeForm.querySelectorAll(".chip")) {
            chip.classList.toggle("active", chip.dataset.testid === `instalments-${formFields.instalments.value.trim()}`);
        }
    }

    function customerLine(mode) {
        const ticket = app.ticket || EMPTY_TICKET;
        if (!ticket.customer) return t("pay.no_customer");
        const c = app.customers.known(ticket.customer);
        if (!c) return ticket.customer;
        const available = mode === "wallet" ? c.wallet_available : c.credit_available;
        if (mode === "wallet" && !c.wallet_enabled) return t("pay.customer_wallet_off", { name: c.name });
        return t("pay.customer_available", { name: c.name, available: app.money.format(available) });
    }

    function closeForm() {
        formMode = null;
        formFields = {};
        modeForm.replaceChildren();
        show(modeForm, false);
        show(quick, true);
    }

    modeForm.addEventListener("input", () => drawChips());
    modeForm.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
            event.preventDefault();
            event.stopPropagation();
            closeForm();
            amount.focus({ preventScroll: true });
        }
    });

    modeForm.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!formMode) return;
        const mode = formMode;
        const fields = {};
        const value = typedAmount(formFields.amount);
        if (value === null) return;
        fields.amount = value;
        const reference = formFields.reference ? formFields.reference.value.trim() : "";
        if (mode === "meal_voucher" && !reference) {
            app.showMessage(t("pay.meal_number_needed"), "", "bad_request");
            formFields.reference.focus();
            return;
        }
        if (mode === "voucher" && !reference) {
            app.showMessage(t("pay.voucher_code_needed"), "", "bad_request");
            formFields.reference.focus();
            return;
        }
        if (reference) fields.reference = mode === "voucher" ? reference.toUpperCase() : reference;
        if (mode === "cheque") {
            const n = Number(formFields.instalments.value.trim() || "1");
            if (!Number.isInteger(n) || n < 1 || n > 12) {
                app.showMessage(t("pay.instalments_bad"), formFields.instalments.value, "bad_request");
                return;
            }
            if (n > 1) fields.instalments = n;
        }
        pay(mode, fields);
    });

    // --- finishing ---------------------------------------------------------------------

    async function done(receipt) {
        if (finish.disabled && finishNone.disabled) return;
        const reply = await busy([finish, finishNone, finishInvoice], app.act("finish", { receipt }, { mutating: true }));
        if (reply) finished(reply);
        draw();
    }

    /** Deferred payment: the sale is finished with its balance left due by the ticket's customer. */
    async function doneUnpaid() {
        const ticket = app.ticket || EMPTY_TICKET;
        if (finishUnpaid.hidden || finishUnpaid.disabled || !ticket.customer) return;
        const yes = await app.confirm(t("pay.unpaid_question", {
            due: app.money.format(ticket.balance), name: app.customers.nameOf(ticket.customer),
        }), t("pay.unpaid_yes"), t("confirm.no"));
        if (!yes) return;
        const reply = await busy([finish, finishNone, finishUnpaid],
            app.act("finish", { receipt: "ticket", unpaid: true }, { mutating: true, context: { unpaid: true } }));
        if (reply) finished(reply);
        draw();
    }

    finish.addEventListener("click", () => done("ticket"));
    finishNone.addEventListener("click", () => done("none"));
    finishInvoice.addEventListener("click", () => done("invoice"));
    finishUnpaid.addEventListener("click", () => doneUnpaid());
    byTestId("pay-back").addEventListener("click", () => setOpen(false));

    // --- drawing -----------------------------------------------------------------------

    function drawModes() {
        modes.replaceChildren(
            ...modeList.map((mode) =>
                h("button", { type: "button", class: `mode mode-${mode}`, testid: `pay-${mode}`, dataset: { mode } },
                    paymentLabel(mode))),
        );
        modes.dataset.count = modeList.length;
    }

    function draw() {
        const ticket = app.ticket || EMPTY_TICKET;
        const refund = Number(ticket.balance) < 0;
        panel.classList.toggle("refund", refund);
        setText(balanceLabel, t(refund ? "pay.refund_balance" : "pay.balance"));
        setText(balance, app.money.format(refund ? Math.abs(Number(ticket.balance)).toFixed(2) : ticket.balance));
        // The change as soon as an amount is typed (cash above the balance), before it is paid.
        const typed = !refund && !formMode ? parseAmount(amount.value.trim()) : null;
        const preview = typed !== null && Number(ticket.balance) > 0 && Number(typed) > Number(ticket.balance)
            ? (Math.round(Number(typed) * 100) - Math.round(Number(ticket.balance) * 100)) / 100 : null;
        setText(change, app.money.format(preview !== null ? preview.toFixed(2) : ticket.change));
        const due = preview !== null || Number(ticket.change) > 0;
        changeBox.classList.toggle("due", due);
        changeBox.classList.toggle("preview", preview !== null);
        const paidUp = ticket.lines.length > 0 && Number(ticket.balance) === 0;
        panel.classList.toggle("paid-up", paidUp);
        finish.disabled = !paidUp;
        finishNone.disabled = !paidUp;
        finishInvoice.disabled = !paidUp;
        for (const button of modes.querySelectorAll("button")) {
            button.disabled = paidUp || (refund && button.dataset.mode === "meal_voucher");
        }
        const shop = (app.hello && app.hello.shop) || {};
        show(finishUnpaid, !!shop.deferred_payment && !!ticket.customer && Number(ticket.balance) > 0);
        panel.classList.toggle("with-unpaid", !finishUnpaid.hidden);
        // An invoice is made out to the ticket's customer (a business one is billed excl. VAT).
        show(finishInvoice, !!ticket.customer);
        panel.classList.toggle("with-invoice", !finishInvoice.hidden);
        finishInvoice.classList.toggle("primary", !!ticket.excl_vat);
        finish.classList.toggle("primary", !ticket.excl_vat);
        const words = refund ? t("pay.refund_note") : shop.auto_finish ? t("pay.auto_finish_note") : "";
        setText(note, words);
        show(note, !!words);
        if (paidUp && formMode) closeForm();
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
        if (ticket.rounding !== undefined && Number(ticket.rounding) !== 0) {
            const sign = Number(ticket.rounding) > 0 ? "+" : "−";
            payments.append(h("li", { class: "rounding", testid: "pay-rounding" },
                h("span", { class: "mode" }, t("pay.rounding")),
                h("span", { class: "num" }, sign + app.money.format(Math.abs(Number(ticket.rounding))))));
        }
        if (formMode === "credit" || formMode === "wallet") {
            const who = modeForm.querySelector('[data-testid="mode-customer"]');
            if (who) setText(who, customerLine(formMode));
        }
    }

    return {
        get isOpen() { return open; },
        get amountInput() { return amount; },
        get form() { return form; },
        /** The field a scanner's keys should go to while paying (the open mode form's). */
        get focusField() {
            if (formMode && formFields.reference) return formFields.reference;
            return amount;
        },
        get formOpen() { return formMode !== null; },
        /** The ticket's customer was fetched again: the credit / wallet form says what they have. */
        redrawCustomer() {
            const who = modeForm.querySelector('[data-testid="mode-customer"]');
            if (who && (formMode === "credit" || formMode === "wallet")) setText(who, customerLine(formMode));
        },
        open() { setOpen(true); },
        close() { if (open) setOpen(false); },
        closeForm() { if (formMode) { closeForm(); amount.focus({ preventScroll: true }); } },
        setModes(list) {
            modeList = Array.isArray(list) && list.length ? list : ["cash", "card"];
            drawModes();
        },
        get modes() { return modeList; },
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
            if (formMode) openForm(formMode);
            if (open) draw();
        },
    };
}

/** "10.00" → "-10.00"; undefined (all that is owed) stays undefined. */
function negative(value) {
    return value === undefined ? undefined : `-${value}`;
}

/** Disable buttons while a request is in flight (no double payment on a double tap). */
async function busy(buttons, promise) {
    for (const button of buttons) button.disabled = true;
    try {
        return await promise;
    } finally {
        for (const button of buttons) if (button.isConnected) button.disabled = false;
    }
}
