// Rendering: wire objects (ticket, held tickets, articles, stock) → DOM. No requests
// are sent from here; the screens pass the actions in as callbacks. Text goes in
// through textContent only (dom.js h()).

import { h, setText, show } from "./dom.js";
import { age, formatQty, paymentLabel } from "./format.js";
import { t } from "./i18n.js";

export const EMPTY_TICKET = Object.freeze({
    seller: null, customer: null, lines: [], payments: [],
    total: "0.00", paid: "0.00", balance: "0.00", change: "0.00",
});

/**
 * The ticket's lines, drawn incrementally: a row is rebuilt only when its line (or
 * its selection, or the language) changed, so a scan on a long ticket costs one
 * new row, not the whole table.
 */
export class TicketTable {
    /**
     * @param {HTMLElement} tbody
     * @param {HTMLElement} empty the "empty ticket" paragraph
     * @param {(lineNumber: number) => void} onSelect a row was tapped
     */
    constructor(tbody, empty, onSelect) {
        this.tbody = tbody;
        this.empty = empty;
        this.rows = new Map(); // line number → {row, sig}
        this.stamp = "";       // language + money locale: a change redraws every row
        tbody.addEventListener("click", (event) => {
            const row = event.target instanceof Element ? event.target.closest("tr[data-line]") : null;
            if (row) onSelect(Number(row.dataset.line));
        });
    }

    /**
     * @param {object[]} lines the ticket's lines
     * @param {Money} money
     * @param {number|null} selected the selected line number
     * @returns {HTMLElement[]} the rows added by this call
     */
    render(lines, money, selected) {
        const stamp = `${money.locale}|${t("lang.other")}`;
        if (stamp !== this.stamp) {
            this.rows.clear();
            this.tbody.replaceChildren();
            this.stamp = stamp;
        }
        const added = [];
        const keep = new Set();
        let before = null; // rows are kept in the ticket's order
        for (let i = lines.length - 1; i >= 0; i--) {
            const line = lines[i];
            keep.add(line.line);
            const sig = `${line.article}|${line.name}|${line.qty}|${line.unit_price}|${line.discount_percent}|${line.total}|`
                + `${line.below_cost}|${line.deposit_for}|${line.coupon}|${line.coupon_left}|${line.line === selected}`;
            let entry = this.rows.get(line.line);
            if (!entry || entry.sig !== sig) {
                const row = lineRow(line, money, line.line === selected);
                if (entry) entry.row.replaceWith(row);
                else added.push(row);
                entry = { row, sig };
                this.rows.set(line.line, entry);
            }
            if (entry.row.nextSibling !== before || entry.row.parentNode !== this.tbody) {
                this.tbody.insertBefore(entry.row, before);
            }
            before = entry.row;
        }
        for (const [number, entry] of this.rows) {
            if (!keep.has(number)) {
                entry.row.remove();
                this.rows.delete(number);
            }
        }
        show(this.empty, lines.length === 0);
        return added;
    }
}

/**
 * One line of the ticket. Marks: a returned line (negative quantity), a deposit line
 * (under its article's line, `deposit_for`), a coupon line (with the coupons left), a
 * line sold below its cost (a warning the cashier sees; nothing is refused).
 */
function lineRow(line, money, selected) {
    const discount = Number(line.discount_percent);
    const returned = Number(line.qty) < 0;
    const deposit = line.deposit_for !== undefined && line.deposit_for !== null;
    const classes = [selected ? "selected" : null, returned ? "returned" : null, deposit ? "deposit" : null,
        line.coupon ? "coupon" : null, line.below_cost ? "below-cost" : null].filter(Boolean).join(" ");
    const marks = [];
    if (returned) marks.push(h("span", { class: "mark returned", testid: "line-returned" }, t("line.returned")));
    if (deposit) marks.push(h("span", { class: "mark deposit", testid: "line-deposit" }, t("line.deposit")));
    if (line.coupon) {
        marks.push(h("span", { class: "mark coupon", testid: "line-coupon" },
            line.coupon_left !== undefined ? t("line.coupon_left", { n: line.coupon_left }) : t("line.coupon")));
    }
    if (line.below_cost) {
        marks.push(h("span", { class: "mark below-cost", testid: "line-below-cost", title: t("line.below_cost_title") },
            `⚠ ${t("line.below_cost")}`));
    }
    return h("tr", {
        testid: "ticket-line", class: classes || null,
        dataset: { line: line.line, article: line.article, ...(deposit ? { depositFor: line.deposit_for } : {}) },
        "aria-selected": selected ? "true" : "false",
    },
    h("td", { class: "name" }, deposit ? h("span", { class: "under", "aria-hidden": "true" }, "↳ ") : null,
        h("span", { testid: "line-name" }, line.name), ...marks),
    h("td", { class: "num qty", testid: "line-qty" }, formatQty(line.qty)),
    h("td", { class: "num", testid: "line-unit-price" }, money.format(line.unit_price)),
    h("td", { class: "num discount", testid: "line-discount" }, discount ? `−${formatQty(line.discount_percent)} %` : ""),
    h("td", { class: "num total", testid: "line-total" }, money.format(line.total)));
}

/** Total (and excluding VAT for a business customer), paid, balance, change into the elements of `ui`. */
export function renderTotals(ui, ticket, money) {
    setText(ui.total, money.format(ticket.total));
    // A business customer's ticket: its total excluding VAT too (billed on an invoice).
    if (ui.exclVat) {
        show(ui.exclVatBox, !!ticket.excl_vat);
        setText(ui.exclVat, ticket.excl_vat ? money.format(ticket.excl_vat.total_excl_vat) : "");
    }
    setText(ui.paid, money.format(ticket.paid));
    // A negative balance (returns): what the shop still owes the customer, "to refund".
    const refund = Number(ticket.balance) < 0;
    setText(ui.balance, money.format(refund ? Math.abs(Number(ticket.balance)).toFixed(2) : ticket.balance));
    if (ui.balanceLabel) setText(ui.balanceLabel, t(refund ? "totals.refund" : "totals.balance"));
    if (ui.balanceBox) ui.balanceBox.classList.toggle("refund", refund);
    setText(ui.change, money.format(ticket.change));
}

/** The payment lines of the open ticket, each with a remove button. */
export function renderPayments(list, payments, money, remove) {
    if (!payments.length) {
        list.replaceChildren(h("li", { class: "muted none" }, t("pay.none")));
        return;
    }
    list.replaceChildren(
        ...payments.map((p) =>
            h("li", { testid: "payment", dataset: { payment: p.payment, mode: p.mode } },
                h("span", { class: "mode" }, paymentLabel(p.mode), p.reference ? h("span", { class: "ref" }, ` ${p.reference}`) : null,
                    paymentDetail(p, money)),
                h("span", { class: "num" }, money.format(p.amount)),
                h("button", {
                    type: "button", class: "small danger", testid: "remove-payment",
                    title: t("pay.remove"), "aria-label": t("pay.remove"), onclick: () => remove(p),
                }, "✕"))),
    );
}

/** A cheque's instalments, a forfeited meal voucher's excess: one small line under the payment. */
function paymentDetail(p, money) {
    if (Array.isArray(p.instalments) && p.instalments.length) {
        return h("span", { class: "detail", testid: "payment-instalments" },
            t("pay.instalment_list", { n: p.instalments.length }),
            p.instalments.map((part) => `${money.format(part.amount)} ${t("pay.due_on", { date: part.due })}`).join(" · "));
    }
    if (p.approved_by) {
        return h("span", { class: "detail", testid: "payment-approved" }, t("pay.refund_line", { who: p.approved_by }));
    }
    if (p.forfeited !== undefined) {
        return h("span", { class: "detail", testid: "payment-forfeited" },
            t("pay.forfeit_line", { tendered: money.format(p.tendered), forfeited: money.format(p.forfeited) }));
    }
    return null;
}

/**
 * Held tickets: seller, total, number of lines, age; a tap anywhere on one recalls it.
 * @param {HTMLElement} list
 * @param {Array<object>} tickets from the `held` reply
 * @param {Money} money
 * @param {(held: object) => void} recall
 */
export function renderHeld(list, tickets, money, recall) {
    if (!tickets.length) {
        list.replaceChildren(h("li", { class: "muted none", testid: "held-none" }, t("held.none")));
        return;
    }
    list.replaceChildren(
        ...tickets.map((ticket) => {
            const n = Array.isArray(ticket.lines) ? ticket.lines.length : Number(ticket.lines) || 0;
            const first = Array.isArray(ticket.lines) && ticket.lines.length ? ticket.lines[0].name : "";
            return h("li", { testid: "held-ticket", dataset: { held: ticket.held } },
                h("button", { type: "button", class: "held-row", testid: "recall", onclick: () => recall(ticket) },
                    h("span", { class: "who", testid: "held-seller" }, ticket.seller || "—"),
                    h("span", { class: "num total", testid: "held-total" }, money.format(ticket.total)),
                    h("span", { class: "muted lines" }, t("held.lines", { n }), first ? ` · ${first}` : ""),
                    h("span", { class: "muted age", testid: "held-age" }, ticket.held_at ? age(ticket.held_at) : ""),
                    h("span", { class: "go" }, t("held.recall"))));
        }),
    );
}

/**
 * The articles sharing an ambiguous code, one button each.
 * @param {HTMLElement} box
 * @param {Array<{article: string, name: string}>} candidates
 * @param {(candidate: object) => void} choose
 */
export function renderCandidates(box, candidates, choose) {
    box.replaceChildren(
        h("p", {}, t("candidates.title")),
        ...candidates.map((c) =>
            h("button", {
                type: "button", class: "candidate", testid: "candidate", dataset: { article: c.article },
                onclick: () => choose(c),
            }, c.name, h("span", { class: "muted" }, ` (${c.article})`))),
    );
    show(box, candidates.length > 0);
}

/** The tabs of the product-key pages. */
export function renderKeyPages(nav, pages, active, choose) {
    nav.replaceChildren(
        ...pages.map((page, i) =>
            h("button", {
                type: "button", testid: "key-page", class: i === active ? "active" : null,
                "aria-pressed": i === active ? "true" : "false", dataset: { page: i }, onclick: () => choose(i),
            }, page.name)),
    );
    show(nav, pages.length > 1);
}

/** The keys of one page: an article's label and price, or a function's or payment
 *  mode's label (keys a manager saved, `keyboard_save`); the screen handles taps and
 *  long presses. */
export function renderKeys(grid, page, money) {
    if (!page) {
        grid.replaceChildren(h("p", { class: "muted none" }, t("keys.none")));
        return;
    }
    grid.replaceChildren(
        ...page.keys.map((key) => {
            if (key.function) {
                return h("button", { type: "button", class: "product-key function-key", testid: "function-key",
                    dataset: { function: key.function } }, h("span", { class: "label" }, key.label));
            }
            if (key.mode) {
                return h("button", { type: "button", class: "product-key mode-key", testid: "mode-key",
                    dataset: { mode: key.mode } }, h("span", { class: "label" }, key.label));
            }
            return h("button", {
                type: "button", class: "product-key", testid: "product-key",
                dataset: { article: key.article }, title: `${key.label} — ${t("keys.hold_hint")}`,
            },
            h("span", { class: "label" }, key.label),
            h("span", { class: "price" }, money.format(key.price)));
        }),
    );
}

/** Search results: name, id, price; a tap chooses one. */
export function renderSearch(list, articles, money, choose) {
    if (!articles.length) {
        list.replaceChildren(h("li", { class: "muted none", testid: "search-none" }, t("search.none")));
        return;
    }
    list.replaceChildren(
        ...articles.map((a) =>
            h("li", {},
                h("button", { type: "button", class: "search-result", testid: "search-result", dataset: { article: a.article }, onclick: () => choose(a) },
                    h("span", { class: "name" }, a.name),
                    h("span", { class: "muted id" }, a.article),
                    h("span", { class: "num price" }, money.format(a.price))))),
    );
}

/**
 * An article's price and its stock per stock point (price check, long press).
 * @param {object} ui {title, name, price, codes, points (tbody), none}
 * @param {object|null} article ArticleView (null when only the stock is known)
 * @param {string} fallbackName
 * @param {Array<object>} points
 */
export function renderInfo(ui, article, fallbackName, points, money, location = "") {
    setText(ui.name, article ? article.name : fallbackName);
    // The shelf location (catalog `location`): the price check's article, or `stock`'s reply.
    const where = (article && article.location) || location || "";
    setText(ui.location, where ? t("info.location", { location: where }) : "");
    show(ui.location, !!where);
    setText(ui.price, article ? money.format(article.price) : "");
    show(ui.price, !!article);
    const codes = article && Array.isArray(article.barcodes) ? article.barcodes : [];
    setText(ui.codes, article ? [article.article, ...codes].join(" · ") : fallbackName);
    ui.points.replaceChildren(
        ...points.map((p) =>
            h("tr", { testid: "stock-row", dataset: { point: p.stock_point } },
                h("td", {}, p.stock_point),
                h("td", { class: "num" }, formatQty(p.real)),
                h("td", { class: "num" }, formatQty(p.reserved)),
                h("td", { class: "num available", testid: "stock-available" }, formatQty(p.available)))),
    );
    show(ui.none, points.length === 0);
}
