// Rendering: wire objects (ticket, held tickets, candidates) → DOM. No requests are
// sent from here; the screens pass the actions in as callbacks.

import { h, setText, show } from "./dom.js";
import { age, formatQty, paymentLabel } from "./format.js";

/**
 * The open ticket: lines, totals and payments.
 * @param {object} ui elements: lines (tbody), total, paid, balance, change, payments, empty
 * @param {object|null} ticket the protocol's ticket object
 * @param {Money} money
 * @param {object} actions {removeLine(line), setQty(line), removePayment(payment)}
 */
export function renderTicket(ui, ticket, money, actions) {
    const t = ticket || { lines: [], payments: [], total: "0.00", paid: "0.00", balance: "0.00", change: "0.00" };
    ui.lines.replaceChildren(
        ...t.lines.map((line) =>
            h("tr", { testid: "ticket-line", dataset: { line: line.line, article: line.article } },
                h("td", { class: "name", testid: "line-name" }, line.name,
                    Number(line.discount_percent) ? h("span", { class: "discount" }, ` −${formatQty(line.discount_percent)} %`) : null),
                h("td", { class: "num", testid: "line-qty" }, formatQty(line.qty)),
                h("td", { class: "num", testid: "line-unit-price" }, money.format(line.unit_price)),
                h("td", { class: "num", testid: "line-total" }, money.format(line.total)),
                h("td", { class: "actions" },
                    h("button", {
                        type: "button", class: "small", testid: "set-qty", title: "Modifier la quantité",
                        onclick: () => actions.setQty(line),
                    }, "Qté"),
                    h("button", {
                        type: "button", class: "small danger", testid: "remove-line",
                        title: "Supprimer la ligne", "aria-label": `Supprimer ${line.name}`,
                        onclick: () => actions.removeLine(line),
                    }, "✕")),
            )),
    );
    show(ui.empty, t.lines.length === 0);
    setText(ui.total, money.format(t.total));
    setText(ui.paid, money.format(t.paid));
    setText(ui.balance, money.format(t.balance));
    setText(ui.change, money.format(t.change));
    ui.payments.replaceChildren(
        ...t.payments.map((p) =>
            h("li", { testid: "payment", dataset: { payment: p.payment, mode: p.mode } },
                h("span", { class: "mode" }, paymentLabel(p.mode)),
                p.reference ? h("span", { class: "ref" }, ` ${p.reference}`) : null,
                h("span", { class: "num" }, money.format(p.amount)),
                h("button", {
                    type: "button", class: "small danger", testid: "remove-payment",
                    title: "Retirer ce paiement", onclick: () => actions.removePayment(p),
                }, "✕"))),
    );
    show(ui.paymentsBox, t.payments.length > 0);
}

/**
 * Held tickets: seller, total, number of lines, age, and a "Reprendre" button each.
 * @param {HTMLElement} list
 * @param {Array<object>} tickets from the `held` reply
 * @param {Money} money
 * @param {(held: object) => void} recall
 */
export function renderHeld(list, tickets, money, recall) {
    if (!tickets.length) {
        list.replaceChildren(h("li", { class: "muted" }, "Aucun ticket en attente."));
        return;
    }
    list.replaceChildren(
        ...tickets.map((t) => {
            const n = Array.isArray(t.lines) ? t.lines.length : Number(t.lines) || 0;
            return h("li", { testid: "held-ticket", dataset: { held: t.held } },
                h("span", { class: "who" }, t.seller || "—"),
                h("span", { class: "num" }, money.format(t.total)),
                h("span", { class: "muted" }, `${n} ligne${n > 1 ? "s" : ""}`),
                h("span", { class: "muted" }, t.held_at ? age(t.held_at) : ""),
                h("button", { type: "button", testid: "recall", onclick: () => recall(t) }, "Reprendre"));
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
        h("p", {}, "Plusieurs articles portent ce code : lequel ?"),
        ...candidates.map((c) =>
            h("button", {
                type: "button", class: "candidate", testid: "candidate", dataset: { article: c.article },
                onclick: () => choose(c),
            }, c.name, h("span", { class: "muted" }, ` (${c.article})`))),
    );
    show(box, candidates.length > 0);
}
