// What the PDA keeps on the device (IndexedDB, database "laneserver-pda"), so a reload,
// a flat battery or the Wi-Fi dropping in the back of the shop loses nothing:
//
//   baskets  several named baskets at once: {id, name, lines: [{code, qty, problem?}],
//            state: "open" | "queued" | "ask", lane?, created}. `id` is the basket id the
//            server sees (a UUID chosen here, unique per device): emptying or parking
//            the same id twice adds the lines once (docs/protocol.md, basket_empty).
//   queue    every action waiting for the server, IN ORDER: {n, verb, fields, key,
//            basket?}. Basket verbs carry NO key (the basket id is their idempotency);
//            the other mutating verbs carry a `key` chosen when the action was queued,
//            so a re-send after a lost reply is applied once. An action leaves the queue
//            when the server answered (ok or a refusal); a lost connection keeps it.
//   failures refused actions (not basket ones: those go back to their basket) to show.
//   articles what the server said of each scanned code (price_check), for the lines'
//            name, price and stock while offline.
//   parked   the last parked baskets (barcode), to show again.
//   due      the last list of the orders due today (due.js): {at, orders}, shown
//            offline with its time (its own IndexedDB key, "due").
//
// All in memory, written to IndexedDB after each change (in order, one write at a
// time). Quantities are decimal strings, added exactly.

import { newKey } from "../till/protocol.js";

const DB_NAME = "laneserver-pda";
const STORE = "kv";
const OLD_KEY = "laneserver.pda.basket"; // the localStorage basket of the page before

function openDb() {
    return new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(STORE);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
}

function idbGet(db, key) {
    return new Promise((resolve, reject) => {
        const request = db.transaction(STORE, "readonly").objectStore(STORE).get(key);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
}

function idbPut(db, key, value) {
    return new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, "readwrite");
        tx.objectStore(STORE).put(value, key);
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
    });
}

export class DeviceStore {
    /** Opens the device's database (a page without IndexedDB keeps everything in memory). */
    static async open() {
        let db = null;
        let saved = null;
        let articles = null;
        let due = null;
        try {
            db = await openDb();
            saved = await idbGet(db, "state");
            articles = await idbGet(db, "articles");
            due = await idbGet(db, "due");
        } catch (error) {
            console.warn("IndexedDB unavailable: the baskets live in this page only", error);
            db = null;
        }
        const store = new DeviceStore(db, saved, articles, due);
        if (!saved) store.adoptOldBasket();
        return store;
    }

    /**
     * The page before IndexedDB kept one basket and its outbox in localStorage
     * ("laneserver.pda.basket"): a device updated in the middle of a basket keeps it —
     * its lines, and its sealed baskets queued again under their ids.
     */
    adoptOldBasket(storage = globalThis.localStorage) {
        let old = null;
        try { old = JSON.parse(storage.getItem(OLD_KEY) || "null"); } catch (_) { old = null; }
        if (!old || typeof old !== "object") return;
        for (const entry of Array.isArray(old.outbox) ? old.outbox : []) {
            if (!entry || !entry.basket || !entry.lane || !Array.isArray(entry.lines)) continue;
            const basket = { id: entry.basket, name: null, number: ++this.state.names, state: "open", created: Date.now(),
                lines: entry.lines.filter((l) => l && l.code).map((l) => ({ code: l.code, qty: String(l.qty) })) };
            this.state.baskets.push(basket);
            const lines = basket.lines.map((l) => ({ code: l.code, qty: wireQuantity(l.qty) }));
            this.enqueue("basket_empty", { basket: basket.id, lane: entry.lane, lines }, { basket, label: { name: null, lane: entry.lane } });
        }
        const current = this.current;
        for (const line of Array.isArray(old.lines) ? old.lines : []) {
            if (line && line.code) this.add(current, line.code, String(line.qty || "1"));
        }
        try { storage.removeItem(OLD_KEY); } catch (_) { /* nothing to remove */ }
        this.save();
    }

    constructor(db, saved, articles, due = null) {
        this.db = db;
        this.writing = Promise.resolve();
        const state = saved && typeof saved === "object" ? saved : {};
        this.state = {
            seq: Number(state.seq) || 0,
            names: Number(state.names) || 0,
            current: typeof state.current === "string" ? state.current : null,
            baskets: Array.isArray(state.baskets) ? state.baskets.filter((b) => b && b.id && Array.isArray(b.lines)) : [],
            queue: Array.isArray(state.queue) ? state.queue.filter((a) => a && a.verb && a.fields) : [],
            failures: Array.isArray(state.failures) ? state.failures : [],
            parked: Array.isArray(state.parked) ? state.parked : [],
        };
        this.articles = articles && typeof articles === "object" ? articles : {};
        this.due = due && typeof due === "object" && Array.isArray(due.orders) ? due : null;
        if (!this.state.baskets.length) this.newBasket();
        if (!this.basket(this.state.current)) this.state.current = this.state.baskets[0].id;
    }

    // --- saving ---------------------------------------------------------------------

    save() {
        if (!this.db) return this.writing;
        const snapshot = JSON.parse(JSON.stringify(this.state));
        this.writing = this.writing.then(() => idbPut(this.db, "state", snapshot)).catch((e) => console.error(e));
        return this.writing;
    }

    saveArticles() {
        if (!this.db) return;
        const snapshot = { ...this.articles };
        this.writing = this.writing.then(() => idbPut(this.db, "articles", snapshot)).catch((e) => console.error(e));
    }

    /** Resolves when everything changed so far is on the device (the test waits for it). */
    flushed() {
        return this.writing;
    }

    // --- baskets --------------------------------------------------------------------

    get baskets() { return this.state.baskets; }
    get current() { return this.basket(this.state.current); }
    get queue() { return this.state.queue; }
    get failures() { return this.state.failures; }
    get parked() { return this.state.parked; }

    basket(id) {
        return this.state.baskets.find((b) => b.id === id) || null;
    }

    newBasket(name = null) {
        const number = ++this.state.names;
        const basket = { id: newKey(), name, number, lines: [], state: "open", created: Date.now() };
        this.state.baskets.push(basket);
        this.state.current = basket.id;
        this.save();
        return basket;
    }

    select(id) {
        if (this.basket(id)) this.state.current = id;
        this.save();
    }

    rename(id, name) {
        const basket = this.basket(id);
        if (basket) basket.name = name || null;
        this.save();
    }

    /** Drops a basket that is not waiting for the server; another becomes current. */
    drop(id) {
        const basket = this.basket(id);
        if (!basket || basket.state === "queued") return;
        this.state.baskets = this.state.baskets.filter((b) => b !== basket);
        if (!this.state.baskets.length) this.newBasket();
        if (this.state.current === id) this.state.current = this.state.baskets[this.state.baskets.length - 1].id;
        this.save();
    }

    /** Adds `qty` of `code` to an open basket (merged with its line of the same code). */
    add(basket, code, qty = "1") {
        if (basket.state !== "open") return false;
        const line = basket.lines.find((l) => l.code === code);
        if (line) line.qty = addDecimal(line.qty, qty);
        else basket.lines.push({ code, qty: String(qty) });
        this.save();
        return true;
    }

    /** Changes a line's quantity by `delta`; a line at zero or less goes. */
    bump(basket, code, delta) {
        const line = basket.lines.find((l) => l.code === code);
        if (!line || basket.state !== "open") return;
        line.qty = addDecimal(line.qty, delta);
        delete line.problem;
        if (Number(line.qty) <= 0) this.remove(basket, code);
        else this.save();
    }

    remove(basket, code) {
        if (basket.state !== "open") return;
        basket.lines = basket.lines.filter((l) => l.code !== code);
        this.save();
    }

    /** The server named these lines (by index in the lines sent): flag them. */
    flag(basket, sent, problems) {
        for (const p of problems) {
            const code = sent[p.index] ? sent[p.index].code : p.code;
            const line = basket.lines.find((l) => l.code === code);
            if (line) line.problem = { problem: p.problem || p.code || "bad_request", message: p.message || "" };
        }
        this.save();
    }

    // --- the queue ------------------------------------------------------------------

    /**
     * Queues `verb` with `fields`. Basket verbs lock their basket (state "queued") and
     * carry no key; the others get a fresh key now, kept for every re-send.
     */
    enqueue(verb, fields, { basket = null, label = null } = {}) {
        const action = { n: ++this.state.seq, verb, fields, key: basket ? null : newKey(), basket: basket ? basket.id : null, label };
        if (basket) basket.state = "queued";
        this.state.queue.push(action);
        this.save();
        return action;
    }

    /** The server answered the action (it leaves the queue). */
    settle(action) {
        this.state.queue = this.state.queue.filter((a) => a.n !== action.n);
        this.save();
    }

    fail(action, text) {
        this.settle(action);
        this.state.failures.push({ n: action.n, verb: action.verb, fields: action.fields, label: action.label, text });
        this.save();
    }

    dismiss(n) {
        this.state.failures = this.state.failures.filter((f) => f.n !== n);
        this.save();
    }

    /** A parked basket's barcode, kept to be shown again (the last 10). */
    addParked(entry) {
        this.state.parked.unshift(entry);
        this.state.parked = this.state.parked.slice(0, 10);
        this.save();
    }

    // --- the orders due today (due.js) -------------------------------------------------

    /** The last list of the orders due today ({at, orders}) or null: none kept yet. */
    get dueList() {
        return this.due;
    }

    keepDueList(orders, day = null, at = Date.now()) {
        this.due = { at, orders, day };
        if (!this.db) return this.writing;
        const snapshot = JSON.parse(JSON.stringify(this.due));
        this.writing = this.writing.then(() => idbPut(this.db, "due", snapshot)).catch((e) => console.error(e));
        return this.writing;
    }

    // --- what the server said of codes ------------------------------------------------

    article(code) {
        return this.articles[code] || null;
    }

    remember(code, info) {
        this.articles[code] = { ...info, at: Date.now() };
        this.saveArticles();
    }
}

/** Exact sum of two decimal strings ("0.1" + "0.2" = "0.3"). */
export function addDecimal(a, b) {
    const [ai, af = ""] = String(a).split(".");
    const [bi, bf = ""] = String(b).split(".");
    const places = Math.max(af.length, bf.length);
    const scale = (i, f) => {
        const neg = i.trim().startsWith("-");
        const digits = BigInt(i.replace("-", "") + f.padEnd(places, "0") || "0");
        return neg ? -digits : digits;
    };
    const sum = scale(ai, af) + scale(bi, bf);
    const neg = sum < 0n;
    const s = (neg ? -sum : sum).toString().padStart(places + 1, "0");
    let out = places ? `${s.slice(0, -places)}.${s.slice(-places)}` : s;
    if (places) out = out.replace(/0+$/, "").replace(/\.$/, "");
    return (neg ? "-" : "") + out;
}

/** A quantity string for the wire: an integer when it is one ("3" → 3), else the string. */
export function wireQuantity(qty) {
    return /^\d+$/.test(String(qty)) ? Number(qty) : String(qty);
}
