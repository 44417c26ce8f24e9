// The web till: one page per checkout lane.
//
// The server is the source of truth. This page holds only what it needs to draw:
// the hello reply (device, lane, shop), the signed-in seller, the last ticket the
// server sent, the product keys. After every (re)connection it says hello, lets the
// connection re-send what was in flight (same idempotency keys), then asks for the
// ticket again.
//
// Tickets carry `rev`, one more with each change of the lane's ticket. This page's own
// changes come back in their replies (the server sends it no `ticket` event for them);
// other sessions' changes (another tab, a PDA's basket) come as `ticket` events. A
// ticket is drawn only if it is not older than the one drawn; an event whose rev skips
// one (a change this page did not see) makes the page ask `ticket`.
//
// Screens: "pair" (no token) → "wait" (hello not answered yet) → "sign-in" (no
// seller) → "sell" (sell.js; payment mode: pay.js; panels: panels.js; customers:
// customers.js; the cash drawer: drawer.js; discounts: discount.js; finished and
// unpaid sales: sales.js).
//
// Stored in the browser: the device token and the language (localStorage), the
// names of recent sellers (localStorage), and the mutating requests still
// unanswered (sessionStorage, so a reload re-sends them with the same keys). A reload
// forgets the seller: the restored requests made by one wait, said on the sign-in
// screen, until a seller has typed the PIN again (protocol.js setSeller).

import { Connection, ServerError, STATES } from "./protocol.js";
import { buttonsKeepFocusAway, byTestId, h, setText, show, takeToken, saveToken } from "./dom.js";
import { Money, describeError, parseAmount, restoredPendingText, setModeLabels } from "./format.js";
import { applyI18n, language, languageOf, locale, onLanguage, setLanguage, t } from "./i18n.js";
import { ScanMetrics } from "./metrics.js";
import { bindCustomerPanel } from "./customers.js";
import { bindDiscountPanel } from "./discount.js";
import { bindDrawerPanel } from "./drawer.js";
import { bindConfirm, bindHelpPanel, bindHeldPanel, bindInfoPanel, bindSearchPanel, bindSupervisor } from "./panels.js";
import { bindPayPanel } from "./pay.js";
import { bindManagerPanel } from "./manager.js";
import { bindDocumentsPanel } from "./documents.js";
import { bindSalesPanel } from "./sales.js";
import { bindPairScreen, bindSignInScreen } from "./screens.js";
import { bindSellScreen } from "./sell.js";
import { bindUnknownPanel } from "./unknown.js";

const TOKEN_KEY = "laneserver.token";
const PENDING_KEY = "laneserver.till.pending";
const LANG_KEY = "laneserver.till.lang";
const SELLERS_KEY = "laneserver.till.sellers";
const NOTICE_MS = 4000;
const BACK_MS = 2500;
const SENDING_AFTER_MS = 250;

class TillApp {
    constructor() {
        this.deviceKind = "till";     // what `pair` asks a code to be made for
        this.token = null;
        this.hello = null;            // the last hello reply
        this.seller = null;
        this.resume = null;           // sign_in's resume secret: in memory only, never stored
        this.role = null;
        this.ticket = null;
        this.rev = -1;                // the rev of the ticket drawn (-1: none since the last hello)
        this.askingTicket = false;    // a `ticket` asked after a gap in rev, not answered yet
        this.synced = false;          // the ticket was fetched since the last hello
        this.keyboardLoaded = false;
        this.printer = null;          // the last printer event
        this.drawerSensor = null;     // the last drawer_sensor event
        this.screen = null;
        this.conn = null;
        this.wasLost = false;
        this.sending = 0;             // mutating requests in flight
        this.metrics = new ScanMetrics(window);

        const stored = loadSetting(LANG_KEY);
        if (stored) setLanguage(stored);
        this.money = new Money("EUR", locale());
        applyI18n();

        this.el = {
            shop: byTestId("shop-name"),
            lane: byTestId("lane"),
            link: byTestId("link-state"),
            seller: byTestId("seller"),
            signOut: byTestId("sign-out"),
            drawer: byTestId("drawer-open"),
            sales: byTestId("sales-open"),
            unpaid: byTestId("unpaid-open"),
            manager: byTestId("manager-open"),
            lang: byTestId("lang-toggle"),
            connection: byTestId("connection-banner"),
            connectionText: byTestId("connection-text"),
            reconnect: byTestId("reconnect-now"),
            printer: byTestId("printer-banner"),
            drawerSensor: byTestId("drawer-sensor"),
            laneDown: byTestId("lane-banner"),
            error: byTestId("error"),
            errorText: byTestId("error-text"),
            errorDetail: byTestId("error-detail"),
            notice: byTestId("notice"),
            sending: byTestId("in-flight"),
            recent: byTestId("recent-sellers"),
            restored: byTestId("pending-restored"),
        };
        this.screens = {
            pair: byTestId("pair-screen"),
            wait: byTestId("wait-screen"),
            "sign-in": byTestId("sign-in-screen"),
            sell: byTestId("sell-screen"),
        };
        buttonsKeepFocusAway(document);
        this.pairScreen = bindPairScreen(this);
        this.signInScreen = bindSignInScreen(this);
        this.confirmDialog = bindConfirm(this);
        this.info = bindInfoPanel(this);
        this.help = bindHelpPanel(this);
        this.held = bindHeldPanel(this);
        this.search = bindSearchPanel(this, (article) => this.sell.submitArticle(article));
        this.pay = bindPayPanel(this);
        this.supervisor = bindSupervisor(this);
        this.customers = bindCustomerPanel(this);
        this.drawer = bindDrawerPanel(this);
        this.discount = bindDiscountPanel(this);
        this.sales = bindSalesPanel(this);
        this.manager = bindManagerPanel(this);
        this.documents = bindDocumentsPanel(this); // its own overlay and header button (documents.js)
        this.sell = bindSellScreen(this);
        this.unknown = bindUnknownPanel(this); // an unknown code: create the article or attach the code

        byTestId("error-close").addEventListener("click", () => this.clearMessage());
        this.el.signOut.addEventListener("click", () => this.signOut());
        this.el.reconnect.addEventListener("click", () => this.conn && this.conn.retryNow());
        this.el.lang.addEventListener("click", () => {
            const next = language() === "fr" ? "en" : "fr";
            saveSetting(LANG_KEY, next);
            setLanguage(next);
        });
        window.addEventListener("online", () => this.conn && this.conn.retryNow());
        onLanguage(() => this.languageChanged());
        // The banners float just under the header, whatever its height.
        const bar = document.querySelector("header.bar");
        const barHeight = () => document.documentElement.style.setProperty("--bar-height", `${bar.offsetHeight}px`);
        new ResizeObserver(barHeight).observe(bar);
        barHeight();
        this.pay.setModes(["cash", "card"]);
        this.sell.renderTicket(null);
    }

    boot() {
        const { token } = takeToken(TOKEN_KEY);
        this.conn = new Connection({
            handshake: (conn) => this.handshake(conn),
            onEvent: (event) => this.onEvent(event),
            onState: (state, info) => this.onConnectionState(state, info),
            onUnclaimed: (reply, request, context) => this.onUnclaimed(reply, request, context),
            onWaiting: (why) => this.onRestoredWaiting(why),
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

    /**
     * hello, and on the first connection the product keys, sent together (the
     * server answers in order). Only data is kept here: the page is drawn once the
     * connection is ready and the resync requests have left (onConnectionState).
     */
    async handshake(conn) {
        this.synced = false;
        // A new connection: its first ticket (pushed at hello) is drawn whatever its rev,
        // and every reply or event after it is compared with that one.
        this.rev = -1;
        // The resume secret lives in this page's memory only: a reconnect of this page
        // keeps its seller, a reload (or a copied token) must type the PIN again.
        const helloFields = this.resume ? { token: this.token, resume: this.resume } : { token: this.token };
        const hello = conn.request("hello", helloFields, { handshake: true });
        if (!this.keyboardLoaded) {
            conn.request("keyboard", {}, { handshake: true }).then(
                (reply) => this.applyKeyboard(reply),
                (error) => {
                    // lost with the socket: asked again at the next handshake; refused: said
                    if (error instanceof ServerError && error.code !== "unauthenticated") this.showError(error, { verb: "keyboard" });
                });
        }
        let reply;
        try {
            reply = await hello;
        } catch (error) {
            if (error instanceof ServerError && error.code === "unauthenticated") {
                this.unpair(error);
            }
            throw error;
        }
        if (reply.kind !== "till") {
            const error = new ServerError({ code: "forbidden", message: t("msg.wrong_kind", { kind: reply.kind }) });
            this.unpair(error);
            throw error;
        }
        const shop = reply.shop || {};
        if (!loadSetting(LANG_KEY) && shop.locale) setLanguage(languageOf(shop.locale));
        this.money = new Money(shop.currency || "EUR", locale());
        this.hello = reply;
        this.seller = reply.seller || null;
        this.role = reply.role || null;
        if (!this.seller) this.resume = null; // expired, or voided by sign_out / store IT
        // Before the waiting requests leave: restored ones that need a seller wait for one.
        conn.setSeller(this.seller);
        this.helloToDraw = true;
    }

    onConnectionState(state) {
        if (state === STATES.READY) {
            this.resync(); // its requests leave now; the drawing below overlaps the server's work
            if (this.helloToDraw) {
                this.helloToDraw = false;
                this.applyHello();
            }
            this.drawConnection();
            return;
        }
        if (this.conn && this.conn.everReady && state !== STATES.IDLE) this.wasLost = true;
        this.drawConnection();
    }

    /** The banner under the header: lost (with what waits to be sent), back, or nothing. */
    drawConnection() {
        const banner = this.el.connection;
        const conn = this.conn;
        const state = conn ? conn.state : STATES.IDLE;
        this.el.link.dataset.state = state;
        clearTimeout(this.backTimer);
        if (state === STATES.READY || state === STATES.IDLE) {
            if (state === STATES.READY && this.wasLost) {
                this.wasLost = false;
                banner.dataset.state = "back";
                setText(this.el.connectionText, t("conn.back"));
                show(this.el.reconnect, false);
                show(banner, true);
                this.backTimer = setTimeout(() => show(banner, false), BACK_MS);
            } else {
                show(banner, false);
            }
            return;
        }
        let text;
        if (conn.everReady) {
            banner.dataset.state = "lost";
            const waiting = this.sendingCount();
            text = t("conn.lost") + (waiting ? t("conn.pending", { n: waiting }) : "");
        } else {
            banner.dataset.state = state === STATES.LOST ? "unreachable" : "connecting";
            text = state === STATES.LOST ? t("conn.unreachable") : t("conn.connecting");
        }
        setText(this.el.connectionText, text);
        show(this.el.reconnect, state === STATES.LOST);
        show(banner, true);
    }

    sendingCount() {
        if (!this.conn) return 0;
        let n = 0;
        for (const entry of this.conn.pending.values()) if (entry.mutating) n++;
        return n;
    }

    /** After hello (and the re-sends): the server's view replaces ours. (act()
     *  draws the reply's ticket unless a newer one, by rev, was drawn first.) */
    async resync() {
        const asks = [this.act("ticket", {}, { quiet: true })];
        if (this.seller) asks.push(this.held.refresh());
        const reply = await asks[0];
        if (reply) {
            this.synced = true;
            this.markReady();
        }
        await Promise.all(asks);
    }

    applyKeyboard(reply) {
        this.keyboardLoaded = true;
        this.sell.setKeyboard(reply.pages || []);
    }

    markReady() {
        if (this.screen === "sell" && this.synced) {
            // after the browser drew the sell screen
            requestAnimationFrame(() => this.metrics.ready());
        }
    }

    /** Draw what the last hello said: shop, lane, payment modes, seller, screen. */
    applyHello() {
        show(this.el.laneDown, false); // a new hello: the lane answered it
        const shop = (this.hello && this.hello.shop) || {};
        setModeLabels(shop.payment_mode_labels, languageOf(shop.locale));
        this.pay.setModes(shop.payment_modes);
        this.drawer.setDenominations(shop.denominations);
        this.drawHeader();
        this.showSeller();
        this.route();
    }

    drawHeader() {
        const reply = this.hello;
        const shop = (reply && reply.shop) || {};
        setText(this.el.shop, shop.name || "laneserver");
        const lane = reply && reply.lane ? t("header.lane", { lane: reply.lane }) : t("header.lane_none");
        setText(this.el.lane, lane);
        show(this.el.lane, !!reply);
        document.title = `${lane} — ${shop.name || "laneserver"}`;
    }

    onEvent(event) {
        switch (event.type) {
            case "ticket":
                if (this.hello && this.hello.lane && event.lane !== this.hello.lane) return;
                this.onTicketEvent(event.ticket);
                // The server pushes the lane's ticket as soon as hello subscribes the
                // page: the page is in sync from then on (the resync request confirms).
                if (!this.synced) {
                    this.synced = true;
                    this.markReady();
                }
                break;
            case "printer":
                if (this.hello && this.hello.lane && event.lane !== this.hello.lane) return;
                this.showPrinter(event);
                break;
            case "lane_status":
                // the lane stopped serving (repeated failures inside the server):
                // every request on it is refused until store IT restarts the service
                if (this.hello && this.hello.lane && event.lane !== this.hello.lane) return;
                setText(this.el.laneDown, t("lane.out_of_service", { lane: event.lane }));
                this.el.laneDown.title = event.reason || "";
                show(this.el.laneDown, !event.serving);
                break;
            case "drawer_sensor":
                if (this.hello && this.hello.lane && event.lane !== this.hello.lane) return;
                this.showDrawerSensor(event);
            case "basket":
                // a PDA's basket went into this lane's ticket (its ticket event came first):
                // say whose, so the cashier knows where the lines came from
                if (this.hello && this.hello.lane && event.lane !== this.hello.lane) return;
                this.notice(t(event.appended ? "notice.basket_appended" : "notice.basket",
                              { device: event.device, seller: event.seller, lines: event.lines }));
                break;
            case "drawer_alert":
                if (this.hello && this.hello.lane && event.lane !== this.hello.lane) return;
                this.drawer.onAlert(event);
                break;
            case "signed_out":
                // store IT disabled this seller: the server signed the page out
                this.seller = null;
                this.role = null;
                this.resume = null;
                this.conn.setSeller(null);
                this.showSeller();
                this.route();
                this.showMessage(t("msg.signed_out_disabled", { seller: event.seller }));
                break;
            case "scan_refused":
                // a code read by a scanner attached to the server made no line
                if (this.hello && this.hello.lane && event.lane !== this.hello.lane) return;
                this.showError(new ServerError({ code: event.error, message: event.message }), { code: event.code });
                break;
            case "unaddressed_error":
                this.showError(new ServerError(event));
                break;
            default:
                break; // events of later versions: ignored
        }
    }

    /**
     * A reply to a request re-sent from a previous page (reload while in flight), worded
     * with the context the request was sent with (act's opts.context, kept with it:
     * a gift receipt's reprint is no duplicata, a document's points at its PDF).
     */
    onUnclaimed(reply, request, context = {}) {
        this.drawRestored();
        if (reply.type === "error") {
            if (reply.code !== "connection_stopped") {
                this.showError(new ServerError(reply), { code: request.code, ...context, verb: request.type });
            }
            return;
        }
        if (reply.ticket) this.setTicket(reply.ticket);
        if (request.type === "reprint" && reply.copy !== undefined) {
            const gift = (context.kind || reply.kind) === "gift";
            this.notice(t(gift ? "sale.gift_printed" : "sale.duplicate_printed", { copy: reply.copy }));
        }
        // finish, or a pay that finished the sale (the shop's auto_finish)
        if ((request.type === "finish" || request.type === "pay") && reply.number !== undefined) {
            this.pay.close();
            this.sell.showLastSale(reply);
        }
    }

    /**
     * The restored requests waiting for a seller changed (protocol.js onWaiting). The
     * server refused one `not_signed_in` (signed out meanwhile): the page has no seller
     * either, and the request waits for the next sign-in.
     */
    onRestoredWaiting(why) {
        if (why === "not_signed_in" && this.seller) {
            this.seller = null;
            this.role = null;
            this.resume = null;
            this.showSeller();
            this.route();
        }
        this.drawRestored();
    }

    /** On the sign-in screen: what a reload left unanswered, waiting for a seller. */
    drawRestored() {
        const el = this.el.restored;
        const waiting = this.conn ? this.conn.restored.filter((item) => item.waiting) : [];
        setText(el, waiting.length ? restoredPendingText(waiting) : "");
        el.dataset.count = String(waiting.length);
        show(el, waiting.length > 0);
    }

    // --- requests -------------------------------------------------------------------

    /**
     * Send a request; returns the `ok` reply, or null after showing the error.
     * A reply carrying a ticket updates the view (unless a newer ticket, by rev, was drawn).
     * @param {string} verb
     * @param {object} fields
     * @param {object} [opts] mutating, context (for messages), quiet (do not clear
     *        the message area), onError(error) → true when handled
     */
    async act(verb, fields = {}, opts = {}) {
        if (!this.conn) return null;
        if (!opts.quiet) this.clearMessage(false);
        const mutating = !!opts.mutating;
        if (mutating) this.startSending();
        try {
            const pending = this.conn.request(verb, fields, {
                mutating,
                context: mutating ? opts.context : undefined,
                seller: mutating && this.seller ? this.seller : undefined, // after a reload, it waits for one
            });
            if (mutating && this.conn.state !== STATES.READY) this.drawConnection(); // "n waiting to be sent"
            const reply = await pending;
            if (reply.ticket) this.setTicket(reply.ticket);
            return reply;
        } catch (error) {
            if (opts.onError && error instanceof ServerError && opts.onError(error)) return null;
            this.handleError(error, { verb, ...opts.context });
            return null;
        } finally {
            if (mutating) this.stopSending();
        }
    }

    startSending() {
        this.sending++;
        if (this.sending === 1) {
            clearTimeout(this.sendingTimer);
            this.sendingTimer = setTimeout(() => show(this.el.sending, this.sending > 0), SENDING_AFTER_MS);
        }
    }

    stopSending() {
        this.sending = Math.max(0, this.sending - 1);
        if (this.sending === 0) {
            clearTimeout(this.sendingTimer);
            show(this.el.sending, false);
        }
    }

    /**
     * A request a supervisor may have to approve: sent, and on `supervisor_required`
     * the supervisor's PIN is asked (again, saying why, after a wrong one) and the
     * request sent with it. `askFirst`: the verb always needs one (drawer withdrawal,
     * no sale), so the PIN is asked before sending. Returns the reply or null.
     */
    async approved(verb, fields, opts = {}, { askFirst = false, why = "" } = {}) {
        let pin;
        // A supervisor or a manager signed in approves it himself (the roles table):
        // no PIN asked first; a refusal still asks for one below.
        if (askFirst && this.role !== "supervisor" && this.role !== "manager") {
            pin = await this.supervisor.ask(why);
            if (pin === null) return null;
        }
        for (;;) {
            let refused = null;
            const reply = await this.act(verb, pin === undefined ? fields : { ...fields, supervisor_pin: pin }, {
                ...opts,
                onError: (error) => {
                    if (error.code === "supervisor_required") {
                        refused = error;
                        return true;
                    }
                    return opts.onError ? opts.onError(error) : false;
                },
            });
            if (!refused) return reply;
            const problem = pin === undefined ? "" : t("sup.wrong");
            // The first refusal says why (a discount above the cap); a wrong PIN keeps that sentence.
            why = why || describeError(refused, { money: this.money }).text;
            pin = await this.supervisor.ask(why, problem);
            if (pin === null) {
                this.showError(refused, { verb });
                return null;
            }
        }
    }

    handleError(error, context = {}) {
        if (error && error.code === "connection_stopped") return; // the pairing screen says why
        if (error && error.code === "not_signed_in" && this.seller) {
            this.seller = null;
            this.conn.setSeller(null);
            this.showSeller();
            this.route();
        }
        this.showError(error, context);
    }

    // --- state changes --------------------------------------------------------------

    /**
     * A `ticket` event: another session changed the lane's ticket (this page's own
     * changes come in its replies). Drawn only when newer than the ticket drawn; a rev
     * that skips one means a change was missed (or its reply is still on the way): the
     * page asks `ticket`, one at a time.
     * @param {object} ticket
     */
    onTicketEvent(ticket) {
        const rev = ticket.rev;
        if (typeof rev === "number" && rev <= this.rev) return; // drawn already, or older
        const gap = typeof rev === "number" && this.rev >= 0 && rev > this.rev + 1;
        this.setTicket(ticket);
        if (gap && !this.askingTicket) {
            this.askingTicket = true;
            this.act("ticket", {}, { quiet: true }).finally(() => { this.askingTicket = false; });
        }
    }

    /**
     * Draw a ticket (a reply's, an event's), unless the one drawn is newer: a reply
     * that arrives after a newer event is stale.
     * @param {object} ticket
     */
    setTicket(ticket) {
        if (typeof ticket.rev === "number") {
            if (ticket.rev < this.rev) return;
            this.rev = ticket.rev;
        }
        const started = performance.now();
        this.ticket = ticket;
        this.sell.renderTicket(ticket);
        this.pay.render(ticket);
        this.customers.onTicket(ticket);
        this.metrics.rendered(ticket, performance.now() - started);
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

    signedIn(seller, role, resume = null) {
        this.seller = seller;
        this.role = role;
        this.resume = resume;
        if (this.hello) this.hello = { ...this.hello, seller, role };
        rememberSeller(seller);
        this.showSeller();
        this.route();
        this.held.refresh();
        // What a reload left unanswered leaves now, with its keys; replies: onUnclaimed.
        this.conn.setSeller(seller);
        this.drawRestored();
    }

    async signOut() {
        const reply = await this.act("sign_out", {});
        if (reply) {
            this.seller = null;
            this.resume = null;
            this.role = null;
            this.conn.setSeller(null);
            this.showSeller();
            this.route();
        }
    }

    languageChanged() {
        applyI18n();
        this.help.redraw();
        const shop = (this.hello && this.hello.shop) || {};
        this.money = new Money(shop.currency || "EUR", locale());
        this.drawHeader();
        this.showSeller();
        this.drawRecentSellers();
        this.sell.redraw();
        this.pay.redraw();
        this.held.draw();
        this.customers.redraw();
        this.drawer.redraw();
        this.discount.redraw();
        this.sales.redraw();
        this.manager.redraw();
        this.drawConnection();
        this.drawRestored();
        if (this.printer) this.showPrinter(this.printer);
        if (this.drawerSensor) this.showDrawerSensor(this.drawerSensor);
    }

    // --- panels -------------------------------------------------------------------------

    panelOpen() {
        return this.held.overlay.isOpen || this.search.overlay.isOpen || this.info.overlay.isOpen || this.help.overlay.isOpen
            || this.customers.overlay.isOpen || this.drawer.overlay.isOpen || this.discount.overlay.isOpen
            || this.sales.overlay.isOpen || this.manager.overlay.isOpen || this.documents.overlay.isOpen
            || this.unknown?.overlay.isOpen || this.confirmOpen();
    }

    /** A panel with its own text fields is up: the focus stays where the cashier put it. */
    formPanelOpen() {
        return this.customers.overlay.isOpen || this.drawer.overlay.isOpen || this.supervisor.overlay.isOpen
            || this.discount.overlay.isOpen || this.sales.overlay.isOpen || this.manager.overlay.isOpen
            || this.documents.overlay.isOpen || this.unknown?.overlay.isOpen;
    }

    /** A modal dialog (confirmation, supervisor's PIN) is up: its own buttons and keys decide. */
    confirmOpen() {
        return this.confirmDialog.overlay.isOpen || this.supervisor.overlay.isOpen;
    }

    closePanels() {
        this.help.overlay.close();
        this.held.overlay.close();
        this.search.overlay.close();
        this.info.overlay.close();
        this.customers.overlay.close();
        this.drawer.overlay.close();
        this.discount.overlay.close();
        this.sales.overlay.close();
        this.manager.overlay.close();
        this.documents.overlay.close();
        if (this.unknown) this.unknown.overlay.close();
        this.confirmDialog.overlay.close();
        this.supervisor.overlay.close();
    }

    confirm(text, yesLabel, noLabel) {
        return this.confirmDialog.ask(text, yesLabel, noLabel);
    }

    refocus() {
        if (this.sell) this.sell.focus();
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
        if (screen !== "sell") {
            this.closePanels();
            this.pay.close();
        }
        if (screen === "pair") this.pairScreen.focus();
        else if (screen === "sign-in") {
            this.drawRecentSellers();
            this.drawRestored();
            this.signInScreen.focus();
        } else if (screen === "sell") {
            this.sell.reset();
            this.sell.focus();
            this.markReady();
        }
    }

    drawRecentSellers() {
        const names = recentSellers();
        this.el.recent.replaceChildren(
            h("span", { class: "muted" }, t("signin.recent")),
            ...names.map((name) =>
                h("button", {
                    type: "button", testid: "recent-seller", dataset: { seller: name },
                    onclick: () => this.signInScreen.chooseSeller(name),
                }, name)),
        );
        show(this.el.recent, names.length > 0);
    }

    showSeller() {
        setText(this.el.seller, this.seller ? t("header.seller", { seller: this.seller }) : "");
        show(this.el.seller, !!this.seller);
        show(this.el.signOut, !!this.seller);
        show(this.el.drawer, !!this.seller);
        show(this.el.sales, !!this.seller);
        show(this.el.unpaid, !!this.seller && !!(this.hello && this.hello.shop && this.hello.shop.deferred_payment));
        show(this.el.manager, !!this.seller && this.role === "manager"); // the server checks the role again
        this.documents.showFor(this.seller);
    }

    showPrinter(event) {
        this.printer = event;
        const banner = this.el.printer;
        // `status` (DLE EOT): paper and cover as well as offline; older servers send none.
        const status = event.status || (event.online ? "ok" : "offline");
        if (event.online && status === "ok") {
            show(banner, false);
            return;
        }
        const pending = Number(event.pending) || 0;
        const text = status === "offline" || !event.online
            ? (pending ? t("printer.offline", { n: pending }) : t("printer.offline_none"))
            : t(`printer.${status}`, { n: pending });
        setText(banner, text);
        banner.dataset.status = status;
        banner.title = event.error || "";
        banner.dataset.printer = event.printer || "";
        show(banner, true);
    }

    showDrawerSensor(event) {
        // The drawer's switch, read through the printer: a banner while it is open,
        // an alarm once it has been left open.
        this.drawerSensor = event;
        const banner = this.el.drawerSensor;
        if (!event.open) {
            show(banner, false);
            return;
        }
        setText(banner, event.left_open ? t("drawer.left_open") : t("drawer.open"));
        banner.classList.toggle("down", !!event.left_open);
        banner.classList.toggle("warn", !event.left_open);
        banner.dataset.state = event.left_open ? "left_open" : "open";
        show(banner, true);
    }

    showError(error, context = {}) {
        const { code, text, detail } = describeError(error, { ...context, money: this.money, ticket: this.ticket });
        // One language at a time: the server's own message (English, for the logs and
        // support) is kept on the message as its tooltip, not written beside it.
        this.showMessage(text, "", code);
        this.el.error.title = detail === text ? "" : detail;
        this.el.error.dataset.serverMessage = detail;
    }

    showMessage(text, detail = "", code = "") {
        this.el.error.title = "";
        delete this.el.error.dataset.serverMessage;
        setText(this.el.errorText, text);
        setText(this.el.errorDetail, detail);
        this.el.error.dataset.code = code;
        show(this.el.error, true);
        show(this.el.notice, false);
        this.beep();
    }

    /**
     * A typed amount above zero ("12,5" → "12.50"), or null after saying it is bad
     * (msg.bad_amount) and putting the focus back in the field. `source`: the field
     * (its value is read and shown; it takes the focus) or the text itself (then
     * `focus`: the field to focus, if any). `allowNegative`: a leading "−" or "-"
     * (or "+") is allowed and a negative amount comes back as "-12.50".
     */
    typedAmount(source, { focus = null, allowNegative = false } = {}) {
        const text = typeof source === "string" ? source : source.value;
        const field = typeof source === "string" ? focus : source;
        let value;
        let minus = false;
        if (allowNegative) {
            const typed = text.trim().replace(/^\+/, "");
            minus = /^[-−]/.test(typed);
            value = parseAmount(typed.replace(/^[-−]\s*/, ""));
        } else {
            value = parseAmount(text);
        }
        if (value === null || Number(value) <= 0) {
            this.showMessage(t("msg.bad_amount"), text, "bad_request");
            if (field) field.focus();
            return null;
        }
        return minus ? `-${value}` : value;
    }

    clearMessage(notice = true) {
        show(this.el.error, false);
        if (notice) show(this.el.notice, false);
    }

    notice(text) {
        setText(this.el.notice, text);
        show(this.el.notice, true);
        clearTimeout(this.noticeTimer);
        this.noticeTimer = setTimeout(() => show(this.el.notice, false), NOTICE_MS);
    }

    /** A short low beep: a refused scan is heard, not only seen. */
    beep() {
        try {
            const Context = window.AudioContext || window.webkitAudioContext;
            if (!Context) return;
            this.audio = this.audio || new Context();
            if (this.audio.state === "suspended") this.audio.resume();
            const osc = this.audio.createOscillator();
            const gain = this.audio.createGain();
            osc.frequency.value = 330;
            gain.gain.value = 0.08;
            osc.connect(gain).connect(this.audio.destination);
            osc.start();
            osc.stop(this.audio.currentTime + 0.15);
        } catch (_) { /* no sound: the message is on screen */ }
    }
}

function loadSetting(key) {
    try { return localStorage.getItem(key) || null; } catch (_) { return null; }
}

function saveSetting(key, value) {
    try { localStorage.setItem(key, value); } catch (_) { /* private mode */ }
}

function recentSellers() {
    try {
        const names = JSON.parse(loadSetting(SELLERS_KEY) || "[]");
        return Array.isArray(names) ? names.filter((n) => typeof n === "string").slice(0, 6) : [];
    } catch (_) {
        return [];
    }
}

function rememberSeller(name) {
    const names = [name, ...recentSellers().filter((n) => n !== name)].slice(0, 6);
    saveSetting(SELLERS_KEY, JSON.stringify(names));
}

new TillApp().boot();
