// The PDA page: a floor handheld. Pairing and seller sign-in as on the till; then a
// basket of scanned codes (kept on the device, usable offline) emptied into a lane's
// open ticket exactly once, and a stock lookup.
//
// It shares the till's websocket client, helpers and sign-in screens (../till/).

import { Connection, ServerError, STATES } from "../till/protocol.js";
import { byTestId, captureWedge, h, keepFocus, saveToken, setText, show, takeToken } from "../till/dom.js";
import { Money, describeError, formatQty, parseScan } from "../till/format.js";
import { bindPairScreen, bindSignInScreen } from "../till/screens.js";
import { BasketStore } from "./basket.js";

const TOKEN_KEY = "laneserver.pda.token";
const SELLER_KEY = "laneserver.pda.seller";   // last signed-in seller: offline start
const LANE_KEY = "laneserver.pda.lane";
// Errors after which a basket may have been applied anyway: keep it, retry same id.
const UNSURE = new Set(["unavailable", "internal"]);

class PdaApp {
    constructor() {
        this.deviceKind = "pda"; // what `pair` asks a code to be made for
        this.token = null;
        this.hello = null;
        this.seller = null;
        this.resume = null; // sign_in's resume secret: in memory only
        this.money = new Money("EUR", "fr-FR");
        this.screen = null;
        this.tab = "basket";
        this.conn = null;
        this.basket = new BasketStore();
        this.sending = new Set(); // basket ids with a basket_empty in this page's connection

        this.el = {
            shop: byTestId("shop-name"),
            device: byTestId("device"),
            seller: byTestId("seller"),
            signOut: byTestId("sign-out"),
            connection: byTestId("connection-banner"),
            error: byTestId("error"),
            errorText: byTestId("error-text"),
            errorDetail: byTestId("error-detail"),
            notice: byTestId("notice"),
            basketForm: byTestId("basket-form"),
            basketCode: byTestId("basket-code"),
            basketId: byTestId("basket-id"),
            lines: byTestId("basket-lines"),
            emptyHint: byTestId("basket-empty-hint"),
            lane: byTestId("lane-select"),
            emptyButton: byTestId("empty-basket"),
            outbox: byTestId("basket-outbox"),
            done: byTestId("basket-done"),
            basketPanel: byTestId("basket-panel"),
            stockPanel: byTestId("stock-panel"),
            stockForm: byTestId("stock-form"),
            stockArticle: byTestId("stock-article"),
            stockResult: byTestId("stock-result"),
        };
        this.screens = {
            pair: byTestId("pair-screen"),
            wait: byTestId("wait-screen"),
            "sign-in": byTestId("sign-in-screen"),
            work: byTestId("work-screen"),
        };
        this.pairScreen = bindPairScreen(this);
        this.signInScreen = bindSignInScreen(this);
        this.bindWork();
        byTestId("error-close").addEventListener("click", () => this.clearMessage());
        this.el.signOut.addEventListener("click", () => this.signOut());
        this.renderBasket();
    }

    boot() {
        const { token } = takeToken(TOKEN_KEY);
        this.conn = new Connection({
            handshake: (conn) => this.handshake(conn),
            onEvent: (event) => this.onEvent(event),
            onState: (state) => this.onConnectionState(state),
        });
        try { this.seller = localStorage.getItem(SELLER_KEY) || null; } catch (_) { this.seller = null; }
        if (!token) {
            this.route();
            return;
        }
        this.token = token;
        this.showSeller();
        this.route();
        this.conn.start();
        // Baskets sealed before a reload go again, with their ids (once per page;
        // after that the connection itself re-sends what is in flight).
        for (const entry of this.basket.outbox) {
            if (!entry.error) this.sendBasket(entry);
        }
    }

    // --- connection -------------------------------------------------------------------

    async handshake(conn) {
        let reply;
        try {
            // The resume secret is in this page's memory only (see the till page).
            const fields = this.resume ? { token: this.token, resume: this.resume } : { token: this.token };
            reply = await conn.request("hello", fields, { handshake: true });
        } catch (error) {
            if (error instanceof ServerError && error.code === "unauthenticated") this.unpair(error);
            throw error;
        }
        if (reply.kind !== "pda") {
            const error = new ServerError({
                code: "forbidden",
                message: `ce jeton est celui d'un appareil « ${reply.kind} », pas d'un PDA`,
            });
            this.unpair(error);
            throw error;
        }
        this.applyHello(reply);
    }

    applyHello(reply) {
        this.hello = reply;
        const shop = reply.shop || {};
        this.money = new Money(shop.currency || "EUR", shop.locale || "fr-FR");
        setText(this.el.shop, shop.name || "laneserver");
        setText(this.el.device, "PDA");
        show(this.el.device, true);
        document.title = `PDA — ${shop.name || "laneserver"}`;
        this.setLanes(shop.lanes || []);
        this.setSeller(reply.seller || null);
        if (!reply.seller) this.resume = null;
        this.route();
    }

    onConnectionState(state) {
        const banner = this.el.connection;
        if (state === STATES.READY || state === STATES.IDLE) {
            show(banner, false);
        } else if (this.conn && this.conn.everReady) {
            setText(banner, "Connexion perdue — reconnexion…");
            show(banner, true);
        } else {
            setText(banner, state === STATES.LOST ? "Serveur injoignable — nouvel essai…" : "Connexion au serveur…");
            show(banner, true);
        }
    }

    onEvent(event) {
        if (event.type === "unaddressed_error") this.showError(new ServerError(event));
        // A PDA has no lane: no ticket or printer events are expected. (Its basket_empty
        // reply carries the lane's ticket, with its rev; the PDA does not show it, the
        // lane's tills get the ticket event.)
    }

    /** Send a request; returns the `ok` reply, or null after showing the error. */
    async act(verb, fields = {}, opts = {}) {
        if (!this.conn) return null;
        if (!opts.quiet) this.clearMessage();
        try {
            return await this.conn.request(verb, fields, { mutating: !!opts.mutating, key: opts.key });
        } catch (error) {
            if (opts.onError && opts.onError(error)) return null;
            this.handleError(error, opts.context);
            return null;
        }
    }

    handleError(error, context = {}) {
        if (error && error.code === "connection_stopped") return;
        if (error && error.code === "not_signed_in") {
            this.setSeller(null);
            this.route();
        }
        this.showError(error, context);
    }

    // --- pairing and sign-in (callbacks of the shared screens) -------------------------

    pair(token) {
        this.token = token;
        saveToken(TOKEN_KEY, token);
        this.clearMessage();
        this.hello = null;
        this.route();
        if (this.conn.state === STATES.IDLE) this.conn.start();
        else this.conn.reconnect();
        for (const entry of this.basket.outbox) {
            if (!entry.error) this.sendBasket(entry); // left waiting by an unpairing
        }
    }

    unpair(error) {
        saveToken(TOKEN_KEY, null);
        this.token = null;
        this.hello = null;
        this.setSeller(null);
        this.conn.stop(error);
        this.sending.clear();
        this.route();
        this.showError(error);
    }

    signedIn(seller, role = null, resume = null) {
        this.resume = resume;
        this.setSeller(seller);
        this.route();
    }

    async signOut() {
        const reply = await this.act("sign_out", {});
        if (reply) {
            this.resume = null;
            this.setSeller(null);
            this.route();
        }
    }

    setSeller(seller) {
        this.seller = seller;
        try {
            if (seller) localStorage.setItem(SELLER_KEY, seller);
            else localStorage.removeItem(SELLER_KEY);
        } catch (_) { /* no storage */ }
        this.showSeller();
    }

    // --- the basket -----------------------------------------------------------------

    bindWork() {
        const e = this.el;
        for (const tab of document.querySelectorAll("[data-tab]")) {
            tab.addEventListener("click", () => this.showTab(tab.dataset.tab));
        }
        const onBasket = () => this.screen === "work" && this.tab === "basket";
        const onStock = () => this.screen === "work" && this.tab === "stock";
        captureWedge({ input: e.basketCode, form: e.basketForm, active: onBasket });
        captureWedge({ input: e.stockArticle, form: e.stockForm, active: onStock });
        this.refocusBasket = keepFocus(e.basketCode, onBasket);

        e.basketForm.addEventListener("submit", (event) => {
            event.preventDefault();
            const scanned = parseScan(e.basketCode.value);
            if (scanned === null) return;
            if (scanned.qtyOnly !== undefined) {
                this.showMessage("Scannez l'article après la quantité.");
                return;
            }
            e.basketCode.value = "";
            if (scanned.badQty !== undefined) {
                this.showMessage("Quantité invalide.", scanned.badQty);
                return;
            }
            this.clearMessage();
            show(e.done, false);
            this.basket.add(scanned.code, String(scanned.qty ?? "1"));
            this.renderBasket();
        });

        e.lane.addEventListener("change", () => {
            try { localStorage.setItem(LANE_KEY, e.lane.value); } catch (_) { /* no storage */ }
        });

        e.emptyButton.addEventListener("click", () => {
            if (!this.basket.lines.length) {
                this.showMessage("Le panier est vide.");
                return;
            }
            const lane = e.lane.value;
            if (!lane) {
                this.showMessage("Choisissez une caisse.");
                return;
            }
            this.clearMessage();
            const entry = this.basket.seal(lane);
            this.renderBasket();
            this.sendBasket(entry);
        });

        e.stockForm.addEventListener("submit", (event) => {
            event.preventDefault();
            const article = e.stockArticle.value.trim();
            if (article) this.lookupStock(article);
        });
    }

    async sendBasket(entry) {
        if (this.sending.has(entry.basket)) return;
        this.sending.add(entry.basket);
        this.renderBasket();
        const lines = entry.lines.map((l) => ({ code: l.code, qty: /^\d+$/.test(l.qty) ? Number(l.qty) : l.qty }));
        let refusal = null;
        const reply = await this.act("basket_empty", { basket: entry.basket, lane: entry.lane, lines }, {
            mutating: true,
            key: entry.key,
            onError: (error) => { refusal = error; return true; },
        });
        this.sending.delete(entry.basket);
        if (reply) {
            this.basket.accepted(entry.basket);
            const n = reply.lines ?? entry.lines.length;
            setText(this.el.done, `Panier vidé dans la caisse ${reply.lane || entry.lane} (${n} ligne${n > 1 ? "s" : ""}).`);
            show(this.el.done, true);
        } else if (refusal && refusal.code === "connection_stopped") {
            // unpaired: the basket waits in the outbox for the next pairing
        } else if (refusal && UNSURE.has(refusal.code)) {
            this.basket.failed(entry.basket, describeError(refusal).text);
            this.showError(refusal);
        } else if (refusal) {
            this.basket.refused(entry.basket);
            this.handleError(refusal);
        }
        this.renderBasket();
    }

    retryBasket(entry) {
        this.basket.clearError(entry.basket);
        this.sendBasket(entry);
    }

    setLanes(lanes) {
        const select = this.el.lane;
        let wanted = select.value;
        try { wanted = wanted || localStorage.getItem(LANE_KEY) || ""; } catch (_) { /* no storage */ }
        select.replaceChildren(...lanes.map((id) => h("option", { value: id }, `Caisse ${id}`)));
        if (lanes.includes(wanted)) select.value = wanted;
    }

    renderBasket() {
        const e = this.el;
        setText(e.basketId, this.basket.id.slice(0, 8));
        e.basketId.dataset.basket = this.basket.id;
        e.lines.replaceChildren(...this.basket.lines.map((line) =>
            h("li", { testid: "basket-line", dataset: { code: line.code } },
                h("span", { class: "code", testid: "basket-line-code" }, line.code),
                h("button", { type: "button", class: "small", testid: "basket-line-minus", "aria-label": "moins un",
                    onclick: () => { this.basket.bump(line.code, "-1"); this.renderBasket(); } }, "−"),
                h("span", { class: "qty", testid: "basket-line-qty" }, formatQty(line.qty)),
                h("button", { type: "button", class: "small", testid: "basket-line-plus", "aria-label": "plus un",
                    onclick: () => { this.basket.bump(line.code, "1"); this.renderBasket(); } }, "+"),
                h("button", { type: "button", class: "small danger", testid: "basket-line-remove", "aria-label": "retirer",
                    onclick: () => { this.basket.remove(line.code); this.renderBasket(); } }, "✕"))));
        show(e.emptyHint, this.basket.lines.length === 0);
        e.outbox.replaceChildren(...this.basket.outbox.map((entry) => {
            const n = entry.lines.length;
            const label = `Panier ${entry.basket.slice(0, 8)} → caisse ${entry.lane} (${n} ligne${n > 1 ? "s" : ""})`;
            return h("li", { testid: "outbox-entry", dataset: { basket: entry.basket } },
                h("span", {}, label),
                entry.error
                    ? h("span", { class: "err" }, ` — ${entry.error} `,
                        h("button", { type: "button", class: "small", testid: "outbox-retry",
                            onclick: () => this.retryBasket(entry) }, "Réessayer"))
                    : h("span", { class: "muted" }, this.sending.has(entry.basket) ? " — envoi…" : " — en attente"));
        }));
    }

    // --- stock lookup -----------------------------------------------------------------

    async lookupStock(article) {
        const result = this.el.stockResult;
        result.replaceChildren(h("p", { class: "muted" }, "Recherche…"));
        const reply = await this.act("stock", { article });
        if (!reply) {
            result.replaceChildren();
            return;
        }
        const points = reply.points || [];
        result.replaceChildren(
            h("p", { class: "article", testid: "stock-article-id" }, `Article ${reply.article || article}`),
            reply.location ? h("p", { class: "muted", testid: "stock-location" }, `Emplacement : ${reply.location}`) : null,
            points.length
                ? h("table", {},
                    h("thead", {}, h("tr", {},
                        h("th", {}, "Dépôt"), h("th", { class: "num" }, "Réel"),
                        h("th", { class: "num" }, "Réservé"), h("th", { class: "num" }, "Disponible"))),
                    h("tbody", {}, ...points.map((p) =>
                        h("tr", { testid: "stock-row", dataset: { stockPoint: p.stock_point } },
                            h("td", {}, p.stock_point),
                            h("td", { class: "num", testid: "stock-real" }, formatQty(p.real)),
                            h("td", { class: "num", testid: "stock-reserved" }, formatQty(p.reserved)),
                            h("td", { class: "num", testid: "stock-available" }, formatQty(p.available))))))
                : h("p", { class: "muted" }, "Aucun dépôt."));
    }

    // --- drawing --------------------------------------------------------------------

    showTab(tab) {
        this.tab = tab;
        for (const button of document.querySelectorAll("[data-tab]")) {
            button.setAttribute("aria-pressed", String(button.dataset.tab === tab));
        }
        show(this.el.basketPanel, tab === "basket");
        show(this.el.stockPanel, tab === "stock");
        (tab === "basket" ? this.el.basketCode : this.el.stockArticle).focus();
    }

    route() {
        let screen;
        if (!this.token) screen = "pair";
        else if (!this.hello) screen = this.seller ? "work" : "wait"; // offline start: keep scanning
        else if (!this.seller) screen = "sign-in";
        else screen = "work";
        if (screen === this.screen) return;
        this.screen = screen;
        for (const [name, el] of Object.entries(this.screens)) show(el, name === screen);
        if (screen === "pair") this.pairScreen.focus();
        else if (screen === "sign-in") this.signInScreen.focus();
        else if (screen === "work") this.showTab(this.tab);
    }

    showSeller() {
        setText(this.el.seller, this.seller || "");
        show(this.el.seller, !!this.seller);
        show(this.el.signOut, !!this.seller && !!this.hello);
    }

    showError(error, context = {}) {
        const { code, text, detail } = describeError(error, { ...context, money: this.money });
        this.showMessage(text, detail === text ? "" : detail, code);
    }

    showMessage(text, detail = "", code = "") {
        setText(this.el.errorText, text);
        setText(this.el.errorDetail, detail);
        this.el.error.dataset.code = code;
        show(this.el.error, true);
        show(this.el.notice, false);
    }

    clearMessage() {
        show(this.el.error, false);
        show(this.el.notice, false);
    }

    notice(text) {
        setText(this.el.notice, text);
        show(this.el.notice, true);
    }
}

new PdaApp().boot();
