// The web till: one page per checkout lane.
//
// The server is the source of truth. This page holds only what it needs to draw:
// the hello reply (device, lane, shop), the signed-in seller and the last ticket the
// server sent. After every (re)connection it says hello, lets the connection re-send
// what was in flight (same idempotency keys), then asks for the ticket again.
//
// Screens: "pair" (no token) → "wait" (hello not answered yet) → "sign-in" (no
// seller) → "sell".

import { Connection, ServerError, STATES } from "./protocol.js";
import { byTestId, setText, show, takeToken, saveToken } from "./dom.js";
import { Money, describeError } from "./format.js";
import { bindPairScreen, bindSignInScreen, bindSellScreen } from "./screens.js";

const TOKEN_KEY = "laneserver.token";
const PENDING_KEY = "laneserver.till.pending";

class TillApp {
    constructor() {
        this.token = null;
        this.hello = null;            // the last hello reply
        this.seller = null;
        this.role = null;
        this.ticket = null;
        this.ticketEvents = 0;        // counts ticket events, to tell stale reply tickets
        this.money = new Money("EUR", "fr-FR");
        this.screen = null;
        this.conn = null;

        this.el = {
            shop: byTestId("shop-name"),
            lane: byTestId("lane"),
            seller: byTestId("seller"),
            signOut: byTestId("sign-out"),
            connection: byTestId("connection-banner"),
            printer: byTestId("printer-banner"),
            error: byTestId("error"),
            errorText: byTestId("error-text"),
            errorDetail: byTestId("error-detail"),
            notice: byTestId("notice"),
        };
        this.screens = {
            pair: byTestId("pair-screen"),
            wait: byTestId("wait-screen"),
            "sign-in": byTestId("sign-in-screen"),
            sell: byTestId("sell-screen"),
        };
        this.pairScreen = bindPairScreen(this);
        this.signInScreen = bindSignInScreen(this);
        this.sellScreen = bindSellScreen(this);

        byTestId("error-close").addEventListener("click", () => this.clearMessage());
        this.el.signOut.addEventListener("click", () => this.signOut());
        this.sellScreen.renderTicket(null);
    }

    boot() {
        const { token } = takeToken(TOKEN_KEY);
        this.conn = new Connection({
            handshake: (conn) => this.handshake(conn),
            onEvent: (event) => this.onEvent(event),
            onState: (state, info) => this.onConnectionState(state, info),
            onUnclaimed: (reply, request) => this.onUnclaimed(reply, request),
            persistKey: PENDING_KEY,
        });
        if (token) {
            this.token = token;
            this.route();
            this.conn.start();
        } else {
            this.conn.dropRestored();
            this.route();
        }
    }

    // --- connection -------------------------------------------------------------------

    async handshake(conn) {
        let reply;
        try {
            reply = await conn.request("hello", { token: this.token }, { handshake: true });
        } catch (error) {
            if (error instanceof ServerError && error.code === "unauthenticated") {
                this.unpair(error);
            }
            throw error;
        }
        if (reply.kind !== "till") {
            const error = new ServerError({
                code: "forbidden",
                message: `ce jeton est celui d'un appareil « ${reply.kind} », pas d'une caisse`,
            });
            this.unpair(error);
            throw error;
        }
        this.applyHello(reply);
    }

    onConnectionState(state, info) {
        const banner = this.el.connection;
        if (state === STATES.READY || state === STATES.IDLE) {
            show(banner, false);
        } else if (this.conn && this.conn.everReady) {
            const waiting = this.conn.inFlight;
            setText(banner, "Connexion perdue — reconnexion…" +
                (waiting ? ` (${waiting} opération${waiting > 1 ? "s" : ""} en attente d'envoi)` : ""));
            show(banner, true);
        } else {
            setText(banner, state === STATES.LOST ? "Serveur injoignable — nouvel essai…" : "Connexion au serveur…");
            show(banner, true);
        }
        if (state === STATES.READY) this.resync();
    }

    /** After hello (and the re-sends): the server's view replaces ours. (act()
     *  draws the reply's ticket unless a ticket event, as new or newer, came first.) */
    async resync() {
        await this.act("ticket", {}, { quiet: true });
        if (this.seller) this.sellScreen.refreshHeld();
    }

    applyHello(reply) {
        this.hello = reply;
        const shop = reply.shop || {};
        this.money = new Money(shop.currency || "EUR", shop.locale || "fr-FR");
        setText(this.el.shop, shop.name || "laneserver");
        setText(this.el.lane, reply.lane ? `Caisse ${reply.lane}` : "Caisse");
        show(this.el.lane, true);
        document.title = `${reply.lane ? "Caisse " + reply.lane : "Caisse"} — ${shop.name || "laneserver"}`;
        this.seller = reply.seller || null;
        this.role = reply.role || null;
        this.showSeller();
        this.route();
    }

    onEvent(event) {
        switch (event.type) {
            case "ticket":
                if (this.hello && this.hello.lane && event.lane !== this.hello.lane) return;
                this.ticketEvents++;
                this.setTicket(event.ticket, -1);
                break;
            case "printer":
                if (this.hello && this.hello.lane && event.lane !== this.hello.lane) return;
                this.showPrinter(event);
                break;
            case "unaddressed_error":
                this.showError(new ServerError(event));
                break;
            default:
                break; // events of later versions: ignored
        }
    }

    /** A reply to a request re-sent from a previous page (reload while in flight). */
    onUnclaimed(reply, request) {
        if (reply.type === "error") {
            if (reply.code !== "connection_stopped") this.showError(new ServerError(reply), { code: request.code });
            return;
        }
        if (reply.ticket) this.setTicket(reply.ticket, -1);
        if (request.type === "finish" && reply.number !== undefined) this.sellScreen.showLastSale(reply);
    }

    // --- requests -------------------------------------------------------------------

    /**
     * Send a request; returns the `ok` reply, or null after showing the error.
     * A reply carrying a ticket updates the view (unless a newer ticket event came).
     * @param {string} verb
     * @param {object} fields
     * @param {object} [opts] mutating, context (for messages), quiet (do not clear
     *        the message area), onError(error) → true when handled
     */
    async act(verb, fields = {}, opts = {}) {
        if (!this.conn) return null;
        if (!opts.quiet) this.clearMessage();
        const seen = this.ticketEvents;
        try {
            const reply = await this.conn.request(verb, fields, { mutating: !!opts.mutating });
            if (reply.ticket) this.setTicket(reply.ticket, seen);
            return reply;
        } catch (error) {
            if (opts.onError && error instanceof ServerError && opts.onError(error)) return null;
            this.handleError(error, opts.context);
            return null;
        }
    }

    handleError(error, context = {}) {
        if (error && error.code === "connection_stopped") return; // the pairing screen says why
        if (error && error.code === "not_signed_in" && this.seller) {
            this.seller = null;
            this.showSeller();
            this.route();
        }
        this.showError(error, context);
    }

    // --- state changes --------------------------------------------------------------

    /**
     * @param {object} ticket
     * @param {number} seenEvents the event count when the request left (-1: an event
     *        itself, or a resync): a reply is stale if a ticket event came since
     */
    setTicket(ticket, seenEvents) {
        if (seenEvents >= 0 && seenEvents !== this.ticketEvents) return;
        this.ticket = ticket;
        this.sellScreen.renderTicket(ticket);
    }

    pair(token) {
        this.token = token;
        saveToken(TOKEN_KEY, token);
        this.clearMessage();
        this.hello = null;
        this.conn.dropRestored();
        this.route();
        if (this.conn.state === STATES.IDLE) this.conn.start();
        else this.conn.reconnect(); // a new hello with the new token
    }

    unpair(error) {
        saveToken(TOKEN_KEY, null);
        this.token = null;
        this.hello = null;
        this.seller = null;
        this.showSeller();
        this.conn.stop(error);
        this.route();
        this.showError(error);
    }

    signedIn(seller, role) {
        this.seller = seller;
        this.role = role;
        if (this.hello) this.hello = { ...this.hello, seller, role };
        this.showSeller();
        this.route();
        this.sellScreen.refreshHeld();
    }

    async signOut() {
        const reply = await this.act("sign_out", {});
        if (reply) {
            this.seller = null;
            this.role = null;
            this.showSeller();
            this.route();
        }
    }

    // --- drawing --------------------------------------------------------------------

    route() {
        let screen;
        if (!this.token) screen = "pair";
        else if (!this.hello) screen = "wait";
        else if (!this.seller) screen = "sign-in";
        else screen = "sell";
        if (screen === this.screen) return;
        this.screen = screen;
        for (const [name, el] of Object.entries(this.screens)) show(el, name === screen);
        if (screen === "pair") this.pairScreen.focus();
        else if (screen === "sign-in") this.signInScreen.focus();
        else if (screen === "sell") {
            this.sellScreen.reset();
            this.sellScreen.focus();
        }
    }

    showSeller() {
        setText(this.el.seller, this.seller ? `Vendeur : ${this.seller}` : "");
        show(this.el.seller, !!this.seller);
        show(this.el.signOut, !!this.seller);
    }

    showPrinter(event) {
        const banner = this.el.printer;
        if (event.online) {
            show(banner, false);
            return;
        }
        const pending = Number(event.pending) || 0;
        setText(banner, `Imprimante hors ligne (${pending} en attente)`);
        banner.title = event.error || "";
        show(banner, true);
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

new TillApp().boot();
