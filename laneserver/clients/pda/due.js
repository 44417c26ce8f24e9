// "Commandes du jour" / "Orders due today" (issue 18): the customer orders floor staff
// prepare today. `documents` with `due: "today"` lists the open orders due on or before
// the shop's day (docs/protocol.md "documents"); the screen shows the ones due today,
// then, apart, the overdue ones, each with its number, customer, due date, delivery
// mode (and address), total, deposit paid, balance due, its lines (article, quantity)
// and its barcode (Code 128, barcode.js) to scan at a till.
//
// Refreshed when the screen opens, with its button and when the server comes back. The
// last list is kept on the device (basket.js, IndexedDB key "due") with its time:
// offline the screen shows it under a "hors ligne" banner, never a blank.
//
// "Today" for the split is the PDA's own day: the device is in the shop, and the
// server already keeps only the orders due on or before the shop's day.

import { h, setText, show } from "../till/dom.js";
import { formatQty } from "../till/format.js";
import { locale } from "../till/i18n.js";
import { code128Svg } from "./barcode.js";
import { t } from "./i18n.js";

const ORDERS = { kind: "order", open: true, due: "today" };
// The server could not be reached: the last list stays, marked offline. (A refusal or
// an `unavailable` is shown as an error; the last list stays, with its time.)
const UNREACHED = new Set(["connection_stopped"]);

/** The device's day, "YYYY-MM-DD". */
export function localDay(now = new Date()) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** The shop's day now: the one the server gave with the kept list (`day`: its time zone, not
 * the PDA's), moved on by the days the PDA's own calendar turned since; the PDA's day when
 * the server gave none (a list kept before it said). */
export function shopDay(kept, now = new Date()) {
    if (!kept || !kept.day) return localDay(now);
    const turned = Math.round((Date.parse(localDay(now)) - Date.parse(localDay(new Date(kept.at)))) / 86400000);
    const day = new Date(Date.parse(kept.day) + turned * 86400000);
    return day.toISOString().slice(0, 10);
}

/** The orders split into today's and the overdue ones (due before `today`), each by due date then number. */
export function splitDue(orders, today) {
    const order = (a, b) => (a.due || "").localeCompare(b.due || "") || a.number - b.number;
    const sorted = [...orders].sort(order);
    return {
        today: sorted.filter((o) => !o.due || o.due >= today),
        overdue: sorted.filter((o) => o.due && o.due < today),
    };
}

function formatDay(iso) {
    const [y, m, d] = String(iso).split("-").map(Number);
    if (!y || !m || !d) return String(iso || "");
    return new Intl.DateTimeFormat(locale(), { day: "2-digit", month: "2-digit", year: "numeric" }).format(new Date(y, m - 1, d));
}

function formatTime(ms) {
    return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" }).format(new Date(ms));
}

export class DueOrders {
    /** `app`: the PDA page (its connection, device store, money, error display). */
    constructor(app, el) {
        this.app = app;
        this.el = el; // {status, offline, todayTitle, todayList, overdueTitle, overdueList, none, refresh}
        this.loading = false;
        this.offline = false; // the list shown is the one kept on the device, the server unreached
        this.wasReady = false;
        el.refresh.addEventListener("click", () => this.refresh());
    }

    get visible() {
        return this.app.screen === "work" && this.app.panel === "due";
    }

    /** The screen opened: the kept list at once, then the server's. */
    open() {
        this.render();
        this.refresh();
    }

    async refresh() {
        const app = this.app;
        if (!app.online) {
            this.offline = true;
            this.render();
            return;
        }
        if (this.loading) return;
        this.loading = true;
        this.render();
        try {
            const reply = await app.conn.request("documents", ORDERS);
            const orders = reply.documents || [];
            await this.nameCustomers(orders);
            this.offline = false;
            await app.store.keepDueList(orders, reply.day || null);
        } catch (error) {
            if (UNREACHED.has(error.code)) this.offline = true;
            else app.handleError(error, { verb: "documents" });
        } finally {
            this.loading = false;
            this.render();
        }
    }

    /** Each order's customer's name (`customer`), for the list; an id it cannot find stays as is. */
    async nameCustomers(orders) {
        const kept = new Map();
        for (const order of (this.app.store.dueList || {}).orders || []) {
            if (order.customer && order.customer_name) kept.set(order.customer, order.customer_name);
        }
        const ids = [...new Set(orders.map((o) => o.customer).filter(Boolean))];
        const names = new Map(await Promise.all(ids.map(async (id) => {
            try {
                const reply = await this.app.conn.request("customer", { customer: id });
                return [id, (reply.customer && reply.customer.name) || kept.get(id) || null];
            } catch (_) {
                return [id, kept.get(id) || null];
            }
        })));
        for (const order of orders) {
            if (order.customer && names.get(order.customer)) order.customer_name = names.get(order.customer);
        }
    }

    /** The connection changed: back → the list again (when shown); lost → the kept one, marked offline. */
    connectionChanged(ready) {
        const back = ready && !this.wasReady;
        this.wasReady = ready;
        if (!this.visible) return;
        if (back) this.refresh();
        else if (!ready) {
            this.offline = true;
            this.render();
        }
    }

    render() {
        const e = this.el;
        const kept = this.app.store.dueList;
        const offline = this.offline || !this.app.online;
        if (offline) {
            setText(e.offline, kept ? t("due.offline", { date: formatDay(localDay(new Date(kept.at))), time: formatTime(kept.at) })
                : t("due.offline_none"));
        }
        show(e.offline, offline);
        setText(e.status, this.loading ? t("due.loading") : kept && !offline ? t("due.fresh", { time: formatTime(kept.at) }) : "");
        e.refresh.disabled = this.loading;
        const { today, overdue } = splitDue(kept ? kept.orders : [], shopDay(kept));
        setText(e.todayTitle, t("due.today", { n: today.length }));
        e.todayList.replaceChildren(...today.map((o) => this.card(o, "today")));
        show(e.none, !!kept && today.length === 0);
        setText(e.overdueTitle, t("due.overdue", { n: overdue.length }));
        e.overdueList.replaceChildren(...overdue.map((o) => this.card(o, "overdue")));
        show(e.overdueTitle, overdue.length > 0);
        show(e.overdueList, overdue.length > 0);
    }

    card(o, group) {
        const money = (amount) => this.app.money.format(amount);
        const delivery = o.delivery === "delivered" ? t("due.delivery.delivered", { address: o.address || "" })
            : o.delivery ? t(`due.delivery.${o.delivery}`) : "";
        const customer = o.customer ? (o.customer_name ? `${o.customer_name} (${o.customer})` : o.customer) : t("due.customer_none");
        const figure = (testid, words, amount) => h("div", { class: "figure" },
            h("span", { class: "muted" }, t(words)), h("span", { class: "num", testid }, money(amount)));
        return h("li", { class: `due-order ${group}`, testid: "due-order", dataset: { document: o.name, group } },
            h("div", { class: "due-head" },
                h("span", { class: "number", testid: "due-number" }, o.name),
                h("span", { class: group === "overdue" ? "date late" : "date", testid: "due-date" },
                    t("due.for", { date: formatDay(o.due) }))),
            h("p", { class: "customer", testid: "due-customer" }, customer),
            h("p", { class: "delivery", testid: "due-delivery", dataset: { delivery: o.delivery || "" } }, delivery),
            h("div", { class: "figures" },
                figure("due-total", "due.total", o.total),
                figure("due-deposit", "due.deposit", o.deposit),
                figure("due-balance", "due.balance", o.left_to_pay)),
            h("p", { class: "muted small" }, t("due.lines")),
            h("ul", { class: "due-lines" }, ...(o.lines || []).map((line) =>
                h("li", { testid: "due-line", class: line.article ? "" : "muted", dataset: { article: line.article || "" } },
                    h("span", { class: "name", testid: "due-line-name" }, line.name),
                    h("span", { class: "qty", testid: "due-line-qty" }, formatQty(line.qty))))),
            h("div", { class: "barcode", testid: "due-barcode" }, code128Svg(o.barcode, { title: o.barcode })),
            h("p", { class: "code", testid: "due-barcode-text" }, o.barcode),
            h("p", { class: "muted small" }, t("due.scan")));
    }
}
