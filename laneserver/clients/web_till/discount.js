// The discount screen: on the selected line or the whole ticket, a percentage or an
// amount, replacing the line's discount or added to it, with a reason (one of the
// shop's `discount_reasons` when it has a list, else free and optional). Above the
// shop's cap the server answers `supervisor_required`: the supervisor's PIN prompt
// (app.approved) asks for it and the same discount is sent again with it.
//
// Keyboard: the value field has the focus; Enter applies, Escape closes.

import { byTestId, h, setText, show } from "./dom.js";
import { formatQty, parseDecimal, reasonLabel } from "./format.js";
import { t } from "./i18n.js";
import { Overlay } from "./panels.js";

const QUICK_PERCENTS = ["5", "10", "15", "20", "50"];

export function bindDiscountPanel(app) {
    const overlay = new Overlay("discount-panel", { onClose: () => app.refocus() });
    const ui = {
        form: byTestId("discount-form"),
        targetLine: byTestId("discount-target-line"),
        targetTicket: byTestId("discount-target-ticket"),
        value: byTestId("discount-value"),
        valueLabel: byTestId("discount-value-label"),
        quick: byTestId("discount-quick"),
        reasonsBox: byTestId("discount-reasons-box"),
        reasons: byTestId("discount-reasons"),
        freeBox: byTestId("discount-reason-free-box"),
        free: byTestId("discount-reason-input"),
        current: byTestId("discount-current"),
        apply: byTestId("discount-apply"),
    };
    const state = { line: null, target: "ticket", kind: "percent", mode: "replace", reason: null };
    let sending = false;

    function reasonsList() {
        const shop = (app.hello && app.hello.shop) || {};
        return Array.isArray(shop.discount_reasons) ? shop.discount_reasons : [];
    }

    function line() {
        if (state.line === null || !app.ticket) return null;
        return app.ticket.lines.find((l) => l.line === state.line) || null;
    }

    function draw() {
        const chosen = line();
        show(ui.targetLine, !!chosen);
        if (chosen) setText(ui.targetLine, t("discount.line", { name: chosen.name }));
        if (!chosen && state.target === "line") state.target = "ticket";
        press("[data-target]", "target", state.target);
        press("[data-kind]", "kind", state.kind);
        press("[data-dmode]", "dmode", state.mode);
        setText(ui.valueLabel, t(state.kind === "percent" ? "discount.value_percent" : "discount.value_amount"));
        show(ui.quick, state.kind === "percent");
        const reasons = reasonsList();
        show(ui.reasonsBox, reasons.length > 0);
        show(ui.freeBox, reasons.length === 0);
        ui.reasons.replaceChildren(...reasons.map((reason) =>
            h("button", {
                type: "button", class: "chip", testid: "discount-reason", dataset: { reason },
                "aria-pressed": reason === state.reason ? "true" : "false",
            }, reasonLabel(reason))));
        const current = state.target === "line" && chosen ? Number(chosen.discount_percent) : null;
        setText(ui.current, current ? t("discount.current", { percent: formatQty(chosen.discount_percent) }) : "");
        show(ui.current, !!current);
        setText(ui.apply, t(state.target === "line" ? "discount.apply_line" : "discount.apply_ticket"));
    }

    function press(selector, key, value) {
        for (const button of ui.form.querySelectorAll(selector)) {
            button.setAttribute("aria-pressed", button.dataset[key] === value ? "true" : "false");
        }
    }

    ui.form.addEventListener("click", (event) => {
        const button = event.target instanceof Element ? event.target.closest("button") : null;
        if (!button || button.type === "submit") return;
        if (button.dataset.target) state.target = button.dataset.target;
        else if (button.dataset.kind) state.kind = button.dataset.kind;
        else if (button.dataset.dmode) state.mode = button.dataset.dmode;
        else if (button.dataset.reason) state.reason = button.dataset.reason;
        else if (button.dataset.percent) ui.value.value = button.dataset.percent;
        else return;
        draw();
        ui.value.focus({ preventScroll: true });
    });

    byTestId("discount-close").addEventListener("click", () => overlay.close());

    ui.quick.replaceChildren(...QUICK_PERCENTS.map((p) =>
        h("button", { type: "button", class: "chip", testid: "discount-quick-percent", dataset: { percent: p } }, `${p} %`)));

    ui.form.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
            event.preventDefault();
            event.stopPropagation();
            overlay.close();
        }
    });

    ui.form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (sending) return;
        const fields = read();
        if (!fields) return;
        // A ticket-wide discount that replaces the lines' own: said, and asked first.
        const discounted = fields.line === undefined && fields.mode === "replace" && app.ticket
            ? app.ticket.lines.filter((l) => Number(l.discount_percent) > 0).length : 0;
        if (discounted > 0) {
            sending = true;
            const yes = await app.confirm(t("discount.replace_lines_q", { n: discounted }),
                t("discount.replace_lines_yes"), t("discount.replace_lines_no"));
            sending = false;
            if (!overlay.isOpen) overlay.open();
            if (!yes) {
                ui.value.focus();
                return;
            }
        }
        sending = true;
        ui.apply.disabled = true;
        try {
            const reply = await app.approved("discount", fields, { mutating: true });
            if (reply) {
                overlay.close();
                app.notice(t("discount.applied"));
            }
        } finally {
            sending = false;
            ui.apply.disabled = false;
        }
    });

    /** The request's fields, or null after saying what is missing. */
    function read() {
        const text = ui.value.value.trim();
        const fields = { mode: state.mode };
        if (state.target === "line") {
            const chosen = line();
            if (!chosen) {
                app.showMessage(t("err.not_found_line"), "", "not_found");
                return null;
            }
            fields.line = chosen.line;
        }
        if (state.kind === "percent") {
            const value = parseDecimal(text.replace(/\s*%$/, ""));
            if (value === null || Number(value) <= 0 || Number(value) > 100) {
                app.showMessage(t("discount.bad_percent"), text, "bad_request");
                ui.value.focus();
                return null;
            }
            fields.percent = value;
        } else {
            const value = app.typedAmount(text, { focus: ui.value });
            if (value === null) return null;
            fields.amount = value;
        }
        const reasons = reasonsList();
        if (reasons.length) {
            if (!state.reason || !reasons.includes(state.reason)) {
                app.showMessage(t("discount.reason_needed"), "", "bad_request");
                return null;
            }
            fields.reason = state.reason;
        } else if (ui.free.value.trim()) {
            fields.reason = ui.free.value.trim();
        }
        return fields;
    }

    function open(lineNumber) {
        const ticket = app.ticket;
        if (!ticket || !ticket.lines.length) {
            app.showMessage(t("err.conflict_empty"), "");
            return;
        }
        app.closePanels();
        state.line = lineNumber ?? null;
        state.target = state.line !== null ? "line" : "ticket";
        state.reason = null;
        ui.value.value = "";
        ui.free.value = "";
        overlay.open();
        draw();
        ui.value.focus();
    }

    return {
        overlay,
        open,
        redraw() { if (overlay.isOpen) draw(); },
    };
}
