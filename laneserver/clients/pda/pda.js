// The PDA page: the floor staff's handheld (412 × 915, a scanner that types like a
// keyboard, Wi-Fi that drops in the back of the shop). See docs/pda.md.
//
//   - baskets: several named baskets kept on the device (IndexedDB, basket.js); each
//     line shows the article's name, price and stock at the PDA's stock point (looked
//     up as scanned, cached for offline); unknown codes are flagged on their line.
//     "Empty into lane N" and "Park" queue the basket (its id is its idempotency: no
//     `key`); a lane whose ticket already has lines is never appended to silently: the
//     page asks, and only "yes" sends `append: true`. A parked basket's barcode is
//     drawn big (Code 128, barcode.js) and can be printed.
//   - stock tasks: look-up (code, id or name), price check, delivery receipt (against a
//     purchase order, or free), inventory count by zone (a supervisor validates),
//     stock exit, transfer, label reprint request.
//   - the customer orders due today (and the overdue ones) to prepare, with their
//     barcodes (due.js); the last list kept on the device for offline.
//   - offline: every change is queued in order on the device, each with its
//     idempotency (basket id, or a `key` chosen when queued), and sent when the server
//     is back; the page shows what is pending. Going offline (the browser says so)
//     stops the connection; back online starts it again.
//
// It shares the till's websocket client, helpers, sign-in screens and language
// (../till/).

import { Connection, ServerError, STATES } from "../till/protocol.js";
import { byTestId, captureWedge, h, keepFocus, saveToken, setText, show, takeToken } from "../till/dom.js";
import { Money, describeError, formatQty, parseAmount, parseDecimal, parseScan } from "../till/format.js";
import { bindPairScreen, bindSignInScreen } from "../till/screens.js";
import { language, languageOf, onLanguage, setLanguage } from "../till/i18n.js";
import { applyI18n, t } from "./i18n.js";
import { DeviceStore, addDecimal, wireQuantity } from "./basket.js";
import { code128Svg } from "./barcode.js";
import { DueOrders } from "./due.js";

const TOKEN_KEY = "laneserver.pda.token";
const SELLER_KEY = "laneserver.pda.seller";   // last signed-in seller: offline start
const LANE_KEY = "laneserver.pda.lane";
const LANG_KEY = "laneserver.pda.lang";
const POINT_KEY = "laneserver.pda.stock_point";
const POINTS_KEY = "laneserver.pda.stock_points";
// The server did not answer for sure: the action stays queued, to be sent again as is.
const KEEP = new Set(["connection_stopped", "unavailable", "internal", "not_signed_in", "unauthenticated"]);
// Line problems: a code the server does not know (or not as one article).
const BAD_CODES = new Set(["unknown_code", "ambiguous_code"]);
const SCAN_PANELS = new Set(["basket", "lookup", "count", "price"]);

function load(key) {
    try { return localStorage.getItem(key); } catch (_) { return null; }
}

function store(key, value) {
    try {
        if (value === null || value === undefined) localStorage.removeItem(key);
        else localStorage.setItem(key, value);
    } catch (_) { /* no storage */ }
}

class PdaApp {
    constructor(device) {
        this.deviceKind = "pda"; // what `pair` asks a code to be made for
        this.store = device;
        this.token = null;
        this.hello = null;
        this.seller = null;
        this.resume = null; // sign_in's resume secret: in memory only
        this.money = new Money("EUR", "fr-FR");
        this.screen = null;
        this.panel = "basket";
        this.conn = null;
        this.pumping = false;
        this.sendingN = null;      // the queued action on the wire
        this.looking = new Set();  // codes being looked up
        this.points = [];
        try { this.points = JSON.parse(load(POINTS_KEY) || "[]"); } catch (_) { this.points = []; }
        this.stockPoint = load(POINT_KEY) || null;
        this.order = null;         // the purchase order being received
        if (!this.store.state.count) this.store.state.count = { zone: "", lines: [] };

        this.el = {};
        for (const id of [
            "shop-name", "device", "seller", "sign-out", "lang-toggle", "connection-banner", "error", "error-text",
            "error-detail", "notice", "nav", "basket-select", "basket-new", "basket-rename", "basket-delete",
            "basket-form", "basket-code", "basket-summary", "basket-state", "basket-id", "basket-lines",
            "basket-empty-hint", "basket-ask", "basket-ask-text", "ask-yes", "ask-no", "basket-done", "queue-title",
            "queue-list", "failure-list", "parked-show", "lane-select", "empty-basket", "park-basket",
            "lookup-form", "lookup-input", "lookup-result", "count-zone", "count-form", "count-code", "count-lines",
            "count-empty", "count-table", "count-pin", "count-validate", "count-result", "count-show", "count-send",
            "stock-point-select", "price-form", "price-code", "price-result", "receipt-orders", "receipt-order-list",
            "receipt-order-form", "receipt-order-title", "receipt-lines", "receipt-free-form", "receipt-article",
            "receipt-qty", "receipt-cost", "receipt-supplier", "exit-form", "exit-article", "exit-qty", "exit-reason",
            "exit-comment", "transfer-form", "transfer-article", "transfer-qty", "transfer-from", "transfer-to",
            "labels-form", "labels-article", "labels-copies", "park-overlay", "park-barcode", "park-code",
            "park-total", "park-help", "park-print", "park-close", "due-offline", "due-status", "due-today-title",
            "due-none", "due-today-list", "due-overdue-title", "due-overdue-list", "due-refresh",
        ]) {
            this.el[id.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = byTestId(id);
        }
        this.screens = {
            pair: byTestId("pair-screen"),
            wait: byTestId("wait-screen"),
            "sign-in": byTestId("sign-in-screen"),
            work: byTestId("work-screen"),
        };
        this.panels = {};
        for (const el of document.querySelectorAll("[data-panel]")) this.panels[el.dataset.panel] = el;
        this.pairScreen = bindPairScreen(this);
        this.signInScreen = bindSignInScreen(this);
        this.bindWork();
        const e = this.el;
        this.due = new DueOrders(this, {
            offline: e.dueOffline, status: e.dueStatus, todayTitle: e.dueTodayTitle, none: e.dueNone,
            todayList: e.dueTodayList, overdueTitle: e.dueOverdueTitle, overdueList: e.dueOverdueList, refresh: e.dueRefresh,
        });
        byTestId("error-close").addEventListener("click", () => this.clearMessage());
        this.el.signOut.addEventListener("click", () => this.signOut());
        this.el.langToggle.addEventListener("click", () => {
            const next = language() === "fr" ? "en" : "fr";
            store(LANG_KEY, next);
            setLanguage(next);
        });
        onLanguage(() => this.languageChanged());
        const lang = load(LANG_KEY);
        if (lang) setLanguage(lang);
        applyI18n();
        this.renderAll();
    }

    boot() {
        const { token } = takeToken(TOKEN_KEY);
        this.conn = new Connection({
            handshake: (conn) => this.handshake(conn),
            onEvent: (event) => this.onEvent(event),
            onState: (state) => this.onConnectionState(state),
        });
        this.seller = load(SELLER_KEY);
        window.addEventListener("offline", () => this.goneOffline());
        window.addEventListener("online", () => this.backOnline());
        if (!token) {
            this.route();
            return;
        }
        this.token = token;
        this.showSeller();
        this.route();
        if (navigator.onLine !== false) this.conn.start();
        else this.onConnectionState(STATES.LOST);
    }

    get online() {
        return !!this.conn && this.conn.ready;
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
            const error = new ServerError({ code: "forbidden", message: `a "${reply.kind}" token, not a PDA's` });
            this.unpair(error);
            throw error;
        }
        this.applyHello(reply);
    }

    applyHello(reply) {
        this.hello = reply;
        const shop = reply.shop || {};
        this.money = new Money(shop.currency || "EUR", shop.locale || "fr-FR");
        if (!load(LANG_KEY) && shop.locale) setLanguage(languageOf(shop.locale));
        setText(this.el.shopName, shop.name || "laneserver");
        show(this.el.device, true);
        document.title = `PDA — ${shop.name || "laneserver"}`;
        this.lanes = shop.lanes || [];
        this.setLanes();
        this.setSeller(reply.seller || null);
        if (!reply.seller) this.resume = null;
        this.route();
    }

    onConnectionState(state) {
        const banner = this.el.connectionBanner;
        if (state === STATES.READY) {
            show(banner, false);
            // an unsure answer (timeout) before: sent again as is, on the new connection
            for (const action of this.store.queue) delete action.error;
            this.loadStockPoints();
            this.lookUpMissing();
            this.pump();
        } else if (state === STATES.IDLE && navigator.onLine !== false) {
            show(banner, false);
        } else if (navigator.onLine === false || (this.conn && this.conn.everReady)) {
            setText(banner, t("conn.lost"));
            show(banner, true);
        } else {
            setText(banner, state === STATES.LOST ? t("conn.unreachable") : t("conn.connecting"));
            show(banner, true);
        }
        this.renderQueue();
        this.due.connectionChanged(state === STATES.READY);
    }

    /** The browser lost the network: stop trying; everything waits in the queue. */
    goneOffline() {
        if (!this.conn || !this.token) return;
        this.conn.stop();
        this.onConnectionState(STATES.LOST);
    }

    backOnline() {
        if (!this.conn || !this.token) return;
        if (this.conn.state === STATES.IDLE) this.conn.start();
        else this.conn.retryNow();
    }

    onEvent(event) {
        if (event.type === "unaddressed_error") this.showError(new ServerError(event));
    }

    /** Send a request now; returns the `ok` reply, or null after showing the error. */
    async act(verb, fields = {}, opts = {}) {
        if (!this.conn) return null;
        if (!opts.quiet) this.clearMessage();
        try {
            return await this.conn.request(verb, fields, { mutating: !!opts.mutating, key: opts.key });
        } catch (error) {
            if (opts.onError && opts.onError(error)) return null;
            this.handleError(error, { verb, ...(opts.context || {}) });
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
    }

    unpair(error) {
        saveToken(TOKEN_KEY, null);
        this.token = null;
        this.hello = null;
        this.setSeller(null);
        this.conn.stop(error);
        this.route();
        this.showError(error);
    }

    signedIn(seller, role = null, resume = null) {
        this.resume = resume;
        this.setSeller(seller);
        this.route();
        this.pump();
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
        store(SELLER_KEY, seller || null);
        this.showSeller();
    }

    // --- wiring ---------------------------------------------------------------------

    bindWork() {
        const e = this.el;
        for (const button of document.querySelectorAll("[data-goto]")) {
            button.addEventListener("click", () => this.showPanel(button.dataset.goto));
        }
        const scanField = () => ({ basket: e.basketCode, lookup: e.lookupInput, count: e.countCode, price: e.priceCode })[this.panel];
        const scanForm = () => ({ basket: e.basketForm, lookup: e.lookupForm, count: e.countForm, price: e.priceForm })[this.panel];
        const scanning = () => this.screen === "work" && SCAN_PANELS.has(this.panel) && e.parkOverlay.hidden;
        captureWedge({ input: scanField, form: scanForm, active: scanning });
        keepFocus(scanField, () => scanning() && this.panel !== "count");

        // baskets
        e.basketForm.addEventListener("submit", (event) => {
            event.preventDefault();
            const scanned = this.takeScan(e.basketCode);
            if (!scanned) return;
            let basket = this.store.current;
            // the basket on its way to a lane is locked: scanning goes on in a new one
            if (basket.state === "queued") basket = this.store.newBasket();
            if (basket.state === "ask") basket.state = "open";
            show(e.basketDone, false);
            this.store.add(basket, scanned.code, String(scanned.qty ?? "1"));
            this.renderBaskets();
            this.renderBasket();
            this.lookUp(scanned.code);
        });
        e.basketSelect.addEventListener("change", () => {
            this.store.select(e.basketSelect.value);
            show(e.basketDone, false);
            this.renderAll();
        });
        e.basketNew.addEventListener("click", () => {
            this.store.newBasket();
            show(e.basketDone, false);
            this.renderAll();
        });
        e.basketRename.addEventListener("click", () => {
            const basket = this.store.current;
            const name = window.prompt(t("basket.name_q"), this.basketName(basket));
            if (name !== null) {
                this.store.rename(basket.id, name.trim().slice(0, 40));
                this.renderAll();
            }
        });
        e.basketDelete.addEventListener("click", () => {
            const basket = this.store.current;
            if (basket.state === "queued") {
                this.showMessage(t("basket.queued"));
                return;
            }
            if (basket.lines.length && !window.confirm(t("basket.delete_q", { name: this.basketName(basket), n: basket.lines.length }))) return;
            this.store.drop(basket.id);
            this.renderAll();
        });
        e.laneSelect.addEventListener("change", () => store(LANE_KEY, e.laneSelect.value));
        e.emptyBasket.addEventListener("click", () => this.sendBasket("basket_empty"));
        e.parkBasket.addEventListener("click", () => this.sendBasket("basket_park"));
        e.askYes.addEventListener("click", () => {
            const basket = this.store.current;
            if (basket.state !== "ask") return;
            this.queueBasket(basket, "basket_empty", basket.lane, true);
        });
        e.askNo.addEventListener("click", () => {
            const basket = this.store.current;
            basket.state = "open";
            this.store.save();
            this.notice(t("basket.ask_kept"));
            this.renderAll();
        });
        e.parkedShow.addEventListener("click", () => this.showParked(this.store.parked[0]));
        e.parkClose.addEventListener("click", () => show(e.parkOverlay, false));
        e.parkPrint.addEventListener("click", () => window.print());

        // look-up, price check
        e.lookupForm.addEventListener("submit", (event) => {
            event.preventDefault();
            const text = e.lookupInput.value.trim();
            e.lookupInput.value = "";
            if (text) this.lookUpStock(text);
        });
        e.priceForm.addEventListener("submit", (event) => {
            event.preventDefault();
            const code = e.priceCode.value.trim();
            e.priceCode.value = "";
            if (code) this.priceCheck(code);
        });

        // count by zone
        const count = this.store.state.count;
        e.countZone.value = count.zone || "";
        e.countZone.addEventListener("change", () => {
            count.zone = e.countZone.value.trim();
            this.store.save();
        });
        e.countForm.addEventListener("submit", (event) => {
            event.preventDefault();
            const scanned = this.takeScan(e.countCode);
            if (!scanned) return;
            const line = count.lines.find((l) => l.code === scanned.code);
            if (line) line.counted = addDecimal(line.counted, String(scanned.qty ?? "1"));
            else count.lines.push({ code: scanned.code, counted: String(scanned.qty ?? "1") });
            this.store.save();
            this.renderCount();
            this.lookUp(scanned.code);
        });
        e.countSend.addEventListener("click", () => this.sendCount());
        e.countShow.addEventListener("click", () => this.showCounts());
        e.countValidate.addEventListener("click", () => this.validateCount());

        // the other tasks
        e.stockPointSelect.addEventListener("change", () => {
            this.stockPoint = e.stockPointSelect.value;
            store(POINT_KEY, this.stockPoint);
            this.renderBasket();
        });
        e.receiptOrders.addEventListener("click", () => this.loadOrders());
        e.receiptOrderForm.addEventListener("submit", (event) => {
            event.preventDefault();
            this.receiveOrder();
        });
        e.receiptFreeForm.addEventListener("submit", (event) => {
            event.preventDefault();
            this.receiveFree();
        });
        e.exitForm.addEventListener("submit", (event) => {
            event.preventDefault();
            this.stockExit();
        });
        e.transferForm.addEventListener("submit", (event) => {
            event.preventDefault();
            this.transfer();
        });
        e.labelsForm.addEventListener("submit", (event) => {
            event.preventDefault();
            this.requestLabels();
        });
    }

    /** The scan typed into `input` ({code, qty} or null after saying what is wrong). */
    takeScan(input) {
        const scanned = parseScan(input.value);
        if (scanned === null) return null;
        if (scanned.qtyOnly !== undefined) {
            this.showMessage(t("scan.qty_first"));
            return null;
        }
        input.value = "";
        if (scanned.badQty !== undefined) {
            this.showMessage(t("form.bad_qty"), scanned.badQty);
            return null;
        }
        this.clearMessage();
        return scanned;
    }

    // --- article look-ups (name, price, stock of each scanned code) -------------------

    async lookUp(code) {
        if (!this.online || this.looking.has(code)) return;
        this.looking.add(code);
        try {
            const reply = await this.conn.request("price_check", { code });
            const a = reply.article || {};
            this.learnPoints(reply.points);
            this.store.remember(code, { article: a.article, name: a.name, price: a.price, unit: a.unit || "", points: reply.points || [] });
        } catch (error) {
            if (BAD_CODES.has(error.code)) this.store.remember(code, { problem: error.code, message: error.message });
        } finally {
            this.looking.delete(code);
            this.renderBasket();
            this.renderCount();
        }
    }

    /** Back online: look up every scanned code the device knows nothing of yet. */
    lookUpMissing() {
        const codes = new Set();
        for (const basket of this.store.baskets) for (const line of basket.lines) codes.add(line.code);
        for (const line of this.store.state.count.lines) codes.add(line.code);
        for (const code of codes) if (!this.store.article(code)) this.lookUp(code);
    }

    learnPoints(points) {
        const ids = (points || []).map((p) => p.stock_point).filter(Boolean);
        if (!ids.length || ids.join() === this.points.join()) return;
        this.points = ids;
        store(POINTS_KEY, JSON.stringify(ids));
        this.setPoints();
    }

    async loadStockPoints() {
        try {
            const response = await fetch("/healthz", { cache: "no-store" });
            const body = await response.json();
            if (Array.isArray(body.stock_points)) this.learnPoints(body.stock_points.map((id) => ({ stock_point: id })));
        } catch (_) { /* offline: the points learnt before stay */ }
    }

    /** The PDA's stock point: the one chosen, else the shop's first (the server's default). */
    get point() {
        if (this.stockPoint && this.points.includes(this.stockPoint)) return this.stockPoint;
        return this.points[0] || null;
    }

    pointLevel(points) {
        const list = points || [];
        return list.find((p) => p.stock_point === this.point) || list[0] || null;
    }

    // --- baskets ----------------------------------------------------------------------

    basketName(basket) {
        return basket.name || t("basket.default", { n: basket.number });
    }

    lineProblem(line) {
        if (line.problem) return line.problem;
        const info = this.store.article(line.code);
        if (info && info.problem) return { problem: info.problem, message: info.message || "" };
        return null;
    }

    sendBasket(verb) {
        const basket = this.store.current;
        if (basket.state === "queued") {
            this.showMessage(t("basket.queued"));
            return;
        }
        if (!basket.lines.length) {
            this.showMessage(t("basket.is_empty"));
            return;
        }
        if (basket.lines.some((line) => this.lineProblem(line))) {
            this.showMessage(t("basket.flagged_first"));
            return;
        }
        const lane = this.el.laneSelect.value;
        if (!lane) {
            this.showMessage(t("basket.no_lane"));
            return;
        }
        this.queueBasket(basket, verb, lane, false);
    }

    queueBasket(basket, verb, lane, append) {
        this.clearMessage();
        show(this.el.basketDone, false);
        const lines = basket.lines.map((l) => ({ code: l.code, qty: wireQuantity(l.qty) }));
        const fields = verb === "basket_park" ? { basket: basket.id, lines, lane } : { basket: basket.id, lane, lines };
        if (append) fields.append = true;
        basket.lane = lane;
        this.store.enqueue(verb, fields, { basket, label: { name: this.basketName(basket), lane, append } });
        this.renderAll();
        this.pump();
    }

    queueTask(verb, fields, label) {
        this.clearMessage();
        this.store.enqueue(verb, fields, { label });
        if (!this.online) this.notice(t("form.queued"));
        this.renderQueue();
        this.pump();
    }

    /** Sends the queue, in order, one action at a time, while the server is there. */
    async pump() {
        if (this.pumping) return;
        this.pumping = true;
        try {
            while (this.store.queue.length && this.online && this.seller) {
                const action = this.store.queue[0];
                if (action.error) break; // an unsure answer: sent again on "retry" or the next connection
                this.sendingN = action.n;
                this.renderQueue();
                let reply = null;
                let error = null;
                try {
                    reply = await this.conn.request(action.verb, action.fields,
                        action.key ? { mutating: true, key: action.key } : {});
                } catch (e) {
                    error = e;
                }
                this.sendingN = null;
                if (error && KEEP.has(error.code)) {
                    if (error.code === "not_signed_in") {
                        this.setSeller(null);
                        this.route();
                    } else if (error.code !== "connection_stopped") {
                        action.error = describeError(error).text;
                        this.store.save();
                        this.showError(error, { verb: action.verb });
                    }
                    break;
                }
                this.store.settle(action);
                if (action.basket) this.basketAnswered(action, reply, error);
                else this.taskAnswered(action, reply, error);
            }
        } finally {
            this.pumping = false;
            this.sendingN = null;
            this.renderAll();
        }
    }

    retryQueue() {
        for (const action of this.store.queue) delete action.error;
        this.store.save();
        if (this.conn && this.conn.state === STATES.LOST) this.conn.retryNow();
        this.pump();
    }

    basketAnswered(action, reply, error) {
        const basket = this.store.basket(action.basket);
        if (!basket) return;
        const name = this.basketName(basket);
        basket.state = "open";
        if (reply) {
            this.store.drop(basket.id);
            if (action.verb === "basket_park") {
                const entry = { barcode: reply.barcode, held: reply.held, lane: reply.lane, lines: reply.lines,
                    total: reply.total, name };
                this.store.addParked(entry);
                this.showParked(entry);
            } else {
                setText(this.el.basketDone, t("basket.emptied", { name, lane: reply.lane || action.fields.lane, n: reply.lines }));
                show(this.el.basketDone, true);
            }
            return;
        }
        const frame = error.frame || {};
        this.store.select(basket.id);
        if (error.code === "conflict" && frame.ticket_not_empty) {
            basket.state = "ask";
            basket.lane = action.fields.lane;
            this.store.save();
            this.showPanel("basket");
            return;
        }
        if (Array.isArray(frame.lines) && frame.lines.length) {
            this.store.flag(basket, action.fields.lines, frame.lines);
            this.showMessage(t("basket.refused_lines", { n: frame.lines.length }), error.message, error.code);
            this.showPanel("basket");
            return;
        }
        if (Number.isInteger(frame.index)) {
            this.store.flag(basket, action.fields.lines, [{ index: frame.index, problem: error.code, message: error.message }]);
        }
        this.store.save();
        this.handleError(error, { verb: action.verb });
    }

    taskAnswered(action, reply, error) {
        if (error) {
            this.store.fail(action, describeError(error, { money: this.money }).text);
            this.handleError(error, { verb: action.verb });
            return;
        }
        if (action.verb === "stock_count_zone") {
            this.notice(t("count.sent", { zone: action.fields.zone }));
            this.renderCountTable(reply.lines || [], true);
        } else if (action.verb === "label_request") {
            this.notice(t("labels.done", { request: reply.request, copies: reply.copies, name: reply.name || reply.article }));
        } else if (action.verb === "stock_exit") {
            this.notice(t("exit.done"));
        } else if (action.verb === "stock_transfer") {
            this.notice(t("transfer.done"));
        } else {
            this.notice(t("receipt.done"));
        }
    }

    setLanes() {
        const select = this.el.laneSelect;
        const lanes = this.lanes || [];
        const wanted = select.value || load(LANE_KEY) || "";
        select.replaceChildren(...lanes.map((id) => h("option", { value: id }, t("basket.lane_n", { lane: id }))));
        if (lanes.includes(wanted)) select.value = wanted;
    }

    setPoints() {
        const options = (selected) => this.points.map((id) => h("option", { value: id, selected: id === selected }, id));
        this.el.stockPointSelect.replaceChildren(...options(this.point));
        const from = this.el.transferFrom.value || this.point;
        const to = this.el.transferTo.value || this.points.find((p) => p !== from) || "";
        this.el.transferFrom.replaceChildren(...options(from));
        this.el.transferTo.replaceChildren(...options(to));
    }

    // --- drawing: baskets and the queue ---------------------------------------------------

    renderAll() {
        this.renderBaskets();
        this.renderBasket();
        this.renderQueue();
        this.renderCount();
        if (this.due && this.panel === "due") this.due.render(); // drawn when shown (due.js)
    }

    renderBaskets() {
        const current = this.store.current;
        this.el.basketSelect.replaceChildren(...this.store.baskets.map((basket) => {
            const state = basket.state === "queued" ? ` — ${t("basket.state_queued")}` : basket.state === "ask" ? ` — ${t("basket.state_ask")}` : "";
            return h("option", { value: basket.id, selected: basket === current },
                `${this.basketName(basket)} (${t("basket.lines", { n: basket.lines.length })})${state}`);
        }));
        this.el.basketSelect.value = current.id;
        const parked = this.store.parked[0];
        show(this.el.parkedShow, !!parked);
    }

    renderBasket() {
        const e = this.el;
        const basket = this.store.current;
        if (!basket) return;
        setText(e.basketId, basket.id.slice(0, 8));
        e.basketId.dataset.basket = basket.id;
        let units = "0";
        let total = 0;
        let priced = true;
        e.basketLines.replaceChildren(...basket.lines.map((line) => {
            units = addDecimal(units, line.qty);
            const info = this.store.article(line.code);
            const problem = this.lineProblem(line);
            if (info && info.price !== undefined && !problem) total += Number(info.price) * Number(line.qty);
            else priced = false;
            return this.lineItem(basket, line, info, problem);
        }));
        setText(e.basketSummary, t("basket.summary", {
            name: this.basketName(basket), n: basket.lines.length, units: formatQty(units),
            total: basket.lines.length && priced ? this.money.format(total.toFixed(2)) : "",
        }));
        setText(e.basketState, basket.state === "queued" ? `(${t("basket.state_queued")})` : "");
        show(e.basketEmptyHint, basket.lines.length === 0);
        show(e.basketAsk, basket.state === "ask");
        if (basket.state === "ask") setText(e.basketAskText, t("basket.ask", { lane: basket.lane }));
        const locked = basket.state === "queued";
        e.emptyBasket.disabled = locked;
        e.parkBasket.disabled = locked;
    }

    lineItem(basket, line, info, problem) {
        const locked = basket.state !== "open";
        let meta;
        if (problem) {
            const word = problem.problem === "ambiguous_code" ? t("line.ambiguous") : problem.problem === "unknown_code" ? t("line.unknown") : describeError({ code: problem.problem }).text;
            meta = h("span", { class: "problem", testid: "line-problem" }, word, problem.message ? ` — ${problem.message}` : "");
        } else if (info) {
            const level = this.pointLevel(info.points);
            meta = h("span", { class: "meta" },
                h("span", { class: "price", testid: "line-price" }, this.money.format(info.price)),
                level ? h("span", { class: "stock", testid: "line-stock", dataset: { stockPoint: level.stock_point } },
                    ` · ${t("line.stock", { qty: formatQty(level.available) })} (${level.stock_point})`) : null);
        } else {
            meta = h("span", { class: "muted" }, this.online ? t("line.looking") : t("line.offline"));
        }
        return h("li", { class: problem ? "flagged" : "", testid: "basket-line", dataset: { code: line.code, flagged: problem ? "1" : "0" } },
            h("div", { class: "info" },
                h("span", { class: "name", testid: "line-name" }, info && info.name ? info.name : line.code),
                info && info.name ? h("span", { class: "code", testid: "basket-line-code" }, line.code) : null,
                meta),
            h("div", { class: "qtybox" },
                h("button", { type: "button", class: "small", testid: "basket-line-minus", "aria-label": t("line.minus"), disabled: locked,
                    onclick: () => { this.store.bump(basket, line.code, "-1"); this.renderAll(); } }, "−"),
                h("span", { class: "qty", testid: "basket-line-qty" }, formatQty(line.qty)),
                h("button", { type: "button", class: "small", testid: "basket-line-plus", "aria-label": t("line.plus"), disabled: locked,
                    onclick: () => { this.store.bump(basket, line.code, "1"); this.renderAll(); } }, "+"),
                h("button", { type: "button", class: "small danger", testid: "basket-line-remove", "aria-label": t("line.remove"), disabled: locked,
                    onclick: () => { this.store.remove(basket, line.code); this.renderAll(); } }, "✕")));
    }

    renderQueue() {
        const e = this.el;
        const queue = this.store.queue;
        setText(e.queueTitle, queue.length ? t("queue.title", { n: queue.length }) : t("queue.none"));
        e.queueList.replaceChildren(...queue.map((action) => {
            const status = action.error
                ? h("span", { class: "err" }, ` — ${action.error} `,
                    h("button", { type: "button", class: "small", testid: "queue-retry", onclick: () => this.retryQueue() }, t("queue.retry")))
                : h("span", { class: "muted" }, ` — ${action.n === this.sendingN ? t("queue.sending") : t("queue.waiting")}`);
            return h("li", { testid: "queue-entry", dataset: { verb: action.verb, basket: action.basket || "" } },
                h("span", {}, this.actionLabel(action)), status);
        }));
        e.failureList.replaceChildren(...this.store.failures.map((failure) =>
            h("li", { testid: "failure-entry", class: "err" },
                h("span", {}, `${this.actionLabel(failure)} — ${t("queue.failed")} — ${failure.text} `),
                h("button", { type: "button", class: "small", testid: "failure-dismiss",
                    onclick: () => { this.store.dismiss(failure.n); this.renderQueue(); } }, t("queue.dismiss")))));
        this.renderBaskets();
    }

    actionLabel(action) {
        const f = action.fields || {};
        const label = action.label || {};
        const basket = action.basket ? this.store.basket(action.basket) : null;
        const params = {
            ...f, ...label,
            name: basket ? this.basketName(basket) : label.name || "",
            n: Array.isArray(f.lines) ? f.lines.length : 0,
            article: label.article || f.article || "",
        };
        return t(`verb.${action.verb}`, params);
    }

    showParked(entry) {
        if (!entry) return;
        const e = this.el;
        e.parkBarcode.replaceChildren(code128Svg(entry.barcode, { title: entry.barcode }));
        setText(e.parkCode, entry.barcode);
        setText(e.parkTotal, t("park.total", { n: entry.lines, total: this.money.format(entry.total) }));
        setText(e.parkHelp, t("park.help", { lane: entry.lane }));
        show(e.parkOverlay, true);
        this.renderBaskets();
    }

    // --- stock look-up and price check --------------------------------------------------

    async lookUpStock(text) {
        const result = this.el.lookupResult;
        if (!this.online) {
            this.showMessage(t("offline.needed"));
            return;
        }
        result.replaceChildren(h("p", { class: "muted" }, t("lookup.searching")));
        let missing = false;
        const [stock, priced] = await Promise.all([
            this.act("stock", { article: text }, { onError: (error) => { missing = error.code === "not_found"; return missing; } }),
            this.conn.request("price_check", { code: text }).catch(() => null),
        ]);
        if (stock) {
            this.showStock(stock, priced && priced.article ? priced.article : null);
            return;
        }
        if (!missing) {
            result.replaceChildren();
            return;
        }
        const found = await this.act("search", { text, limit: 20 });
        const articles = (found && found.articles) || [];
        if (!articles.length) {
            result.replaceChildren(h("p", { class: "muted", testid: "lookup-none" }, t("lookup.none", { text })));
        } else if (articles.length === 1) {
            this.showStockOf(articles[0]);
        } else {
            result.replaceChildren(h("p", { class: "muted" }, t("lookup.pick")),
                h("ul", { class: "picks" }, ...articles.map((a) => h("li", {},
                    h("button", { type: "button", class: "wide", testid: "lookup-pick", dataset: { article: a.article },
                        onclick: () => this.showStockOf(a) }, `${a.name} — ${this.money.format(a.price)}`)))));
        }
    }

    async showStockOf(article) {
        const reply = await this.act("stock", { article: article.article });
        if (reply) this.showStock(reply, article);
    }

    showStock(reply, article) {
        const points = reply.points || [];
        this.learnPoints(points);
        this.el.lookupResult.replaceChildren(
            h("p", { class: "article", testid: "lookup-name" }, article && article.name ? article.name : reply.article),
            h("p", { class: "muted", testid: "lookup-article" }, [reply.article, article && article.price ? this.money.format(article.price) : ""].filter(Boolean).join(" — ")),
            reply.location ? h("p", { testid: "lookup-location" }, t("lookup.location", { location: reply.location })) : null,
            this.pointsTable(points));
    }

    pointsTable(points) {
        if (!points.length) return h("p", { class: "muted" }, t("lookup.no_points"));
        return h("table", {},
            h("thead", {}, h("tr", {},
                h("th", {}, t("lookup.point")), h("th", { class: "num" }, t("lookup.real")),
                h("th", { class: "num" }, t("lookup.reserved")), h("th", { class: "num" }, t("lookup.available")))),
            h("tbody", {}, ...points.map((p) =>
                h("tr", { testid: "stock-row", class: p.stock_point === this.point ? "mine" : "", dataset: { stockPoint: p.stock_point } },
                    h("td", {}, p.stock_point),
                    h("td", { class: "num", testid: "stock-real" }, formatQty(p.real)),
                    h("td", { class: "num", testid: "stock-reserved" }, formatQty(p.reserved)),
                    h("td", { class: "num", testid: "stock-available" }, formatQty(p.available))))));
    }

    async priceCheck(code) {
        const result = this.el.priceResult;
        if (!this.online) {
            this.showMessage(t("offline.needed"));
            return;
        }
        const reply = await this.act("price_check", { code }, { context: { code } });
        if (!reply) {
            result.replaceChildren();
            return;
        }
        const a = reply.article || {};
        const level = this.pointLevel(reply.points);
        this.learnPoints(reply.points);
        result.replaceChildren(
            h("p", { class: "big-name", testid: "price-name" }, a.name || a.article),
            h("p", { class: "big-price", testid: "price-price" }, this.money.format(a.price), a.unit ? ` / ${a.unit}` : ""),
            h("p", { class: "muted" }, a.article),
            reply.measured ? h("p", {}, t("price.measured", { measured: reply.measured })) : null,
            level ? h("p", { testid: "price-stock" }, t("price.stock", { point: level.stock_point, qty: formatQty(level.available) })) : null,
            a.location ? h("p", {}, t("lookup.location", { location: a.location })) : null,
            (reply.variants || []).length
                ? h("div", {}, h("h2", {}, t("price.variants")), h("ul", {}, ...reply.variants.map((v) =>
                    h("li", {}, `${[v.size, v.colour].filter(Boolean).join(" ")} — ${this.money.format(v.price)}`))))
                : null);
    }

    // --- inventory count by zone -----------------------------------------------------------

    renderCount() {
        const e = this.el;
        const lines = this.store.state.count.lines;
        e.countLines.replaceChildren(...lines.map((line) => {
            const info = this.store.article(line.code);
            return h("li", { testid: "count-line", class: info && info.problem ? "flagged" : "", dataset: { code: line.code } },
                h("div", { class: "info" },
                    h("span", { class: "name" }, info && info.name ? info.name : line.code),
                    h("span", { class: "code" }, line.code),
                    info && info.problem ? h("span", { class: "problem" }, t("line.unknown")) : null),
                h("div", { class: "qtybox" },
                    h("span", { class: "qty", testid: "count-line-qty" }, formatQty(line.counted)),
                    h("button", { type: "button", class: "small danger", "aria-label": t("line.remove"), onclick: () => {
                        this.store.state.count.lines = this.store.state.count.lines.filter((l) => l !== line);
                        this.store.save();
                        this.renderCount();
                    } }, "✕")));
        }));
        show(e.countEmpty, lines.length === 0);
    }

    sendCount() {
        const count = this.store.state.count;
        count.zone = this.el.countZone.value.trim();
        if (!count.zone) {
            this.showMessage(t("count.need_zone"));
            return;
        }
        if (!count.lines.length) {
            this.showMessage(t("count.need_lines"));
            return;
        }
        const fields = { zone: count.zone, lines: count.lines.map((l) => ({ code: l.code, counted: wireQuantity(l.counted) })) };
        if (this.point) fields.stock_point = this.point;
        count.lines = [];
        this.queueTask("stock_count_zone", fields, { zone: fields.zone });
        if (!this.online) this.notice(t("count.queued", { zone: fields.zone }));
        this.renderCount();
    }

    async showCounts() {
        const fields = this.point ? { stock_point: this.point } : {};
        const reply = await this.act("stock_counts", fields);
        if (reply) this.renderCountTable(reply.lines || [], false);
    }

    renderCountTable(lines, zoneOnly) {
        const table = this.el.countTable;
        if (!lines.length) {
            table.replaceChildren(h("p", { class: "muted" }, t("count.open_none")));
            return;
        }
        table.replaceChildren(h("table", { class: "counts", dataset: { zoneOnly: zoneOnly ? "1" : "0" } },
            h("thead", {}, h("tr", {},
                h("th", {}, t("count.col_zone")), h("th", {}, t("count.col_article")),
                h("th", { class: "num" }, t("count.col_counted")), h("th", { class: "num" }, t("count.col_expected")),
                h("th", { class: "num" }, t("count.col_diff")))),
            h("tbody", {}, ...lines.map((l) =>
                h("tr", { testid: "count-row", class: Number(l.difference) ? "diff" : "", dataset: { zone: l.zone, article: l.article } },
                    h("td", {}, l.zone),
                    h("td", {}, l.name || l.article),
                    h("td", { class: "num", testid: "count-counted" }, formatQty(l.article_counted ?? l.counted)),
                    h("td", { class: "num", testid: "count-expected" }, formatQty(l.expected)),
                    h("td", { class: "num", testid: "count-diff" }, formatQty(l.difference)))))));
    }

    async validateCount() {
        const pin = this.el.countPin.value.trim();
        this.el.countPin.value = "";
        const fields = this.point ? { stock_point: this.point } : {};
        if (pin) fields.supervisor_pin = pin;
        const reply = await this.act("stock_count_validate", fields, { mutating: true });
        if (!reply) return;
        const adjustments = reply.adjustments || [];
        this.notice(t("count.validated", { by: reply.approved_by, n: adjustments.length }));
        this.el.countResult.replaceChildren(h("table", { class: "counts" },
            h("thead", {}, h("tr", {},
                h("th", {}, t("count.col_article")), h("th", { class: "num" }, t("count.col_expected")),
                h("th", { class: "num" }, t("count.col_counted")), h("th", { class: "num" }, t("count.col_diff")))),
            h("tbody", {}, ...adjustments.map((a) => h("tr", { testid: "adjustment-row", dataset: { article: a.article } },
                h("td", {}, a.name || a.article),
                h("td", { class: "num" }, formatQty(a.expected)),
                h("td", { class: "num", testid: "adjustment-counted" }, formatQty(a.counted)),
                h("td", { class: "num", testid: "adjustment-diff" }, formatQty(a.difference)))))));
        this.el.countTable.replaceChildren();
    }

    // --- receipt, exit, transfer, labels ----------------------------------------------------

    /** An article typed or scanned → its id (cached, or asked); offline, the text as typed. */
    async articleId(text) {
        const known = this.store.article(text);
        if (known && known.article) return known.article;
        if (!this.online) return text;
        try {
            const reply = await this.conn.request("price_check", { code: text });
            const a = reply.article || {};
            this.store.remember(text, { article: a.article, name: a.name, price: a.price, unit: a.unit || "", points: reply.points || [] });
            return a.article;
        } catch (error) {
            this.showError(error, { code: text });
            return null;
        }
    }

    async loadOrders() {
        const fields = { status: "open" };
        if (this.point) fields.stock_point = this.point;
        const reply = await this.act("purchase_orders", fields);
        if (!reply) return;
        const orders = reply.orders || [];
        this.el.receiptOrderList.replaceChildren(...(orders.length ? orders.map((order) => h("li", {},
            h("button", { type: "button", class: "wide", testid: "receipt-order", dataset: { order: order.order },
                onclick: () => this.chooseOrder(order) },
            `${t("receipt.order")} ${order.order} — ${order.supplier} (${t("basket.lines", { n: order.lines.length })})`)))
            : [h("li", { class: "muted" }, t("receipt.orders_none"))]));
    }

    chooseOrder(order) {
        this.order = order;
        setText(this.el.receiptOrderTitle, `${t("receipt.order")} ${order.order} — ${order.supplier}`);
        this.el.receiptLines.replaceChildren(...order.lines.filter((l) => Number(l.remaining) > 0).map((line) =>
            h("li", { testid: "receipt-line", dataset: { article: line.article } },
                h("span", { class: "name" }, `${line.name || line.article} (${t("receipt.remaining", { qty: formatQty(line.remaining) })})`),
                h("div", { class: "two" },
                    h("label", {}, t("receipt.qty"), h("input", { testid: "receipt-line-qty", inputmode: "decimal", value: line.remaining })),
                    h("label", {}, t("receipt.cost"), h("input", { testid: "receipt-line-cost", inputmode: "decimal", value: line.unit_cost || "" }))))));
        show(this.el.receiptOrderForm, true);
    }

    receiveOrder() {
        if (!this.order) return;
        const lines = [];
        for (const li of this.el.receiptLines.querySelectorAll("[data-testid=receipt-line]")) {
            const qtyText = li.querySelector("[data-testid=receipt-line-qty]").value.trim();
            const costText = li.querySelector("[data-testid=receipt-line-cost]").value.trim();
            if (!qtyText || qtyText === "0") continue;
            const qty = parseDecimal(qtyText);
            const cost = costText ? parseAmount(costText) : null;
            if (qty === null || Number(qty) <= 0) return this.showMessage(t("form.bad_qty"), qtyText);
            if (costText && cost === null) return this.showMessage(t("form.bad_cost"), costText);
            const line = { article: li.dataset.article, qty: wireQuantity(qty) };
            if (cost !== null) line.unit_cost = cost;
            lines.push(line);
        }
        if (!lines.length) return this.showMessage(t("receipt.nothing"));
        this.queueTask("purchase_receive", { order: this.order.order, lines }, { order: this.order.order });
        this.order = null;
        show(this.el.receiptOrderForm, false);
        this.el.receiptOrderList.replaceChildren();
    }

    /** The quantity field's value for the wire, or null after saying it is wrong. */
    quantity(input) {
        const qty = parseDecimal(input.value);
        if (qty === null || Number(qty) <= 0) {
            this.showMessage(t("form.bad_qty"), input.value);
            return null;
        }
        return wireQuantity(qty);
    }

    async receiveFree() {
        const e = this.el;
        const text = e.receiptArticle.value.trim();
        if (!text) return this.showMessage(t("form.need_article"));
        const qty = this.quantity(e.receiptQty);
        if (qty === null) return;
        const costText = e.receiptCost.value.trim();
        const cost = costText ? parseAmount(costText) : null;
        if (costText && cost === null) return this.showMessage(t("form.bad_cost"), costText);
        const article = await this.articleId(text);
        if (!article) return;
        const fields = { article, qty, reason: "delivery" };
        if (cost !== null) fields.unit_cost = cost;
        if (e.receiptSupplier.value.trim()) fields.supplier = e.receiptSupplier.value.trim();
        if (this.point) fields.stock_point = this.point;
        e.receiptArticle.value = "";
        e.receiptQty.value = "";
        e.receiptCost.value = "";
        this.queueTask("stock_entry", fields, { article: text });
    }

    async stockExit() {
        const e = this.el;
        const text = e.exitArticle.value.trim();
        if (!text) return this.showMessage(t("form.need_article"));
        const qty = this.quantity(e.exitQty);
        if (qty === null) return;
        const article = await this.articleId(text);
        if (!article) return;
        const fields = { article, qty, reason: e.exitReason.value };
        if (e.exitComment.value.trim()) fields.comment = e.exitComment.value.trim();
        if (this.point) fields.stock_point = this.point;
        e.exitArticle.value = "";
        e.exitQty.value = "";
        e.exitComment.value = "";
        this.queueTask("stock_exit", fields, { article: text });
    }

    async transfer() {
        const e = this.el;
        const text = e.transferArticle.value.trim();
        if (!text) return this.showMessage(t("form.need_article"));
        const qty = this.quantity(e.transferQty);
        if (qty === null) return;
        const from = e.transferFrom.value;
        const to = e.transferTo.value;
        if (!from || !to || from === to) return this.showMessage(t("transfer.same"));
        const article = await this.articleId(text);
        if (!article) return;
        e.transferArticle.value = "";
        e.transferQty.value = "";
        this.queueTask("stock_transfer", { article, qty, from, to }, { article: text });
    }

    requestLabels() {
        const e = this.el;
        const article = e.labelsArticle.value.trim();
        if (!article) return this.showMessage(t("form.need_article"));
        const copies = Number(e.labelsCopies.value.trim() || "1");
        if (!Number.isInteger(copies) || copies < 1 || copies > 100) return this.showMessage(t("form.bad_qty"), e.labelsCopies.value);
        const fields = { article, copies };
        if (this.point) fields.stock_point = this.point;
        e.labelsArticle.value = "";
        this.queueTask("label_request", fields, { article });
    }

    // --- screens ----------------------------------------------------------------------------

    showPanel(panel) {
        if (!this.panels[panel]) return;
        this.panel = panel;
        for (const [name, el] of Object.entries(this.panels)) show(el, name === panel);
        const tab = ["price", "receipt", "exit", "transfer", "labels", "due"].includes(panel) ? "tasks" : panel;
        for (const button of this.el.nav.querySelectorAll("[data-goto]")) {
            button.setAttribute("aria-pressed", String(button.dataset.goto === tab));
        }
        if (panel === "tasks") this.setPoints();
        if (panel === "due" && this.screen === "work") this.due.open();
        const focus = { basket: this.el.basketCode, lookup: this.el.lookupInput, count: this.el.countCode, price: this.el.priceCode }[panel];
        if (focus) focus.focus();
    }

    route() {
        let screen;
        if (!this.token) screen = "pair";
        else if (!this.hello) screen = this.seller ? "work" : "wait"; // offline start: keep scanning
        else if (!this.seller) screen = "sign-in";
        else screen = "work";
        show(this.el.nav, screen === "work");
        if (screen === this.screen) return;
        this.screen = screen;
        for (const [name, el] of Object.entries(this.screens)) show(el, name === screen);
        if (screen === "pair") this.pairScreen.focus();
        else if (screen === "sign-in") this.signInScreen.focus();
        else if (screen === "work") this.showPanel(this.panel);
    }

    languageChanged() {
        applyI18n();
        this.setLanes();
        this.renderAll();
        this.onConnectionState(this.conn ? this.conn.state : STATES.IDLE);
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
        show(this.el.error, false);
    }
}

DeviceStore.open().then((device) => {
    const app = new PdaApp(device);
    window.pda = app; // for the browser test (and a curious technician): the queue, the baskets
    app.boot();
});
