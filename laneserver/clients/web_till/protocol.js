// The websocket client of the laneserver protocol (docs: /work/shared/PROTOCOL.md).
//
// One Connection per page. It owns the socket and is the only code that talks to it:
//   - request(type, fields, {mutating}) sends {"type", "id", ...fields} and returns a
//     Promise for the reply with the same id ("re"): resolved with an `ok` frame,
//     rejected with a ServerError for an `error` frame;
//   - frames with no "re" are events, handed to onEvent;
//   - the socket reconnects by itself with backoff (0.5 s doubling to 3 s);
//   - after each (re)connection the page's handshake (hello) runs first; the other
//     requests wait for it;
//   - exactly once: a mutating request carries a `key` chosen once; a request still
//     unanswered when the socket dropped is sent again, with the SAME key, after the
//     next successful handshake (the server answers a repeated key with the first
//     reply and applies nothing twice);
//   - optionally (persistKey) the unanswered mutating requests are kept in
//     sessionStorage, so a reload of the page re-sends them too; their replies,
//     which nobody awaits any more, go to onUnclaimed with the context the page gave
//     the request (request's opts.context: what its messages need, e.g. a reprint's kind);
//   - a reload forgets the seller (the page must sign in again): a restored request
//     made while a seller was signed in (request's opts.seller) waits, unsent, until
//     the page says a seller is signed in again (setSeller); then it leaves with its
//     own id and key. One the server still refuses `not_signed_in` (signed out again
//     meanwhile) waits for the next sign-in instead of being settled. Restored
//     requests made with nobody signed in leave at once (onWaiting hears changes).
//
// Invariants:
//   - a frame is never sent before the handshake of the current socket succeeded,
//     except the handshake's own requests ({handshake: true});
//   - a pending request is settled exactly once (reply, stop(), or giving up);
//   - a handshake request is never re-sent: a new handshake is run instead.

export const STATES = Object.freeze({
    IDLE: "idle",             // not started, or stopped (no reconnection)
    CONNECTING: "connecting", // socket opening
    HANDSHAKE: "handshake",   // socket open, hello in progress
    READY: "ready",           // hello done: requests flow
    LOST: "lost",             // socket closed, waiting to reconnect
});

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 3000;
const PERSIST_MAX_AGE_MS = 10 * 60 * 1000;

/** An `error` reply from the server: code, message and the other fields. */
export class ServerError extends Error {
    constructor(frame) {
        super(frame.message || frame.code || "error");
        this.name = "ServerError";
        this.code = frame.code || "internal";
        this.frame = frame;
    }
}

/** The request could not be delivered (connection stopped). */
export class ConnectionStopped extends Error {
    constructor(message = "connection stopped") {
        super(message);
        this.name = "ConnectionStopped";
        this.code = "connection_stopped";
    }
}

/** A random idempotency key: crypto.randomUUID where available (secure contexts), else a v4 UUID by hand. */
export function newKey() {
    const c = globalThis.crypto;
    if (c && typeof c.randomUUID === "function") {
        return c.randomUUID();
    }
    const bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") {
        c.getRandomValues(bytes);
    } else {
        for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The websocket URL of the page's own server. */
export function defaultUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
}

export class Connection {
    /**
     * @param {object} options
     * @param {string} [options.url] websocket URL (default: this host's /ws)
     * @param {(conn: Connection) => Promise<void>} options.handshake runs after each open;
     *        send its requests with {handshake: true}; throw to drop the socket and retry
     * @param {(event: object) => void} [options.onEvent] pushed frames (no "re")
     * @param {(state: string, info: object) => void} [options.onState]
     * @param {(reply: object, request: object, context: object) => void} [options.onUnclaimed]
     *        replies to requests restored from sessionStorage after a reload, with the
     *        context they were sent with
     * @param {(why: string) => void} [options.onWaiting] the restored requests changed:
     *        "sent" (a seller signed in), "answered", "dropped", or "not_signed_in" (the
     *        server refused one for want of a seller: it waits for the next sign-in)
     * @param {string} [options.persistKey] sessionStorage key for unanswered mutating requests
     * @param {number} [options.replyTimeoutMs] a reply later than this drops the socket
     *        (so a half-dead connection is replaced and the request re-sent)
     */
    constructor(options) {
        this.url = options.url || defaultUrl();
        this.handshake = options.handshake;
        this.onEvent = options.onEvent || (() => {});
        this.onState = options.onState || (() => {});
        this.onUnclaimed = options.onUnclaimed || (() => {});
        this.onWaiting = options.onWaiting || (() => {});
        this.persistKey = options.persistKey || null;
        this.replyTimeoutMs = options.replyTimeoutMs || 20000;

        this.state = STATES.IDLE;
        this.ws = null;
        this.generation = 0;          // one per socket
        this.backoff = BACKOFF_FIRST_MS;
        this.retryTimer = null;
        this.watchdog = null;
        this.everReady = false;
        this.prefix = newKey().slice(0, 8);
        this.counter = 0;
        /** the seller the server has signed in on this connection, as the page last said (setSeller) */
        this.seller = null;
        /** id → {frame, resolve, reject, handshake, mutating, context, seller, needsSeller, restored,
         *  sentGen, sentAt, createdAt} in send order */
        this.pending = new Map();
        this._restore();
    }

    // --- life -----------------------------------------------------------------------

    /** Connect (again) and keep reconnecting until stop(). */
    start() {
        if (this.state !== STATES.IDLE) return;
        this.backoff = BACKOFF_FIRST_MS;
        this._open();
        if (!this.watchdog) {
            this.watchdog = setInterval(() => this._checkTimeouts(), 1000);
        }
    }

    /** Close for good: no reconnection; every pending request is rejected with `reason`. */
    stop(reason = new ConnectionStopped()) {
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        clearInterval(this.watchdog);
        this.watchdog = null;
        const ws = this.ws;
        this.ws = null;
        this.generation++;
        if (ws) {
            try { ws.close(1000, "stop"); } catch (_) { /* already closed */ }
        }
        for (const [id, entry] of this.pending) {
            this.pending.delete(id);
            entry.reject(reason);
        }
        this._persist();
        this._setState(STATES.IDLE);
    }

    /** Drop the current socket now and reconnect (e.g. a handshake that must be redone). */
    reconnect() {
        if (this.ws) this._lose(this.ws, "reconnect");
    }

    /** While waiting to reconnect: try now (a "retry now" button, the browser back online). */
    retryNow() {
        if (this.state !== STATES.LOST || !this.retryTimer) return;
        this.backoff = BACKOFF_FIRST_MS;
        this._open();
    }

    get ready() {
        return this.state === STATES.READY;
    }

    /** Requests sent but not answered yet (for a "sending…" indicator). */
    get inFlight() {
        return this.pending.size;
    }

    /**
     * Who is signed in on this connection, as the page knows it: after each hello (in
     * the handshake, before the waiting requests leave), after sign_in, sign_out.
     * A seller named (any seller: the server remembers a key per device, so a request
     * it already applied gets its first reply whoever asks again) releases the
     * restored requests that wait for one.
     * @param {string|null} seller
     */
    setSeller(seller) {
        this.seller = seller || null;
        if (!this.seller || this.state !== STATES.READY) return;
        let sent = false;
        for (const entry of this.pending.values()) {
            if (!entry.handshake && entry.sentGen !== this.generation && !this._waits(entry)) {
                this._send(entry);
                sent = true;
            }
        }
        if (sent) this._waitingChanged("sent");
    }

    /** The requests restored from a previous page not answered yet, in their order: {frame,
     *  context, seller, waiting} (waiting: not sent, a seller must sign in first). */
    get restored() {
        const out = [];
        for (const entry of this.pending.values()) {
            if (entry.restored) {
                out.push({ frame: entry.frame, context: entry.context, seller: entry.seller, waiting: this._waits(entry) });
            }
        }
        return out;
    }

    // --- requests -------------------------------------------------------------------

    /**
     * Send a request; resolves with the `ok` frame, rejects with a ServerError.
     * @param {string} type the verb
     * @param {object} [fields]
     * @param {object} [opts]
     * @param {boolean} [opts.mutating] carry an idempotency key (and keep it on re-sends)
     * @param {string} [opts.key] a key of the caller's choosing (mutating only)
     * @param {boolean} [opts.handshake] part of the handshake: sent at once, never re-sent
     * @param {object} [opts.context] plain data kept with a mutating request across a
     *        reload (its reply then goes to onUnclaimed with it)
     * @param {string} [opts.seller] the seller signed in when it was asked: restored
     *        after a reload, the request waits until a seller signs in again
     */
    request(type, fields = {}, opts = {}) {
        const id = `${this.prefix}-${++this.counter}`;
        const frame = { type, id, ...stripUndefined(fields) };
        if (opts.mutating) frame.key = opts.key || newKey();
        return new Promise((resolve, reject) => {
            const entry = {
                frame, resolve, reject,
                handshake: !!opts.handshake,
                mutating: !!opts.mutating,
                context: opts.context || null,
                seller: opts.seller || null,
                needsSeller: !!opts.seller,
                restored: false,
                sentGen: -1, sentAt: 0, createdAt: Date.now(),
            };
            this.pending.set(id, entry);
            this._persist();
            if (entry.handshake ? this.state === STATES.HANDSHAKE : this.state === STATES.READY) {
                this._send(entry);
            } else if (entry.handshake) {
                this.pending.delete(id);
                reject(new ConnectionStopped("not connected"));
            }
            // otherwise it waits for the next successful handshake
        });
    }

    // --- internals ------------------------------------------------------------------

    _setState(state, info = {}) {
        this.state = state;
        try { this.onState(state, info); } catch (e) { console.error(e); }
    }

    _open() {
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        const gen = ++this.generation;
        let ws;
        try {
            ws = new WebSocket(this.url);
        } catch (e) {
            console.error("websocket", e);
            this._scheduleReconnect();
            return;
        }
        this.ws = ws;
        this._setState(STATES.CONNECTING, { first: !this.everReady });
        ws.onopen = () => {
            if (gen !== this.generation) return;
            this._runHandshake(ws, gen);
        };
        ws.onmessage = (message) => {
            if (gen !== this.generation) return;
            this._receive(message.data);
        };
        ws.onclose = () => {
            if (gen !== this.generation) return;
            this._lose(ws, "closed");
        };
        ws.onerror = () => { /* onclose follows */ };
    }

    async _runHandshake(ws, gen) {
        this._setState(STATES.HANDSHAKE);
        try {
            await this.handshake(this);
        } catch (error) {
            if (gen !== this.generation) return; // socket already gone, or stopped
            if (this.state === STATES.IDLE) return; // the handshake chose to stop()
            console.warn("handshake failed", error);
            this._lose(ws, "handshake failed");
            return;
        }
        if (gen !== this.generation) return;
        this.backoff = BACKOFF_FIRST_MS;
        this.everReady = true;
        this.state = STATES.READY;
        // Everything that waited, in the order it was asked: first the requests the
        // last socket took with it unanswered (same frame, same key), then new ones.
        // Only then the page hears READY, so what it sends then (a resync) comes after.
        // Restored requests that need a seller wait for one (setSeller).
        for (const entry of this.pending.values()) {
            if (!entry.handshake && entry.sentGen !== gen && !this._waits(entry)) this._send(entry);
        }
        this._setState(STATES.READY);
    }

    _send(entry) {
        try {
            this.ws.send(JSON.stringify(entry.frame));
            entry.sentGen = this.generation;
            entry.sentAt = Date.now();
        } catch (e) {
            // The socket is closing: onclose will come, and the entry is re-sent after it.
            console.warn("send failed", e);
        }
    }

    _receive(data) {
        let frame;
        try {
            frame = JSON.parse(data);
        } catch (e) {
            console.error("not JSON from the server", data);
            return;
        }
        if (frame === null || typeof frame !== "object") return;
        if (frame.re === undefined) {
            try { this.onEvent(frame); } catch (e) { console.error(e); }
            return;
        }
        const entry = this.pending.get(frame.re);
        if (entry === undefined) {
            if (frame.re !== null) console.warn("reply to an unknown request", frame);
            else if (frame.type === "error") {
                // A frame the server could not read at all: say so, it is a client bug.
                try { this.onEvent({ type: "unaddressed_error", ...frame }); } catch (e) { console.error(e); }
            }
            return;
        }
        if (entry.restored && entry.needsSeller && frame.type === "error" && frame.code === "not_signed_in") {
            // Nobody signed in after all (signed out meanwhile): not an answer to give
            // up on; it waits, with its key, for the next sign-in.
            entry.sentGen = -1;
            this.seller = null;
            this._waitingChanged("not_signed_in");
            return;
        }
        this.pending.delete(frame.re);
        this._persist();
        if (entry.restored) this._waitingChanged("answered");
        if (frame.type === "error") entry.reject(new ServerError(frame));
        else entry.resolve(frame);
    }

    _lose(ws, why) {
        if (ws !== this.ws) return;
        this.ws = null;
        this.generation++;
        try { ws.close(); } catch (_) { /* already closed */ }
        // Handshake requests die with their socket; the next handshake sends new ones.
        for (const [id, entry] of this.pending) {
            if (entry.handshake) {
                this.pending.delete(id);
                entry.reject(new ConnectionStopped(why));
            }
        }
        if (this.state === STATES.IDLE) return;
        this._setState(STATES.LOST, { why });
        this._scheduleReconnect();
    }

    _scheduleReconnect() {
        const delay = this.backoff;
        this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            if (this.state !== STATES.IDLE) this._open();
        }, delay);
    }

    _checkTimeouts() {
        if (!this.ws) return;
        const now = Date.now();
        for (const entry of this.pending.values()) {
            if (entry.sentGen === this.generation && now - entry.sentAt > this.replyTimeoutMs) {
                console.warn("no reply in time: reconnecting", entry.frame.type);
                this._lose(this.ws, "timeout");
                return;
            }
        }
    }

    // --- surviving a reload (sessionStorage) ------------------------------------------

    _persist() {
        if (!this.persistKey) return;
        const keep = [];
        for (const entry of this.pending.values()) {
            if (entry.mutating) {
                keep.push({ frame: entry.frame, createdAt: entry.createdAt, context: entry.context,
                            seller: entry.seller, needsSeller: entry.needsSeller });
            }
        }
        try {
            if (keep.length) sessionStorage.setItem(this.persistKey, JSON.stringify(keep));
            else sessionStorage.removeItem(this.persistKey);
        } catch (_) { /* storage full or disabled: only reloads lose the guarantee */ }
    }

    _restore() {
        if (!this.persistKey) return;
        let saved = [];
        try {
            saved = JSON.parse(sessionStorage.getItem(this.persistKey) || "[]");
        } catch (_) { saved = []; }
        const now = Date.now();
        for (const item of Array.isArray(saved) ? saved : []) {
            if (!item || !item.frame || typeof item.frame.id !== "string") continue;
            if (now - (item.createdAt || 0) > PERSIST_MAX_AGE_MS) continue; // too old to replay
            const request = item.frame;
            const context = item.context && typeof item.context === "object" ? item.context : {};
            const seller = typeof item.seller === "string" ? item.seller : null;
            // Saved by a page that did not say (older): a till's mutating requests need a seller.
            const needsSeller = typeof item.needsSeller === "boolean" ? item.needsSeller : true;
            this.pending.set(request.id, {
                frame: request,
                resolve: (reply) => this.onUnclaimed(reply, request, context),
                reject: (error) => this.onUnclaimed(
                    error.frame || { type: "error", code: error.code, message: error.message }, request, context),
                handshake: false, mutating: true, context, seller, needsSeller, restored: true,
                sentGen: -1, sentAt: 0, createdAt: item.createdAt,
            });
        }
    }

    /** A restored request that needs a seller while none is signed in: not sent yet. */
    _waits(entry) {
        return entry.restored && entry.needsSeller && !this.seller;
    }

    _waitingChanged(why) {
        try { this.onWaiting(why); } catch (e) { console.error(e); }
    }

    /** Forget requests restored from a previous page (e.g. the device was paired again). */
    dropRestored() {
        for (const [id, entry] of this.pending) {
            if (entry.restored) this.pending.delete(id);
        }
        this._persist();
        this._waitingChanged("dropped");
    }
}

function stripUndefined(fields) {
    const out = {};
    for (const [k, v] of Object.entries(fields)) {
        if (v !== undefined) out[k] = v;
    }
    return out;
}
