// Customers on the till: find one (name, card, id; a scanned card finds it too),
// create one, put it on the ticket or take it off, and see their money: credit on
// account, wallet, vouchers not used yet, last purchases. Money comes in here: a
// wallet top-up or a deposit on account, in one of the lane's modes that can bring
// money in; a top-up made on this till can be cancelled from the same card.
//
// The card also says what the customer owes (sales finished unpaid: `owes`, with the
// way to the unpaid list), the coupons left of their subscriptions, and lets a
// supervisor correct a balance (`balance_correct`: account, signed amount, reason,
// the supervisor's PIN asked first).
//
// The ticket's customer (ticket.customer, an id) is shown under the ticket with
// its name and balances; the payment panel asks this module for them.
//
// With a head office, the balances are the chain's (`balance_source`: "head_office"),
// or, head office not answering, the last it said (`head_office_cached`, as of
// `balance_at`): a note under the balances says which ("hors ligne — au …").

import { byTestId, h, setText, show } from "./dom.js";
import { MODES_NOT_MONEY_IN, age, paymentLabel } from "./format.js";
import { locale, t } from "./i18n.js";
import { Overlay } from "./panels.js";

export function bindCustomerPanel(app) {
    const overlay = new Overlay("customer-panel", { onClose: () => closed() });
    const ui = {
        searchForm: byTestId("customer-search-form"),
        search: byTestId("customer-search-input"),
        results: byTestId("customer-results"),
        createForm: byTestId("customer-create-form"),
        name: byTestId("customer-name-input"),
        card: byTestId("customer-card-input"),
        contact: byTestId("customer-contact-input"),
        walletOn: byTestId("customer-wallet-input"),
        business: byTestId("customer-business-input"),
        detail: byTestId("customer-detail"),
        shownName: byTestId("customer-name"),
        shownId: byTestId("customer-id"),
        select: byTestId("customer-select"),
        unselect: byTestId("customer-unselect"),
        credit: byTestId("customer-credit"),
        creditAvailable: byTestId("customer-credit-available"),
        wallet: byTestId("customer-wallet"),
        walletAvailable: byTestId("customer-wallet-available"),
        moneyForm: byTestId("money-form"),
        moneyAmount: byTestId("money-amount"),
        moneyModes: byTestId("money-modes"),
        moneyOnTicket: byTestId("money-on-ticket"),
        moneyWallet: byTestId("money-wallet"),
        moneyCredit: byTestId("money-credit"),
        walletOff: byTestId("money-wallet-off"),
        topups: byTestId("customer-topups"),
        vouchers: byTestId("customer-vouchers"),
        history: byTestId("customer-history"),
        owesBox: byTestId("customer-owes-box"),
        owes: byTestId("customer-owes"),
        coupons: byTestId("customer-coupons"),
        couponsTitle: byTestId("customer-coupons-title"),
        correctForm: byTestId("balance-correct-form"),
        correctAmount: byTestId("correct-balance-amount"),
        correctReason: byTestId("correct-balance-reason"),
        strip: byTestId("ticket-customer"),
        stripName: byTestId("ticket-customer-name"),
        stripMoney: byTestId("ticket-customer-money"),
    };
    // Where the balances come from (head office, or its last figure): under the accounts.
    const balanceSource = h("p", { class: "muted balance-source", testid: "customer-balance-source", hidden: true });
    ui.credit.closest("dl").after(balanceSource);
    const cache = new Map();      // id → the last customer object the server sent
    const topups = new Map();     // id → [{topup, amount, mode, cancelled}] made on this till
    let shown = null;             // the customer on the card
    let account = "wallet";       // where the money form puts money
    let offer = null;             // {resolve}: a top-up offered by the payment panel
    let searchTimer = null;
    let asked = 0;
    let ticketCustomer = null;    // the id drawn in the strip
    let correctAccount = "credit"; // the account a balance correction changes

    // --- finding and creating -------------------------------------------------------

    async function search(text) {
        const mine = ++asked;
        const reply = await app.act("customer_search", { text, limit: 20 }, { quiet: true });
        if (!reply || mine !== asked) return;
        drawResults(reply.customers || []);
    }

    function drawResults(list) {
        if (!list.length) {
            ui.results.replaceChildren(h("li", { class: "muted none", testid: "customer-none" }, t("customer.none")));
            return;
        }
        ui.results.replaceChildren(...list.map((c) =>
            h("li", {}, h("button", {
                type: "button", class: "customer-result", testid: "customer-result", dataset: { customer: c.customer },
                onclick: () => showCustomer(c.customer),
            }, h("span", { class: "name" }, c.name), h("span", { class: "muted" }, c.card || c.customer)))));
    }

    ui.search.addEventListener("input", () => {
        clearTimeout(searchTimer);
        const text = ui.search.value.trim();
        if (!text) {
            asked++;
            ui.results.replaceChildren();
            return;
        }
        searchTimer = setTimeout(() => search(text), 150);
    });

    ui.searchForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const text = ui.search.value.trim();
        if (!text) return;
        clearTimeout(searchTimer);
        const mine = ++asked;
        const reply = await app.act("customer_search", { text, limit: 20 }, { quiet: true });
        if (!reply || mine !== asked) return;
        const list = reply.customers || [];
        drawResults(list);
        // An exact id or card (a scanned card) comes first: show it at once.
        if (list.length && (list[0].customer === text || list[0].card === text)) showCustomer(list[0].customer);
    });

    byTestId("customer-new").addEventListener("click", () => {
        // The shop takes the wallet for every customer ([shop] wallet): nothing to enable.
        const shopWallet = !!(app.hello && app.hello.shop && app.hello.shop.wallet);
        show(ui.walletOn.closest("label"), !shopWallet);
        show(ui.createForm, true);
        ui.name.value = ui.search.value.trim() && !/^\d+$/.test(ui.search.value.trim()) ? ui.search.value.trim() : "";
        ui.card.value = /^\d{6,}$/.test(ui.search.value.trim()) ? ui.search.value.trim() : "";
        ui.name.focus();
    });

    ui.createForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const name = ui.name.value.trim();
        if (!name) {
            app.showMessage(t("customer.name_needed"), "", "bad_request");
            ui.name.focus();
            return;
        }
        const fields = { name, wallet: ui.walletOn.checked, business: ui.business.checked };
        if (ui.card.value.trim()) fields.card = ui.card.value.trim();
        if (ui.contact.value.trim()) fields.contact = ui.contact.value.trim();
        const reply = await app.act("customer_create", fields, { mutating: true, context: { field: "card" } });
        if (!reply) return;
        for (const input of [ui.name, ui.card, ui.contact]) input.value = "";
        ui.walletOn.checked = false;
        ui.business.checked = false;
        show(ui.createForm, false);
        app.notice(t("customer.created", { name, id: reply.customer }));
        await select(reply.customer);
        await showCustomer(reply.customer);
    });

    // --- one customer -----------------------------------------------------------------

    async function fetchCustomer(id) {
        const reply = await app.act("customer", { customer: id }, { quiet: true });
        if (!reply) return null;
        remember(reply.customer);
        return reply.customer;
    }

    function remember(customer) {
        if (!customer || !customer.customer) return;
        cache.set(customer.customer, customer);
        if (shown && shown.customer === customer.customer) {
            shown = customer;
            drawCard();
        }
        drawStrip();
        app.pay.redrawCustomer?.();
    }

    async function showCustomer(id) {
        const c = await fetchCustomer(id);
        if (!c) return;
        shown = c;
        if (!c.wallet_enabled && account === "wallet" && !offer) account = "credit";
        drawCard();
        ui.moneyAmount.focus();
    }

    async function select(id) {
        const reply = await app.act("set_customer", { customer: id }, { mutating: true });
        if (reply) app.notice(t("customer.selected", { name: nameOf(id) }));
        drawCard();
        return !!reply;
    }

    async function unselect() {
        const reply = await app.act("set_customer", { customer: null }, { mutating: true });
        if (reply) app.notice(t("customer.unselected"));
        drawCard();
    }

    ui.select.addEventListener("click", () => shown && select(shown.customer));
    ui.unselect.addEventListener("click", () => unselect());
    byTestId("ticket-customer-clear").addEventListener("click", () => unselect());
    byTestId("ticket-customer-show").addEventListener("click", () => {
        if (app.ticket && app.ticket.customer) openOn(app.ticket.customer);
    });
    byTestId("customer-wallet-enable").addEventListener("click", async () => {
        if (!shown) return;
        const reply = await app.act("customer_edit", { customer: shown.customer, wallet: true }, { mutating: true });
        if (reply) remember(reply.customer);
    });

    // --- money in ----------------------------------------------------------------------

    for (const button of [ui.moneyWallet, ui.moneyCredit]) {
        button.addEventListener("click", () => {
            account = button.dataset.account;
            drawCard();
            ui.moneyAmount.focus();
        });
    }

    ui.moneyModes.addEventListener("click", (event) => {
        const button = event.target instanceof Element ? event.target.closest("[data-mode]") : null;
        if (button) moneyIn(button.dataset.mode);
    });

    let moving = false;           // a money-in request in flight: one at a time

    /**
     * The amount typed in the money form sent with `verb` (`fieldsFor(amount)`: the
     * request's fields), one request at a time. Returns {reply, value}, or null
     * (nothing shown, one in flight, a bad amount said, or the request refused).
     */
    async function sendMoney(verb, fieldsFor) {
        if (!shown || moving) return null;
        const value = app.typedAmount(ui.moneyAmount);
        if (value === null) return null;
        moving = true;
        let reply;
        try {
            reply = await app.act(verb, fieldsFor(value), { mutating: true });
        } finally {
            moving = false;
        }
        return reply ? { reply, value } : null;
    }

    // A wallet top-up as a line of the open ticket (`topup_line`): paid with the
    // ticket's payments, credited when the sale is finished.
    ui.moneyOnTicket.addEventListener("click", async () => {
        const sent = await sendMoney("topup_line", (amount) => ({ amount }));
        if (!sent) return;
        ui.moneyAmount.value = "";
        app.notice(t("customer.topup_added", { amount: app.money.format(sent.value) }));
    });

    ui.moneyForm.addEventListener("submit", (event) => {
        event.preventDefault();
        moneyIn("cash"); // Enter: in cash
    });

    async function moneyIn(mode) {
        const id = shown && shown.customer;
        const verb = account === "wallet" ? "wallet_topup" : "credit_deposit";
        const sent = await sendMoney(verb, (amount) => ({ customer: id, amount, mode }));
        if (!sent) return;
        const { reply, value } = sent;
        if (reply.topup !== undefined) {
            const list = topups.get(id) || [];
            list.unshift({ topup: reply.topup, amount: value, mode, cancelled: false });
            topups.set(id, list);
        }
        ui.moneyAmount.value = "";
        remember(reply.customer);
        app.notice(t(account === "wallet" ? "customer.topped_up" : "customer.deposited",
            { amount: app.money.format(value), mode: paymentLabel(mode) }));
        if (offer) {
            const done = offer;
            offer = null;
            overlay.close();
            done.resolve(true);
        }
    }

    async function cancelTopup(id, entry) {
        const yes = await app.confirm(
            t("customer.topup_cancel_question", { amount: app.money.format(entry.amount), mode: paymentLabel(entry.mode) }),
            t("customer.topup_cancel_yes"));
        if (!yes) return;
        const reply = await app.act("wallet_topup_cancel", { topup: entry.topup }, { mutating: true });
        if (!reply) return;
        entry.cancelled = true;
        remember(reply.customer);
        app.notice(t("customer.topup_cancelled", { amount: app.money.format(entry.amount), mode: paymentLabel(entry.mode) }));
    }

    // --- balance correction (a supervisor) ----------------------------------------------

    ui.correctForm.addEventListener("click", (event) => {
        const button = event.target instanceof Element ? event.target.closest("[data-caccount]") : null;
        if (!button) return;
        correctAccount = button.dataset.caccount;
        drawCard();
        ui.correctAmount.focus();
    });

    let correcting = false;

    ui.correctForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (!shown || correcting) return;
        const amount = app.typedAmount(ui.correctAmount, { allowNegative: true });
        if (amount === null) return;
        const minus = amount.startsWith("-");
        const value = minus ? amount.slice(1) : amount;
        const reason = ui.correctReason.value.trim();
        if (!reason) {
            app.showMessage(t("sales.reason_needed"), "", "bad_request");
            ui.correctReason.focus();
            return;
        }
        const words = { amount: (minus ? "−" : "+") + app.money.format(value), account: t(`customer.${correctAccount}`), name: shown.name };
        correcting = true;
        let reply;
        try {
            reply = await app.approved("balance_correct", { customer: shown.customer, account: correctAccount, amount, reason },
                { mutating: true }, { askFirst: true, why: t("sup.why_correct_balance", words) });
        } finally {
            correcting = false;
        }
        if (!reply) return;
        ui.correctAmount.value = "";
        ui.correctReason.value = "";
        remember(reply.customer);
        app.notice(t("customer.corrected", words));
    });

    byTestId("customer-unpaid").addEventListener("click", () => {
        if (shown) app.sales.open("unpaid", { customer: shown.customer });
    });

    // --- drawing -----------------------------------------------------------------------

    function drawCard() {
        show(ui.detail, !!shown);
        if (!shown) return;
        const c = shown;
        const onTicket = !!(app.ticket && app.ticket.customer === c.customer);
        setText(ui.shownName, c.name);
        setText(ui.shownId, [c.customer, c.card, c.business ? t("customer.business") : null, c.contact].filter(Boolean).join(" · "));
        show(ui.select, !onTicket);
        show(ui.unselect, onTicket);
        setText(ui.credit, app.money.format(c.credit));
        setText(ui.creditAvailable, t("customer.available", { amount: app.money.format(c.credit_available) }));
        setText(ui.wallet, c.wallet_enabled ? app.money.format(c.wallet) : t("customer.wallet_disabled"));
        setText(ui.walletAvailable, c.wallet_enabled ? t("customer.available", { amount: app.money.format(c.wallet_available) }) : "");
        drawBalanceSource(c);
        if (account === "wallet" && !c.wallet_enabled && !offer) account = "credit";
        ui.moneyWallet.setAttribute("aria-pressed", account === "wallet" ? "true" : "false");
        ui.moneyCredit.setAttribute("aria-pressed", account === "credit" ? "true" : "false");
        show(ui.walletOff, account === "wallet" && !c.wallet_enabled);
        show(ui.moneyOnTicket, account === "wallet" && c.wallet_enabled && onTicket);
        const modes = app.pay.modes.filter((m) => !MODES_NOT_MONEY_IN.has(m));
        const drawnModes = modes.join(",") + "|" + t("lang.other");
        if (ui.moneyModes.dataset.drawn !== drawnModes) {
            ui.moneyModes.dataset.drawn = drawnModes;
            ui.moneyModes.replaceChildren(...modes.map((mode) =>
                h("button", { type: "button", class: `mode-${mode}`, testid: `money-mode-${mode}`, dataset: { mode } }, paymentLabel(mode))));
        }
        const mine = (topups.get(c.customer) || []);
        ui.topups.replaceChildren(...mine.map((entry) =>
            h("li", { testid: "customer-topup", dataset: { topup: entry.topup } },
                h("span", {}, t("customer.topup_line", { topup: entry.topup, amount: app.money.format(entry.amount), mode: paymentLabel(entry.mode) })),
                entry.cancelled
                    ? h("span", { class: "muted" }, t("customer.topup_was_cancelled"))
                    : h("button", { type: "button", class: "small danger", testid: "topup-cancel", onclick: () => cancelTopup(c.customer, entry) },
                        t("customer.topup_cancel")))));
        const owes = Number(c.owes || 0);
        show(ui.owesBox, owes > 0);
        setText(ui.owes, app.money.format(c.owes || "0.00"));
        const coupons = c.coupons || [];
        show(ui.couponsTitle, coupons.length > 0);
        ui.coupons.replaceChildren(...coupons.map((k) =>
            h("li", { testid: "customer-coupon", dataset: { article: k.article, left: k.left } },
                h("span", {}, k.name || k.article),
                h("strong", { class: "num" }, t("customer.coupons_left", { n: k.left })),
                h("span", { class: "muted" }, [
                    k.held ? t("customer.coupons_held", { n: k.held }) : null,
                    k.valid_until ? t("customer.valid_until", { date: k.valid_until }) : null,
                    k.expired ? t("customer.coupons_expired", { n: k.expired }) : null,
                ].filter(Boolean).join(" · ")))));
        if (correctAccount === "wallet" && !c.wallet_enabled) correctAccount = "credit";
        byTestId("correct-credit").setAttribute("aria-pressed", correctAccount === "credit" ? "true" : "false");
        const walletButton = byTestId("correct-wallet");
        walletButton.setAttribute("aria-pressed", correctAccount === "wallet" ? "true" : "false");
        walletButton.disabled = !c.wallet_enabled;
        const vouchers = c.vouchers || [];
        ui.vouchers.replaceChildren(...(vouchers.length ? vouchers.map((v) =>
            h("li", { testid: "customer-voucher", dataset: { code: v.code } },
                h("span", { class: "code" }, v.code),
                h("span", { class: "num" }, app.money.format(v.amount)),
                h("span", { class: "muted" }, t("customer.valid_until", { date: v.valid_until }), v.status !== "valid" ? ` · ${t(`voucher.${v.status}`)}` : "")))
            : [h("li", { class: "muted" }, t("customer.no_vouchers"))]));
        const history = c.history || [];
        ui.history.replaceChildren(...(history.length ? history.map((sale) =>
            h("li", { testid: "customer-sale" },
                h("span", {}, t("sale.number", { number: sale.number })),
                h("span", { class: "muted" }, age(sale.at)),
                h("span", { class: "num" }, app.money.format(sale.total))))
            : [h("li", { class: "muted" }, t("customer.no_history"))]));
    }

    /** The note saying where the balances come from (nothing without a head office). */
    function drawBalanceSource(c) {
        const source = c.balance_source;
        show(balanceSource, source === "head_office" || source === "head_office_cached");
        if (source === "head_office") setText(balanceSource, t("customer.balance_head_office"));
        else if (source === "head_office_cached") setText(balanceSource, t("customer.balance_cached", { date: asOf(c.balance_at) }));
    }

    /** An ISO time as the till's locale writes a date and time (the text itself if unreadable). */
    function asOf(iso) {
        const when = new Date(iso);
        if (Number.isNaN(when.getTime())) return String(iso || "");
        return when.toLocaleString(locale(), { dateStyle: "short", timeStyle: "short" });
    }

    function drawStrip() {
        const id = app.ticket && app.ticket.customer;
        show(ui.strip, !!id);
        if (!id) return;
        const c = cache.get(id);
        setText(ui.stripName, t("customer.on_ticket", { name: nameOf(id) }));
        const money = [];
        if (c) {
            if (Number(c.owes || 0) > 0) money.push(t("customer.strip_owes", { amount: app.money.format(c.owes) }));
            money.push(t("customer.strip_credit", { amount: app.money.format(c.credit_available) }));
            if (c.wallet_enabled) money.push(t("customer.strip_wallet", { amount: app.money.format(c.wallet_available) }));
            if (c.balance_source === "head_office_cached") money.push(t("customer.strip_offline"));
        }
        setText(ui.stripMoney, money.join(" · "));
    }

    /** The customer's name when known (fetched), else the id itself. */
    function nameOf(id) {
        const c = cache.get(id);
        return c ? c.name : id;
    }

    function openOn(id) {
        app.closePanels();
        overlay.open();
        show(ui.createForm, false);
        ui.search.value = "";
        ui.results.replaceChildren();
        if (id) showCustomer(id);
        else {
            shown = null;
            drawCard();
            ui.search.focus();
        }
    }

    function closed() {
        if (offer) {
            const done = offer;
            offer = null;
            done.resolve(false);
        }
        app.refocus();
    }

    byTestId("customer-open").addEventListener("click", () => openOn(app.ticket && app.ticket.customer));
    byTestId("customer-close").addEventListener("click", () => overlay.close());

    return {
        overlay,
        open() { openOn(app.ticket && app.ticket.customer); },
        known(id) { return cache.get(id) || null; },
        nameOf,
        /** The ticket changed: a new customer on it is fetched (its name and money). */
        onTicket(ticket) {
            const id = ticket && ticket.customer;
            if (id !== ticketCustomer) {
                ticketCustomer = id || null;
                if (id) fetchCustomer(id);
            }
            drawStrip();
            if (overlay.isOpen) drawCard();
        },
        refreshTicketCustomer() {
            const id = app.ticket && app.ticket.customer;
            if (id) fetchCustomer(id);
        },
        /** A sale ended: its customer's balances and history changed (its vouchers are in the last-sale box). */
        saleFinished() {
            if (ticketCustomer) fetchCustomer(ticketCustomer);
        },
        /**
         * The payment panel offers money for `short`: the customer's card opens on
         * the right account with the amount typed; resolves true once it came in.
         */
        topUp(id, mode, short) {
            openOn(id);
            account = mode === "wallet" ? "wallet" : "credit";
            ui.moneyAmount.value = String(short).replace(".", app.money.locale.startsWith("fr") ? "," : ".");
            return new Promise((resolve) => { offer = { resolve }; });
        },
        redraw() {
            drawStrip();
            if (overlay.isOpen) drawCard();
        },
    };
}
