// Pure text helpers shared by the till and the PDA: money, quantities, typed input,
// and the server's error codes in plain words (French unless the till switched to
// English through i18n.js; the PDA stays French). No DOM here.

import { has, locale, t } from "./i18n.js";

/** "fr_FR" (shop config style) or "fr-FR" → a BCP 47 tag Intl accepts; fr-FR otherwise. */
export function bcp47(locale) {
    const tag = String(locale || "fr-FR").replace("_", "-");
    try {
        return Intl.getCanonicalLocales(tag)[0] || "fr-FR";
    } catch (_) {
        return "fr-FR";
    }
}

/** Formats money strings ("12.50") as "12,50 €" for the shop's currency and locale. */
export class Money {
    constructor(currency = "EUR", locale = "fr-FR") {
        this.currency = currency || "EUR";
        this.locale = bcp47(locale);
        try {
            this.fmt = new Intl.NumberFormat(this.locale, { style: "currency", currency: this.currency });
        } catch (_) {
            this.fmt = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR" });
        }
    }

    format(value) {
        if (value === null || value === undefined || value === "") return "";
        const n = Number(value);
        return Number.isFinite(n) ? this.fmt.format(n) : String(value);
    }
}

/** A quantity string from the server ("2", "0.456") in the page's language ("2", "0,456"). */
export function formatQty(value) {
    if (value === null || value === undefined) return "";
    const n = Number(value);
    if (!Number.isFinite(n)) return String(value);
    return qtyFormat().format(n);
}

let qtyFormatter = null;
let qtyFormatterLocale = null;
function qtyFormat() {
    const tag = locale();
    if (qtyFormatterLocale !== tag) {
        qtyFormatter = new Intl.NumberFormat(tag, { maximumFractionDigits: 3, useGrouping: false });
        qtyFormatterLocale = tag;
    }
    return qtyFormatter;
}

/** A typed decimal ("3", "0,5", "1.25") → the string the protocol takes, or null. */
export function parseDecimal(text) {
    const t = String(text).trim().replace(",", ".");
    return /^\d+(\.\d+)?$/.test(t) ? t : null;
}

/** A quantity for the wire: an integer when it is one, else a decimal string. */
export function wireQty(text) {
    const d = parseDecimal(text);
    if (d === null || Number(d) <= 0) return null;
    return /^\d+$/.test(d) ? Number(d) : d;
}

/** A typed amount ("50", "12,5", "12.50") → "12.50", or null when it is not an amount. */
export function parseAmount(text) {
    const t = String(text).trim().replace(/\s|€/g, "").replace(",", ".");
    if (!/^\d+(\.\d{1,2})?$/.test(t)) return null;
    const [units, cents = ""] = t.split(".");
    return `${String(Number(units))}.${cents.padEnd(2, "0")}`;
}

/**
 * What the cashier typed or scanned: "3760245001015", "3*3760245001015",
 * "3x3760245001015", "0,5*2058". Returns {code, qty} (qty null = one),
 * {qtyOnly: qty} when only "3*" is there, {badQty: text} for "0*…", or null
 * for nothing.
 */
export function parseScan(buffer) {
    const text = String(buffer).trim();
    if (!text) return null;
    const m = /^(\d+(?:[.,]\d+)?)\s*[*xX×]\s*(.*)$/.exec(text);
    if (m) {
        const qty = wireQty(m[1]);
        if (qty === null) return { badQty: m[1] };
        const code = m[2].trim();
        if (!code) return { qtyOnly: qty };
        return { code, qty };
    }
    return { code: text, qty: null };
}

/** How long ago an ISO time was, in the page's language ("il y a 5 min", "5 min ago"). */
export function age(iso, now = Date.now()) {
    const then = Date.parse(iso);
    if (!Number.isFinite(then)) return "";
    const s = Math.max(0, Math.round((now - then) / 1000));
    if (s < 60) return t("age.now");
    const min = Math.floor(s / 60);
    if (min < 60) return t("age.min", { n: min });
    const h = Math.floor(min / 60);
    if (h < 48) return t("age.h", { n: h });
    return t("age.d", { n: Math.floor(h / 24) });
}

// The shop's names of its payment modes (`shop.payment_mode_labels` of the hello),
// and the language they are written in.
const shopLabels = new Map();
let shopLabelsLanguage = null;

/** The hello's `payment_mode_labels` ([{mode, label}]) in the shop's language ("fr"…). */
export function setModeLabels(list, lang) {
    shopLabels.clear();
    for (const entry of Array.isArray(list) ? list : []) {
        if (entry && entry.mode && entry.label) shopLabels.set(entry.mode, String(entry.label));
    }
    shopLabelsLanguage = lang || null;
}

/**
 * Modes that cannot bring money in (a wallet top-up, a deposit, a debt paid later,
 * a payment replaced): they draw on an account or a voucher (docs/protocol.md, customers).
 */
export const MODES_NOT_MONEY_IN = new Set(["credit", "wallet", "voucher", "meal_voucher"]);

/**
 * A payment mode's name for the cashier: the shop's own label when the page speaks
 * the shop's language (or knows no name for the mode), else the page's word; a mode
 * nobody names shows as sent.
 */
export function paymentLabel(mode) {
    const key = `mode.${mode}`;
    const shop = shopLabels.get(mode);
    if (shop && (!has(key) || locale().slice(0, 2) === shopLabelsLanguage)) return shop;
    return has(key) ? t(key) : String(mode).replace(/_/g, " ");
}

/** A discount reason of the shop (`discount_reasons`) in the page's language; an id with no words: as it is. */
export function reasonLabel(reason) {
    const key = `reason.${reason}`;
    return has(key) ? t(key) : String(reason).replace(/_/g, " ");
}

/** A request's verb as the cashier's word for it ("finish" → "fin de vente"); a verb with no words: as sent. */
export function operationName(verb, context = {}) {
    const key = verb === "reprint" && context && context.kind === "gift" ? "op.reprint_gift" : `op.${verb}`;
    return has(key) ? t(key) : String(verb).replace(/_/g, " ");
}

/**
 * What a reload left unanswered and waits for a seller to sign in (protocol.js
 * `restored`: [{frame, context, seller}]), in one sentence: how many, which
 * operations, whose.
 */
export function restoredPendingText(items) {
    const ops = items.map((item) => operationName(item.frame.type, item.context)).join(", ");
    const sellers = [...new Set(items.map((item) => item.seller).filter(Boolean))].join(", ");
    return t("pending.restored", { n: items.length, ops, sellers });
}

/** An invoice's name as the server prints it (rules/invoice.py: F-000001). */
export function invoiceName(number) {
    return `F-${String(number).padStart(6, "0")}`;
}

// Verbs that take a supervisor's PIN: `forbidden` there means the device is locked out.
const SUPERVISED = new Set(["discount", "drawer_movement", "drawer_open", "balance_correct", "payment_correct",
    "sale_cancel", "debt_abandon", "pay"]);
// Verbs naming a customer: their `not_found` is the customer.
const CUSTOMER_VERBS = new Set(["customer", "customer_edit", "credit_deposit", "wallet_topup", "balance_correct", "set_customer"]);

// The verbs on finished sales: their `not_found` is the sale (or its payment).
const SALE_VERBS = new Set(["sale", "payment_correct", "sale_cancel", "pay_later", "debt_abandon"]);

// Verbs that change the lines: refused while the ticket has payments.
const LINE_VERBS = new Set(["scan", "add", "set_qty", "remove_line", "cancel_ticket", "hold"]);

/**
 * An error (ServerError, or anything thrown) → {code, text, detail}: a sentence in
 * the page's language for the code (made precise with what the page knows), and
 * the server's own message as the detail.
 * @param {object} error
 * @param {object} [context] {code: the scanned code, money: Money, verb: the request's
 *        type, ticket: the ticket the page shows, mode: a payment's mode, kind: a reprint's,
 *        pdf: a document's reprint, whose refusal points at its PDF button}
 */
export function describeError(error, context = {}) {
    const code = (error && error.code) || "internal";
    const frame = (error && error.frame) || {};
    const money = context.money;
    const ticket = context.ticket;
    const verb = context.verb;
    const amount = (value) => (money ? money.format(value) : String(value));
    let text = has(`err.${code}`) ? t(`err.${code}`) : t("err.unknown");
    if (code === "bad_request" && verb === "pay" && ticket && Number(ticket.balance) < 0 && frame.payable === undefined
        && frame.balance !== undefined) {
        text = t("err.refund_over", { balance: amount(Math.abs(Number(frame.balance)).toFixed(2)) });
    } else if (code === "unknown_code" && frame.status) {
        // an article that is not for sale (dormant, sale blocked, abandoned): which, and why
        const why = has(`status.${frame.status}`) ? t(`status.${frame.status}`) : frame.status;
        text = t("err.not_for_sale", { name: frame.name || frame.article || context.code || "", why });
    } else if (code === "confirm_required") {
        text = t("err.confirm_required", { qty: frame.qty ?? "", total: amount(frame.line_total ?? "0") });
    } else if (code === "unknown_code" && context.code) {
        text = t("err.unknown_code_x", { code: context.code });
    } else if (code === "balance_not_zero" && frame.balance !== undefined) {
        text = t("err.balance_not_zero_x", { balance: amount(frame.balance) });
    } else if (code === "bad_request" && verb === "pay" && frame.payable !== undefined) {
        text = t("err.cash_rounded", { payable: amount(frame.payable) });
    } else if (code === "bad_request" && verb === "pay" && frame.available !== undefined) {
        text = t("err.voucher_worth", { available: amount(frame.available) });
    } else if (code === "bad_request" && verb === "pay" && frame.balance !== undefined) {
        text = t("err.over_balance", { balance: amount(frame.balance) });
    } else if (code === "bad_request" && Array.isArray(frame.reasons)) {
        text = t("err.discount_reason", { reasons: frame.reasons.map(reasonLabel).join(", ") });
    } else if (code === "bad_request" && (verb === "pay_later") && frame.balance !== undefined) {
        text = t("err.pay_later_over", { balance: amount(frame.balance) });
    } else if (code === "bad_request" && frame.field) {
        const name = has(`field.${frame.field}`) ? t(`field.${frame.field}`) : frame.field;
        text = frame.field === "count" && /not .*the amount|comes to/.test(error.message || "")
            ? t("err.count_not_amount") : t("err.bad_field", { field: name });
    } else if (code === "payment_declined" && verb === "remove_payment") {
        // a card payment the terminal took: its refund there was not approved, it stays
        // unknown: the refund may have been made; no sale until the terminal says (retry)
        text = t(frame.outcome === "unknown" ? "err.refund_unknown" : "err.refund_declined");
    } else if (code === "payment_declined") {
        const outcome = has(`err.payment_declined_${frame.outcome}`) ? frame.outcome : "declined";
        text = t(`err.payment_declined_${outcome}`);
    } else if (code === "insufficient_funds" && frame.short !== undefined) {
        text = t("err.insufficient_funds_x", {
            short: amount(frame.short), available: amount(frame.available ?? "0"),
            account: context.mode ? paymentLabel(context.mode) : t("err.account"),
        });
    } else if (code === "supervisor_required" && frame.cap !== undefined) {
        text = t("err.supervisor_required_cap", { cap: frame.cap });
    } else if (frame.locked_seconds > 0) {
        // locked now (forbidden), or this wrong PIN locked it (wrong_pin, supervisor_required)
        text = t("err.pin_locked_for", { wait: waitText(frame.locked_seconds) });
    } else if (code === "conflict" && frame.expired) {
        // a quote's barcode scanned past its validity (docs/protocol.md "Documents")
        text = t("err.quote_expired", { code: context.code || "", date: frame.valid_until || "" });
    } else if (code === "conflict" && verb === "pair") {
        text = t("err.pair_kind");
    } else if ((code === "forbidden" || code === "not_signed_in") && frame.role) {
        // the roles table (docs/operations.md): the role the verb needs
        text = t("err.role_needed", { role: has(`role.${frame.role}`) ? t(`role.${frame.role}`).toLowerCase() : frame.role });
    } else if (code === "forbidden" && SUPERVISED.has(verb)) {
        text = t("err.pin_locked");
    } else if (code === "out_of_stock" && frame.available !== undefined) {
        text = t("err.out_of_stock_x", { available: frame.available, stock_point: frame.stock_point || "" });
    } else if (code === "forbidden" && verb === "sign_in") {
        text = t("err.pin_locked");
    } else if (code === "not_found") {
        if (SALE_VERBS.has(verb) && frame.payment === undefined) text = t("err.not_found_sale", { sale: context.sale ?? "" });
        else if (SALE_VERBS.has(verb)) text = t("err.not_found_sale_payment");
        else if (frame.article) text = t("err.not_found_article", { article: frame.article });
        else if (frame.reference !== undefined) text = t("err.not_found_voucher", { code: frame.reference });
        else if (frame.field === "card") text = t("err.not_found_card");
        else if (frame.field === "customer" || CUSTOMER_VERBS.has(verb)) text = t("err.not_found_customer");
        else if (frame.topup !== undefined || verb === "wallet_topup_cancel") text = t("err.not_found_topup");
        else if (frame.held !== undefined) text = t("err.not_found_held");
        else if (frame.line !== undefined) text = t("err.not_found_line");
        else if (frame.payment !== undefined) text = t("err.not_found_payment");
    } else if (code === "conflict" && frame.payable !== undefined) {
        text = Number(frame.payable) > 0 ? t("err.meal_voucher_payable", { payable: amount(frame.payable) }) : t("err.meal_voucher_none");
    } else if (code === "conflict" && verb === "pay" && frame.reference !== undefined) {
        text = t("err.voucher_unusable", { code: frame.reference });
    } else if (code === "conflict" && verb === "discount" && frame.line !== undefined) {
        text = t("err.discount_deposit");
    } else if (code === "conflict" && (verb === "set_qty" || verb === "remove_line") && frame.line !== undefined) {
        text = t("err.deposit_line");
    } else if (code === "conflict" && verb === "finish" && context.unpaid) {
        text = t("err.unpaid_customer");
    } else if (code === "conflict" && (verb === "pay_later" || verb === "debt_abandon")) {
        text = t("err.owes_nothing");
    } else if (code === "conflict" && verb === "payment_correct") {
        text = t("err.payment_correct_conflict");
    } else if (code === "conflict" && verb === "sale_cancel") {
        text = t("err.sale_cancel_conflict");
    } else if (code === "not_supported" && verb === "finish" && context.unpaid) {
        text = t("err.unpaid_off");
    } else if (code === "not_supported" && verb === "reprint") {
        // the lane has no receipt printer (the only reason reprint gives it); a gift receipt is no duplicata
        text = t("err.no_printer", { kind: context.kind, pdf: context.pdf });
    } else if (code === "insufficient_funds" && verb === "balance_correct") {
        text = t("err.correct_below_held");
    } else if (code === "conflict" && frame.field === "card") {
        text = t("err.card_taken");
    } else if (code === "conflict" && verb === "set_customer") {
        text = t("err.customer_payment");
    } else if (code === "conflict" && verb === "finish" && frame.payment !== undefined) {
        text = t("err.hold_lost");
    } else if (code === "conflict" && verb === "pay" && (context.mode === "credit" || context.mode === "wallet")) {
        text = ticket && !ticket.customer ? t("err.no_customer") : t("err.wallet_off");
    } else if (code === "conflict" && verb === "wallet_topup") {
        text = t("err.wallet_off");
    } else if (code === "conflict" && verb === "wallet_topup_cancel") {
        text = t("err.topup_cancelled");
    } else if (code === "conflict" && verb === "drawer_movement") {
        text = frame.balance !== undefined ? t("err.drawer_short", { balance: amount(frame.balance) }) : t("err.drawer_float");
    } else if (code === "conflict" && ticket) {
        const empty = !ticket.lines || ticket.lines.length === 0;
        const paid = ticket.payments && ticket.payments.length > 0;
        if (verb === "recall") text = t("err.conflict_recall");
        else if (LINE_VERBS.has(verb) && paid) text = t("err.conflict_payments");
        else if (["pay", "hold", "finish", "cancel_ticket"].includes(verb) && empty) text = t("err.conflict_empty");
        else if (verb === "pay" && Number(ticket.balance) === 0) text = t("err.conflict_paid");
    }
    if (frame.tries_left > 0 && !(frame.locked_seconds > 0)) {
        text = `${text} ${t("err.pin_tries_left", { tries: frame.tries_left })}`;
    }
    if (verb === "pay" && frame.recorded === true && frame.payment !== undefined) {
        // The card was charged, then a later step of the sale refused it: the payment is
        // on the ticket all the same, the sale not finished (docs/protocol.md, card payments).
        text = `${t("err.card_kept", { payment: frame.payment })} ${text}`;
    }
    const detail = (error && error.message) || "";
    return { code, text, detail };
}

/** A PIN lock's length as the cashier reads it: "45 s", "2 min" (rounded up). */
function waitText(seconds) {
    return seconds < 60 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}

// The end of an article's name that tells it from its neighbours: a vintage, a size
// ("… Fonbelle 2018 75 cl" → "2018 75 cl"). Shown whole on a product key, under the
// name that may be cut.
const VARIANT = /\s((?:(?:19|20)\d{2})(?:\s+\d+(?:[.,]\d+)?\s?(?:cl|ml|l|L|g|kg))?|\d+(?:[.,]\d+)?\s?(?:cl|ml|l|L|g|kg))$/;

/** `{base, variant}`: the name without its distinguishing end, and that end ("" when none). */
export function splitVariant(name) {
    const text = String(name || "");
    const m = VARIANT.exec(text);
    if (!m || m.index === 0) return { base: text, variant: "" };
    return { base: text.slice(0, m.index), variant: m[1] };
}
