// Pairing by code: the 6 digits store IT read out (`laneserver pair till --lane 1 --code`)
// are sent once, on a websocket of their own, in a `pair` request; the server answers
// with the device's token, which the page keeps (localStorage) and says hello with.
// Shared by the till and the PDA.

import { ServerError, defaultUrl } from "./protocol.js";

const PAIR_TIMEOUT_MS = 10000;

/**
 * The `ok` reply ({token, device, kind, lane}) to `pair` with `code`, or a ServerError
 * (`wrong_code`, `bad_request`, `forbidden`, `conflict` — a code made for the other kind
 * of device — or `unavailable` when the server cannot be reached).
 * @param {string} code
 * @param {"till"|"pda"} kind  the kind of device this page is
 * @param {string} [url]
 */
export function pairWithCode(code, kind, url = defaultUrl()) {
    return new Promise((resolve, reject) => {
        let done = false;
        let ws;
        const finish = (settle, value) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            try { ws.close(); } catch (_) { /* closed already */ }
            settle(value);
        };
        const unreachable = () => finish(reject, new ServerError({ code: "unavailable", message: "no answer from the server" }));
        const timer = setTimeout(unreachable, PAIR_TIMEOUT_MS);
        try {
            ws = new WebSocket(url);
        } catch (_) {
            unreachable();
            return;
        }
        ws.onopen = () => ws.send(JSON.stringify({ type: "pair", id: "pair", code, kind }));
        ws.onmessage = (message) => {
            let frame;
            try { frame = JSON.parse(message.data); } catch (_) { return; }
            if (frame.re !== "pair") return;
            if (frame.type === "ok") finish(resolve, frame);
            else finish(reject, new ServerError(frame));
        };
        ws.onerror = unreachable;
        ws.onclose = unreachable;
    });
}
