// The PDA's basket, kept in localStorage so a reload (or a flat battery) loses nothing.
//
// State: {basket, lines: [{code, qty}], outbox: [{basket, lane, lines, key, error?}]}
//   - `basket` is the id of the basket being filled, chosen here when it starts;
//   - "Vider dans la caisse" moves the basket, with its id, into the outbox and
//     starts a new one at once (scanning goes on while the server is away);
//   - an outbox entry is sent as `basket_empty` with that same id and key until
//     the server accepts it, so a retry after a lost connection (or a reload)
//     empties it once; a refusal (nothing changed) puts its lines back.
// Quantities are decimal strings ("2", "0.5"), added exactly.

import { newKey } from "../till/protocol.js";

const STORE_KEY = "laneserver.pda.basket";

export class BasketStore {
    constructor(storage = globalThis.localStorage) {
        this.storage = storage;
        this.state = this._load();
    }

    get id() { return this.state.basket; }
    get lines() { return this.state.lines; }
    get outbox() { return this.state.outbox; }

    /** Adds `qty` of `code` (merged with a line of the same code). */
    add(code, qty = "1") {
        const line = this.state.lines.find((l) => l.code === code);
        if (line) line.qty = addDecimal(line.qty, qty);
        else this.state.lines.push({ code, qty: String(qty) });
        this._save();
    }

    /** Changes a line's quantity by `delta` ("1" or "-1"); a line at zero or less goes. */
    bump(code, delta) {
        const line = this.state.lines.find((l) => l.code === code);
        if (!line) return;
        line.qty = addDecimal(line.qty, delta);
        if (Number(line.qty) <= 0) this.remove(code);
        else this._save();
    }

    remove(code) {
        this.state.lines = this.state.lines.filter((l) => l.code !== code);
        this._save();
    }

    /** Seals the current basket for `lane` into the outbox; a new basket starts. */
    seal(lane) {
        const entry = {
            basket: this.state.basket,
            lane,
            lines: this.state.lines.map((l) => ({ ...l })),
            key: `basket:${this.state.basket}`,
        };
        this.state.outbox.push(entry);
        this.state.basket = newKey();
        this.state.lines = [];
        this._save();
        return entry;
    }

    /** The server took the basket: it leaves the outbox. */
    accepted(basketId) {
        this.state.outbox = this.state.outbox.filter((e) => e.basket !== basketId);
        this._save();
    }

    /** The server refused it (nothing changed): its lines go back into the current basket. */
    refused(basketId) {
        const entry = this.state.outbox.find((e) => e.basket === basketId);
        if (!entry) return;
        this.state.outbox = this.state.outbox.filter((e) => e !== entry);
        for (const line of entry.lines) this.add(line.code, line.qty);
        this._save();
    }

    /** The outcome is unknown (server busy): keep it, to retry with the same id. */
    failed(basketId, message) {
        const entry = this.state.outbox.find((e) => e.basket === basketId);
        if (entry) entry.error = message;
        this._save();
    }

    clearError(basketId) {
        const entry = this.state.outbox.find((e) => e.basket === basketId);
        if (entry) delete entry.error;
        this._save();
    }

    _load() {
        let saved = null;
        try { saved = JSON.parse(this.storage.getItem(STORE_KEY) || "null"); } catch (_) { saved = null; }
        const fresh = { basket: newKey(), lines: [], outbox: [] };
        if (!saved || typeof saved.basket !== "string") return fresh;
        return {
            basket: saved.basket,
            lines: Array.isArray(saved.lines) ? saved.lines.filter((l) => l && l.code) : [],
            outbox: Array.isArray(saved.outbox) ? saved.outbox.filter((e) => e && e.basket && e.lane) : [],
        };
    }

    _save() {
        try {
            this.storage.setItem(STORE_KEY, JSON.stringify(this.state));
        } catch (_) { /* storage full or disabled: the basket lives for this page only */ }
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
    let s = (neg ? -sum : sum).toString().padStart(places + 1, "0");
    let out = places ? `${s.slice(0, -places)}.${s.slice(-places)}` : s;
    if (places) out = out.replace(/0+$/, "").replace(/\.$/, "");
    return (neg ? "-" : "") + out;
}
