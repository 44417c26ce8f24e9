// After the sale: finished sales looked up by number, and the sales left unpaid.
//
//   Vente    `sale`: the sale, its payment rows with their status (PAI, MAJ, ANL…;
//            ANNUL once superseded); a standing payment corrected (`payment_correct`:
//            mode and/or amount), the sale cancelled (`sale_cancel`: a counter-entry,
//            what goes back to the customer). Both take a reason and a supervisor's PIN,
//            always asked before sending. A sale with wallet top-up lines: its top-up
//            given back in a mode that paid it (`wallet_topup_cancel` with `sale`).
//   Impayés  `unpaid` (all, or one customer's): each sale that still owes something,
//            paid later (`pay_later`, all or a part, in a mode that brings money in) or
//            its debt abandoned (`debt_abandon`: reason + supervisor's PIN).

import { byTestId, h, setText, show } from "./dom.js";
import { MODES_NOT_MONEY_IN, age, formatQty, paymentLabel } from "./format.js";
import { t } from "./i18n.js";
import { Overlay } from "./panels.js";

const STANDING = new Set(["PAI", "MAJ", "AVO"]);  // rows payment_correct takes (AVO: a refund)

export function bindSalesPanel(app) {
    const overlay = new Overlay("sales-panel", { onClose: () => app.refocus() });
    const ui = {
        tabs: byTestId("sales-tabs"),
        saleTab: byTestId("sales-sale-tab"),
        unpaidTab: byTestId("sales-unpaid-tab"),
        searchForm: byTestId("sale-search-form"),
        number: byTestId("sale-number-input"),
        detail: byTestId("sale-detail"),
        head: byTestId("sale-head"),
        status: byTestId("sale-status"),
        sums: byTestId("sale-sums"),
        payments: byTestId("sale-payments"),
        cancelOpen: byTestId("sale-cancel-open"),
        topup: byTestId("sale-topup"),
        action: byTestId("sale-action-form"),
        result: byTestId("sale-result"),
        filter: byTestId("unpaid-filter"),
        list: byTestId("unpaid-list"),
        total: byTestId("unpaid-total"),
        unpaidAction: byTestId("unpaid-action-form"),
    };
    let tab = "sale";
    let sale = null;            // the sale shown
    let action = null;          // {kind: "correct"|"cancel", payment?}
    let result = null;          // the last cancel reply
    let debts = null;           // the last unpaid reply
    let customer = null;        // the unpaid list's customer (null: all)
    let debtAction = null;      // {kind: "pay"|"abandon", debt}
    let sending = false;

    function modes() {
        return app.pay.modes.filter((m) => !MODES_NOT_MONEY_IN.has(m));
    }

    // --- tabs -----------------------------------------------------------------------------

    function setTab(next) {
        tab = next;
        for (const button of ui.tabs.querySelectorAll("[data-tab]")) {
            button.setAttribute("aria-pressed", button.dataset.tab === tab ? "true" : "false");
        }
        show(ui.saleTab, tab === "sale");
        show(ui.unpaidTab, tab === "unpaid");
    }

    ui.tabs.addEventListener("click", (event) => {
        const button = event.target instanceof Element ? event.target.closest("[data-tab]") : null;
        if (!button) return;
        setTab(button.dataset.tab);
        if (tab === "unpaid") refreshUnpaid();
        else ui.number.focus();
    });

    // --- one sale ---------------------------------------------------------------------------

    ui.searchForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const text = ui.number.value.trim();
        if (!/^\d+$/.test(text)) {
            app.showMessage(t("sales.number_needed"), text, "bad_request");
            ui.number.focus();
            return;
        }
        await lookUp(Number(text));
    });

    async function lookUp(number) {
        const reply = await app.act("sale", { sale: number }, { context: { sale: number } });
        if (!reply) return;
        action = null;
        result = null;
        setSale(reply.sale);
    }

    function setSale(next) {
        sale = next;
        drawSale();
    }

    function drawSale() {
        show(ui.detail, !!sale);
        if (!sale) return;
        const s = sale;
        setText(ui.head, [t("sale.number", { number: s.number }), s.at ? age(s.at) : null,
            t("header.lane", { lane: s.lane }), s.seller, s.customer ? t("sales.customer", { customer: s.customer_name || app.customers.nameOf(s.customer) }) : null]
            .filter(Boolean).join(" · "));
        let status = "";
        let state = "ok";
        if (s.cancelled_by !== undefined && s.cancelled_by !== null) {
            status = t("sales.cancelled_by", { number: s.cancelled_by });
            state = "cancelled";
        } else if (s.cancels !== undefined && s.cancels !== null) {
            status = t("sales.cancels", { number: s.cancels });
            state = "counter";
        } else if (Number(s.due) > 0) {
            status = t("sales.owes", { due: app.money.format(s.due) });
            state = "due";
        }
        setText(ui.status, status);
        ui.status.dataset.state = state;
        show(ui.status, !!status);
        ui.detail.dataset.number = s.number;
        ui.sums.replaceChildren(
            ...[["total", s.total], ["paid", s.paid], ["change", s.change], ["due", s.due]].map(([key, value]) =>
                h("div", {}, h("dt", {}, t(`sales.sum.${key}`)), h("dd", { testid: `sale-${key}` }, app.money.format(value)))));
        const closed = state === "cancelled" || state === "counter";
        // Its lines, as sold.
        byTestId("sale-lines").replaceChildren(...(s.lines || []).map((l) =>
            h("tr", { testid: "sale-line", dataset: { line: l.line, article: l.article || "" } },
                h("td", { testid: "sale-line-name" }, l.name),
                h("td", { class: "num" }, formatQty(l.qty)),
                h("td", { class: "num" }, app.money.format(l.unit_price)),
                h("td", { class: "num" }, Number(l.discount_percent) ? `−${formatQty(l.discount_percent)} %` : ""),
                h("td", { class: "num", testid: "sale-line-total" }, app.money.format(l.total)))));
        ui.payments.replaceChildren(...(s.payments || []).map((p) => paymentRow(p, closed)));
        if (!(s.payments || []).length) ui.payments.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, t("pay.none"))));
        show(ui.cancelOpen, !closed && !s.topup_cancelled);
        drawTopup(s, closed);
        drawAction();
        drawResult();
    }

    function paymentRow(p, closed) {
        const standing = STANDING.has(p.type) && p.status === p.type && !closed;
        return h("tr", { testid: "sale-payment", dataset: { payment: p.payment, status: p.status, type: p.type, mode: p.mode } },
            h("td", { class: "num" }, String(p.payment)),
            h("td", { class: "type" }, t(`sales.type.${p.type}`)),
            h("td", { class: "status", testid: "sale-payment-status" }, p.status === "ANNUL" ? t("sales.status.ANNUL") : p.status),
            h("td", {}, paymentLabel(p.mode), p.reference ? h("span", { class: "muted" }, ` ${p.reference}`) : null,
                p.refers ? h("span", { class: "muted" }, ` ${t("sales.refers", { payment: p.refers })}`) : null),
            h("td", { class: "num", testid: "sale-payment-amount" }, app.money.format(p.amount)),
            h("td", {}, standing ? h("button", {
                type: "button", class: "small", testid: "payment-correct-open",
                onclick: () => { action = { kind: "correct", payment: p, mode: p.mode }; result = null; drawAction(); },
            }, t("sales.correct")) : null));
    }

    /** What each mode brought in on the sale, net (rows corrected or annulled count no
     *  more), the change taken off cash: a top-up goes back at most that way (the server's
     *  rules/corrections.py paid_by_mode). In cents. */
    function paidByMode(s) {
        const cents = (v) => Math.round(Number(v) * 100);
        const paid = new Map();
        for (const p of s.payments || []) {
            if (p.mode === "rounding" || p.mode === "debt") continue;
            paid.set(p.mode, (paid.get(p.mode) || 0) + cents(p.amount));
        }
        if (cents(s.change || 0)) paid.set("cash", (paid.get("cash") || 0) - cents(s.change));
        return paid;
    }

    /** The sale's wallet top-up: a button per mode that paid at least it, or "given back". */
    function drawTopup(s, closed) {
        const amount = s.topup ? app.money.format(s.topup) : "";
        if (!s.topup || closed) {
            ui.topup.replaceChildren();
        } else if (s.topup_cancelled) {
            ui.topup.replaceChildren(h("span", { class: "muted", testid: "sale-topup-done" }, t("sales.topup_done", { amount })));
        } else {
            const least = Math.round(Number(s.topup) * 100);
            const paidBy = [...paidByMode(s)].filter(([mode, cents]) => cents >= least && !MODES_NOT_MONEY_IN.has(mode))
                .map(([mode]) => mode).sort();
            ui.topup.replaceChildren(...paidBy.map((mode) => h("button", {
                type: "button", testid: "sale-topup-cancel", dataset: { mode },
                onclick: () => cancelTopup(s, mode, amount),
            }, t("sales.topup_cancel", { amount, mode: paymentLabel(mode) }))));
        }
    }

    async function cancelTopup(s, mode, amount) {
        if (sending) return;
        const yes = await app.confirm(t("sales.topup_question", { amount, mode: paymentLabel(mode), number: s.number }),
            t("sales.topup_yes"), t("confirm.no"));
        if (!yes) return;
        sending = true;
        try {
            const reply = await app.act("wallet_topup_cancel", { sale: s.number, mode }, { mutating: true, context: { sale: s.number } });
            if (!reply) return;
            app.notice(t("sales.topup_given", { amount, mode: paymentLabel(mode) }));
        } finally {
            sending = false;
        }
        await lookUp(s.number);
    }

    ui.cancelOpen.addEventListener("click", () => {
        action = { kind: "cancel" };
        result = null;
        drawAction();
    });

    function drawAction() {
        show(ui.action, !!action && !!sale);
        if (!action || !sale) {
            ui.action.replaceChildren();
            return;
        }
        const parts = [];
        if (action.kind === "correct") {
            const p = action.payment;
            parts.push(h("p", { class: "title" }, t("sales.correct_title", {
                payment: p.payment, mode: paymentLabel(p.mode), amount: app.money.format(p.amount),
            })));
            parts.push(h("div", { class: "chips", testid: "correct-modes" }, ...modes().map((mode) =>
                h("button", {
                    type: "button", class: "chip", testid: `correct-mode-${mode}`, dataset: { cmode: mode },
                    "aria-pressed": mode === action.mode ? "true" : "false",
                    onclick: () => { action.mode = mode; drawAction(); },
                }, paymentLabel(mode)))));
            parts.push(h("label", {}, h("span", {}, t("sales.correct_amount")),
                h("input", { testid: "correct-amount", name: "amount", inputmode: "decimal", autocomplete: "off",
                    value: action.amountText ?? String(p.amount).replace(".", app.money.locale.startsWith("fr") ? "," : "."),
                    oninput: (event) => { action.amountText = event.target.value; } })));
        } else {
            parts.push(h("p", { class: "title danger" }, t("sales.cancel_title", {
                number: sale.number, total: app.money.format(sale.total),
            })));
        }
        parts.push(h("label", {}, h("span", {}, t("sales.reason")),
            h("input", { testid: "sale-reason", name: "reason", autocomplete: "off", maxlength: "200",
                value: action.reason ?? "", oninput: (event) => { action.reason = event.target.value; } })));
        parts.push(h("div", { class: "buttons" },
            h("button", { type: "button", class: "small", testid: "sale-action-cancel",
                onclick: () => { action = null; drawAction(); } }, t("pay.form_cancel")),
            h("button", { type: "submit", class: action.kind === "cancel" ? "primary danger-bg" : "primary", testid: "sale-action-ok" },
                t(action.kind === "cancel" ? "sales.cancel_ok" : "sales.correct_ok"))));
        ui.action.dataset.kind = action.kind;
        const focused = document.activeElement && ui.action.contains(document.activeElement) ? document.activeElement.name : null;
        ui.action.replaceChildren(...parts);
        const again = focused ? ui.action.querySelector(`[name="${focused}"]`) : null;
        (again || ui.action.querySelector(action.kind === "correct" ? "[name=amount]" : "[name=reason]")).focus();
    }

    ui.action.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
            event.preventDefault();
            event.stopPropagation();
            action = null;
            drawAction();
            ui.number.focus();
        }
    });

    ui.action.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (sending || !action || !sale) return;
        const reason = (action.reason || "").trim();
        if (!reason) {
            app.showMessage(t("sales.reason_needed"), "", "bad_request");
            ui.action.querySelector("[name=reason]").focus();
            return;
        }
        sending = true;
        try {
            if (action.kind === "correct") await correct(reason);
            else await cancel(reason);
        } finally {
            sending = false;
        }
    });

    async function correct(reason) {
        const p = action.payment;
        const fields = { sale: sale.number, payment: p.payment, reason };
        const typed = (action.amountText ?? "").trim();
        if (typed) {
            const value = app.typedAmount(typed);
            if (value === null) return;
            if (Number(value) !== Number(p.amount)) fields.amount = value;
        }
        if (action.mode && action.mode !== p.mode) fields.mode = action.mode;
        if (fields.amount === undefined && fields.mode === undefined) {
            app.showMessage(t("sales.nothing_to_correct"), "", "bad_request");
            return;
        }
        const why = t("sup.why_correct", { number: sale.number });
        const reply = await app.approved("payment_correct", fields, { mutating: true, context: { sale: sale.number } },
            { askFirst: true, why });
        if (!reply) return;
        action = null;
        setSale(reply.sale);
        app.notice(t("sales.corrected", { number: reply.sale.number }));
    }

    async function cancel(reason) {
        const number = sale.number;
        const yes = await app.confirm(t("sales.cancel_question", { number, total: app.money.format(sale.total) }),
            t("sales.cancel_ok"), t("confirm.no"));
        if (!yes) return;
        const reply = await app.approved("sale_cancel", { sale: number, reason }, { mutating: true, context: { sale: number } },
            { askFirst: true, why: t("sup.why_cancel", { number }) });
        if (!reply) return;
        action = null;
        result = reply;
        setSale(reply.sale);
        app.notice(t("sales.cancelled", { number, counter: reply.number }));
    }

    function drawResult() {
        show(ui.result, !!result);
        if (!result) return;
        const back = Object.entries(result.given_back || {}).map(([mode, amount]) => `${paymentLabel(mode)} ${app.money.format(amount)}`);
        const parts = [h("p", { class: "big", testid: "sale-counter" }, t("sales.counter_entry", { number: result.number }))];
        if (back.length) parts.push(h("p", { testid: "sale-given-back" }, t("sales.given_back", { list: back.join(" · ") })));
        for (const v of result.vouchers || []) {
            parts.push(h("p", { testid: "sale-voucher", class: "voucher" },
                t("sale.voucher_to_give", { code: v.code, amount: app.money.format(v.amount), date: v.valid_until })));
        }
        ui.result.replaceChildren(...parts);
    }

    // --- unpaid ----------------------------------------------------------------------------

    async function refreshUnpaid() {
        const fields = customer ? { customer } : {};
        const reply = await app.act("unpaid", fields, { quiet: true });
        if (!reply) return;
        debts = reply;
        if (debtAction && !(debts.sales || []).some((d) => d.sale === debtAction.debt.sale)) debtAction = null;
        drawUnpaid();
    }

    function drawFilter() {
        const ticketCustomer = app.ticket && app.ticket.customer;
        const buttons = [h("button", {
            type: "button", class: "small", testid: "unpaid-all", "aria-pressed": customer ? "false" : "true",
            onclick: () => { customer = null; debtAction = null; refreshUnpaid(); },
        }, t("unpaid.all"))];
        const other = customer && customer !== ticketCustomer ? customer : null;
        for (const id of [ticketCustomer, other].filter(Boolean)) {
            buttons.push(h("button", {
                type: "button", class: "small", testid: "unpaid-customer", dataset: { customer: id },
                "aria-pressed": customer === id ? "true" : "false",
                onclick: () => { customer = id; debtAction = null; refreshUnpaid(); },
            }, app.customers.nameOf(id)));
        }
        ui.filter.replaceChildren(h("span", { class: "muted" }, t("unpaid.filter")), ...buttons);
    }

    function drawUnpaid() {
        drawFilter();
        const list = (debts && debts.sales) || [];
        setText(ui.total, debts ? t("unpaid.total", { due: app.money.format(debts.due), n: list.length }) : "");
        ui.list.replaceChildren(...(list.length ? list.map((d) =>
            h("li", { testid: "unpaid-sale", dataset: { sale: d.sale, customer: d.customer || "" } },
                h("span", { class: "what" }, t("sale.number", { number: d.sale }),
                    h("span", { class: "muted" }, ` · ${d.customer ? (d.customer_name || app.customers.nameOf(d.customer)) : "—"} · ${d.at ? age(d.at) : ""}`)),
                h("span", { class: "num muted" }, t("unpaid.of_total", { total: app.money.format(d.total) })),
                h("strong", { class: "num", testid: "unpaid-due" }, app.money.format(d.due)),
                h("button", { type: "button", class: "small primary", testid: "pay-later-open",
                    onclick: () => { debtAction = { kind: "pay", debt: d }; drawDebtAction(); } }, t("unpaid.pay")),
                h("button", { type: "button", class: "small danger", testid: "debt-abandon-open",
                    onclick: () => { debtAction = { kind: "abandon", debt: d }; drawDebtAction(); } }, t("unpaid.abandon"))))
            : [h("li", { class: "muted none", testid: "unpaid-none" }, t("unpaid.none"))]));
        drawDebtAction();
    }

    function drawDebtAction() {
        show(ui.unpaidAction, !!debtAction);
        if (!debtAction) {
            ui.unpaidAction.replaceChildren();
            return;
        }
        const d = debtAction.debt;
        const parts = [];
        ui.unpaidAction.dataset.kind = debtAction.kind;
        if (debtAction.kind === "pay") {
            parts.push(h("p", { class: "title" }, t("unpaid.pay_title", { number: d.sale, due: app.money.format(d.due) })));
            parts.push(h("div", { class: "row" },
                h("label", {}, h("span", {}, t("unpaid.amount")),
                    h("input", { testid: "pay-later-amount", name: "amount", inputmode: "decimal", autocomplete: "off",
                        placeholder: t("unpaid.amount_hint") })),
                h("label", {}, h("span", {}, t("unpaid.reference")),
                    h("input", { testid: "pay-later-reference", name: "reference", autocomplete: "off", placeholder: t("pay.optional") }))));
            parts.push(h("div", { class: "buttons" },
                h("button", { type: "button", class: "small", testid: "unpaid-action-cancel",
                    onclick: () => { debtAction = null; drawDebtAction(); } }, t("pay.form_cancel")),
                h("span", { class: "spacer" }),
                ...modes().map((mode) => h("button", {
                    type: "button", class: `mode-${mode}`, testid: `pay-later-${mode}`, dataset: { lmode: mode },
                    onclick: () => payLater(mode),
                }, paymentLabel(mode)))));
        } else {
            parts.push(h("p", { class: "title danger" }, t("unpaid.abandon_title", { number: d.sale, due: app.money.format(d.due) })));
            parts.push(h("label", {}, h("span", {}, t("sales.reason")),
                h("input", { testid: "debt-reason", name: "reason", autocomplete: "off", maxlength: "200" })));
            parts.push(h("div", { class: "buttons" },
                h("button", { type: "button", class: "small", testid: "unpaid-action-cancel",
                    onclick: () => { debtAction = null; drawDebtAction(); } }, t("pay.form_cancel")),
                h("span", { class: "spacer" }),
                h("button", { type: "submit", class: "primary danger-bg", testid: "debt-abandon-ok" }, t("unpaid.abandon_ok"))));
        }
        ui.unpaidAction.replaceChildren(...parts);
        ui.unpaidAction.querySelector("input").focus();
    }

    ui.unpaidAction.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && debtAction && debtAction.kind === "pay" && event.target instanceof HTMLInputElement) {
            // Enter in the amount or reference: in cash (the form has no submit button to do it).
            event.preventDefault();
            payLater("cash");
        } else if (event.key === "Escape") {
            event.preventDefault();
            event.stopPropagation();
            debtAction = null;
            drawDebtAction();
        }
    });

    ui.unpaidAction.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!debtAction) return;
        if (debtAction.kind === "pay") payLater("cash"); // Enter: in cash
        else abandon();
    });

    async function payLater(mode) {
        if (sending || !debtAction) return;
        const d = debtAction.debt;
        const amountInput = ui.unpaidAction.querySelector("[name=amount]");
        const fields = { sale: d.sale, mode };
        const typed = amountInput.value.trim();
        if (typed) {
            const value = app.typedAmount(typed, { focus: amountInput });
            if (value === null) return;
            fields.amount = value;
        }
        const reference = ui.unpaidAction.querySelector("[name=reference]").value.trim();
        if (reference) fields.reference = reference;
        sending = true;
        let reply;
        try {
            reply = await app.act("pay_later", fields, { mutating: true, context: { sale: d.sale } });
        } finally {
            sending = false;
        }
        if (!reply) return;
        debtAction = null;
        app.notice(t("unpaid.paid", {
            amount: app.money.format(fields.amount ?? d.due), mode: paymentLabel(mode), number: d.sale,
            due: app.money.format(reply.sale.due),
        }));
        if (sale && sale.number === reply.sale.number) setSale(reply.sale);
        app.customers.refreshTicketCustomer();
        await refreshUnpaid();
    }

    async function abandon() {
        if (sending || !debtAction) return;
        const d = debtAction.debt;
        const reasonInput = ui.unpaidAction.querySelector("[name=reason]");
        const reason = reasonInput.value.trim();
        if (!reason) {
            app.showMessage(t("sales.reason_needed"), "", "bad_request");
            reasonInput.focus();
            return;
        }
        sending = true;
        let reply;
        try {
            reply = await app.approved("debt_abandon", { sale: d.sale, reason }, { mutating: true, context: { sale: d.sale } },
                { askFirst: true, why: t("sup.why_abandon", { number: d.sale, due: app.money.format(d.due) }) });
        } finally {
            sending = false;
        }
        if (!reply) return;
        debtAction = null;
        app.notice(t("unpaid.abandoned", { number: d.sale, due: app.money.format(d.due) }));
        await refreshUnpaid();
    }

    // --- opening ---------------------------------------------------------------------------

    function open(which = "sale", opts = {}) {
        app.closePanels();
        overlay.open();
        setTab(which);
        if (which === "unpaid") {
            customer = opts.customer !== undefined ? opts.customer : customer;
            debtAction = null;
            drawUnpaid();
            refreshUnpaid();
        } else {
            drawSale();
            ui.number.focus();
            ui.number.select();
        }
    }

    byTestId("sales-open").addEventListener("click", () => open("sale"));
    byTestId("unpaid-open").addEventListener("click", () => open("unpaid", { customer: null }));
    byTestId("sales-close").addEventListener("click", () => overlay.close());

    return {
        overlay,
        open,
        redraw() {
            if (!overlay.isOpen) return;
            drawSale();
            if (debts) drawUnpaid();
        },
    };
}
