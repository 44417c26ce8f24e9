// The lane's cash drawer: what it should hold (the period since the last closing
// count, by kind), its movements, and the cashier's actions on it:
//   float / add / expense / withdrawal   drawer_movement (a withdrawal: destination,
//                                        count by denomination, a supervisor's PIN)
//   no sale                              drawer_open (a supervisor's PIN)
//   closing count                        drawer_count: expected, counted, difference
// The `drawer_alert` event shows a banner under the header until a drawer reply
// says the expected cash is back under the threshold.

import { byTestId, h, setText, show } from "./dom.js";
import { age } from "./format.js";
import { t } from "./i18n.js";
import { Overlay } from "./panels.js";

// The default `[shop] denominations` (euros), until the hello's `shop.denominations` says the shop's.
export const DENOMINATIONS = [
    "500.00", "200.00", "100.00", "50.00", "20.00", "10.00", "5.00",
    "2.00", "1.00", "0.50", "0.20", "0.10", "0.05", "0.02", "0.01",
];

const NEEDS = {
    float: ["amount", "reason", "count"],
    add: ["amount", "reason", "count"],
    expense: ["amount", "reason", "detail"],
    withdrawal: ["amount", "reason", "destination", "count"],
    no_sale: ["reason"],
    count: ["count"],
};

/** Cents of a count {denomination: pieces}; exact (no float sums of money). */
export function countCents(count) {
    let cents = 0;
    for (const [value, pieces] of Object.entries(count)) {
        const [units, frac = ""] = value.split(".");
        cents += (Number(units) * 100 + Number(frac.padEnd(2, "0").slice(0, 2))) * pieces;
    }
    return cents;
}

export function bindDrawerPanel(app) {
    const overlay = new Overlay("drawer-panel", { onClose: () => app.refocus() });
    const ui = {
        expected: byTestId("drawer-expected"),
        sums: byTestId("drawer-sums"),
        movements: byTestId("drawer-movements"),
        form: byTestId("drawer-form"),
        kinds: byTestId("drawer-kinds"),
        amount: byTestId("drawer-amount"),
        reason: byTestId("drawer-reason"),
        detail: byTestId("drawer-detail"),
        grid: byTestId("drawer-count-grid"),
        countTotal: byTestId("drawer-count-total"),
        submit: byTestId("drawer-submit"),
        result: byTestId("drawer-result"),
        alert: byTestId("drawer-alert"),
        alertText: byTestId("drawer-alert-text"),
    };
    let drawer = null;         // the last drawer object
    let kind = "float";
    let destination = "bank";
    let alertEvent = null;     // the last drawer_alert event, while it stands
    let result = null;         // the last closing count's reply

    // The count grid: one field per denomination of the shop (the hello's list).
    let denominations = DENOMINATIONS;
    let countInputs = [];
    let countLabels = [];

    function buildGrid(list) {
        denominations = list;
        countInputs = list.map((value) =>
            h("input", { inputmode: "numeric", autocomplete: "off", testid: "drawer-count-input", dataset: { denomination: value }, "aria-label": value }));
        countLabels = list.map(() => h("span", { class: "denomination" }));
        ui.grid.replaceChildren(...list.map((value, i) =>
            h("label", { class: "count-cell", dataset: { denomination: value } }, countLabels[i], countInputs[i])));
        drawLabels();
    }

    function drawLabels() {
        for (const [i, value] of denominations.entries()) setText(countLabels[i], app.money.format(value));
    }

    buildGrid(DENOMINATIONS);

    function readCount() {
        const count = {};
        for (const input of countInputs) {
            const text = input.value.trim();
            if (!text) continue;
            if (!/^\d+$/.test(text)) return { bad: `${input.dataset.denomination}: ${text}` };
            if (Number(text) > 0) count[input.dataset.denomination] = Number(text);
        }
        return { count };
    }

    function drawCountTotal() {
        const { count, bad } = readCount();
        if (bad) {
            setText(ui.countTotal, "");
            return;
        }
        const cents = countCents(count);
        setText(ui.countTotal, app.money.format(cents / 100));
        // The count gives the amount of a movement counted by denomination.
        if (Object.keys(count).length && NEEDS[kind].includes("amount")) {
            const sep = app.money.locale.startsWith("fr") ? "," : ".";
            ui.amount.value = `${Math.floor(cents / 100)}${sep}${String(cents % 100).padStart(2, "0")}`;
        }
    }

    ui.grid.addEventListener("input", drawCountTotal);

    function setKind(next) {
        kind = next;
        result = null;
        show(ui.result, false);
        for (const button of ui.kinds.querySelectorAll("button")) {
            button.setAttribute("aria-pressed", button.dataset.kind === kind ? "true" : "false");
        }
        for (const el of ui.form.querySelectorAll("[data-field]")) show(el, NEEDS[kind].includes(el.dataset.field));
        setText(ui.submit, t(`drawer.submit.${kind}`));
        ui.submit.classList.toggle("danger-bg", kind === "withdrawal" || kind === "no_sale");
        for (const button of ui.form.querySelectorAll("[data-destination]")) {
            button.setAttribute("aria-pressed", button.dataset.destination === destination ? "true" : "false");
        }
        const first = NEEDS[kind].includes("amount") ? ui.amount : NEEDS[kind].includes("reason") ? ui.reason : countInputs[0];
        if (overlay.isOpen) first.focus();
    }

    ui.kinds.addEventListener("click", (event) => {
        const button = event.target instanceof Element ? event.target.closest("[data-kind]") : null;
        if (button) setKind(button.dataset.kind);
    });
    ui.form.addEventListener("click", (event) => {
        const button = event.target instanceof Element ? event.target.closest("[data-destination]") : null;
        if (!button) return;
        destination = button.dataset.destination;
        setKind(kind);
    });

    function clearForm() {
        ui.amount.value = "";
        ui.reason.value = "";
        ui.detail.value = "";
        for (const input of countInputs) input.value = "";
        drawCountTotal();
    }

    let sending = false;

    ui.form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (sending) return;
        sending = true;
        ui.submit.disabled = true;
        try {
            await submit();
        } finally {
            sending = false;
            ui.submit.disabled = false;
        }
    });

    async function submit() {
        const needs = NEEDS[kind];
        const fields = {};
        if (needs.includes("amount")) {
            const value = app.typedAmount(ui.amount);
            if (value === null) return;
            fields.amount = value;
        }
        if (needs.includes("reason")) {
            const reason = ui.reason.value.trim();
            if (!reason) {
                app.showMessage(t("drawer.reason_needed"), "", "bad_request");
                ui.reason.focus();
                return;
            }
            fields.reason = reason;
        }
        if (needs.includes("detail")) {
            const detail = ui.detail.value.trim();
            if (!detail) {
                app.showMessage(t("drawer.detail_needed"), "", "bad_request");
                ui.detail.focus();
                return;
            }
            fields.detail = detail;
        }
        if (needs.includes("destination")) fields.destination = destination;
        if (needs.includes("count")) {
            const { count, bad } = readCount();
            if (bad) {
                app.showMessage(t("drawer.count_bad"), bad, "bad_request");
                return;
            }
            if (kind === "count" || Object.keys(count).length) fields.count = count;
        }
        if (kind === "count") {
            const yes = await app.confirm(t("drawer.count_question"), t("drawer.submit.count"));
            if (!yes) return;
            const reply = await app.act("drawer_count", fields, { mutating: true });
            if (!reply) return;
            result = reply;
            clearForm();
            setDrawer(reply.drawer);
            drawResult();
            app.notice(t("drawer.counted_notice"));
            return;
        }
        if (kind === "no_sale") {
            const reply = await app.approved("drawer_open", fields, { mutating: true }, { askFirst: true, why: t("sup.why_no_sale") });
            if (!reply) return;
            clearForm();
            app.notice(t("drawer.opened", { who: reply.approved_by }));
            return;
        }
        const ask = kind === "withdrawal";
        const reply = await app.approved("drawer_movement", { kind, ...fields }, { mutating: true },
            { askFirst: ask, why: t("sup.why_withdrawal", { amount: app.money.format(fields.amount) }) });
        if (!reply) return;
        clearForm();
        setDrawer(reply.drawer);
        app.notice(t("drawer.recorded", { kind: t(`drawer.kind.${kind}`), amount: app.money.format(fields.amount) }));
    }

    function drawResult() {
        show(ui.result, !!result);
        if (!result) return;
        setText(byTestId("drawer-result-expected"), app.money.format(result.expected));
        setText(byTestId("drawer-result-counted"), app.money.format(result.counted));
        const diff = Number(result.difference);
        const el = byTestId("drawer-result-difference");
        setText(el, (diff > 0 ? "+" : "") + app.money.format(result.difference));
        ui.result.dataset.difference = diff < 0 ? "short" : diff > 0 ? "over" : "exact";
    }

    // --- the drawer object ----------------------------------------------------------------

    async function refresh() {
        const reply = await app.act("drawer", {}, { quiet: true });
        if (reply) setDrawer(reply.drawer);
    }

    function setDrawer(next) {
        drawer = next;
        if (drawer && !drawer.alert) {
            alertEvent = null;
            drawAlert();
        }
        draw();
    }

    function draw() {
        if (!drawer) return;
        setText(ui.expected, app.money.format(drawer.expected));
        const sums = [
            ["float", drawer.float], ["added", drawer.added], ["expenses", drawer.expenses],
            ["withdrawals", drawer.withdrawals], ["cash_sales", drawer.cash_sales], ["cash_in", drawer.cash_in],
        ];
        ui.sums.replaceChildren(
            ...sums.map(([key, value]) => h("div", { dataset: { sum: key } },
                h("dt", {}, key === "cash_sales" ? t("drawer.sum.cash_sales", { n: drawer.sales }) : t(`drawer.sum.${key}`)),
                h("dd", { testid: `drawer-sum-${key}` }, app.money.format(value)))),
            h("div", {}, h("dt", {}, t("drawer.since")), h("dd", {}, drawer.since ? age(drawer.since) : t("drawer.never"))),
            drawer.alert_threshold ? h("div", { class: drawer.alert ? "alert" : null }, h("dt", {}, t("drawer.threshold")),
                h("dd", {}, app.money.format(drawer.alert_threshold))) : null,
        );
        const movements = drawer.movements || [];
        ui.movements.replaceChildren(...(movements.length ? movements.slice().reverse().map((m) =>
            h("li", { testid: "drawer-movement", dataset: { kind: m.kind } },
                h("span", { class: "kind" }, t(`drawer.kind.${m.kind}`)),
                h("span", { class: "num" }, app.money.format(m.amount)),
                h("span", { class: "muted" }, [m.reason, m.detail, m.destination ? t(`drawer.${m.destination}`) : null,
                    m.seller, m.approved_by ? t("drawer.approved_by", { who: m.approved_by }) : null].filter(Boolean).join(" · "))))
            : [h("li", { class: "muted" }, t("drawer.no_movements"))]));
    }

    // --- the alert ------------------------------------------------------------------------

    function drawAlert() {
        show(ui.alert, !!alertEvent);
        if (!alertEvent) return;
        setText(ui.alertText, t("drawer.alert", {
            expected: app.money.format(alertEvent.expected), threshold: app.money.format(alertEvent.threshold),
        }));
    }

    function open(nextKind) {
        app.closePanels();
        overlay.open();
        drawLabels();
        setKind(nextKind || kind);
        draw();
        drawResult();
        refresh();
    }

    byTestId("drawer-open").addEventListener("click", () => open());
    byTestId("drawer-alert-open").addEventListener("click", () => open("withdrawal"));
    byTestId("drawer-close").addEventListener("click", () => overlay.close());
    byTestId("drawer-refresh").addEventListener("click", () => refresh());
    setKind(kind);

    return {
        overlay,
        open,
        onAlert(event) {
            alertEvent = event;
            drawAlert();
            if (overlay.isOpen) refresh();
        },
        /** The shop's notes and coins (`shop.denominations`, largest first); the default list without it. */
        setDenominations(list) {
            const next = Array.isArray(list) && list.length ? list : DENOMINATIONS;
            if (next.join(",") !== denominations.join(",")) buildGrid(next);
        },
        redraw() {
            drawLabels();
            setKind(kind);
            draw();
            drawResult();
            drawAlert();
            drawCountTotal();
        },
    };
}
