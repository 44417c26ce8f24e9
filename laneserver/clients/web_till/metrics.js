// Always-on, cheap timing of what the cashier feels, read by the bench
// (bench/till_page.py) and by anyone with the browser's console:
//
//   window.__till_ready      ms from navigation start until the till was ready to
//                            scan (sell screen shown, ticket synced, code field focused);
//                            also performance.mark("till:ready")
//   window.__till_metrics    one entry per scan, newest last (at most 1000):
//                            {code, line, sent, reply, rendered, painted, script, ms}
//                            sent     = the scan left the code field (Enter)
//                            reply    = its reply was handled
//                            rendered = its line was in the DOM
//                            painted  = the next animation frame after that
//                            script   = ms the page spent drawing that ticket
//                            ms       = painted − sent (scan → line rendered)
//
// A scan's line is drawn by its reply (the server sends the page no ticket event for
// its own changes); should a newer ticket from another session (an event) show it
// first, the first render that showed the line counts.

const MAX_SAMPLES = 1000;

export class ScanMetrics {
    constructor(target = globalThis) {
        this.samples = [];
        target.__till_metrics = this.samples;
        this.target = target;
        this.seen = new Map(); // line number → {rendered, painted: Promise<number>}
    }

    /** A scan leaves the page now. */
    start(code) {
        return { code, sent: performance.now() };
    }

    /** A ticket was drawn (in `cost` ms): remember when each of its lines first appeared. */
    rendered(ticket, cost = 0) {
        if (!ticket || !ticket.lines.length) {
            this.seen.clear();
            return;
        }
        let frame = null;
        const now = performance.now();
        for (const line of ticket.lines) {
            if (this.seen.has(line.line)) continue;
            if (frame === null) frame = nextFrame();
            this.seen.set(line.line, { rendered: now, painted: frame, script: cost });
        }
        if (this.seen.size > 2 * ticket.lines.length + 50) {
            const live = new Set(ticket.lines.map((l) => l.line));
            for (const key of this.seen.keys()) if (!live.has(key)) this.seen.delete(key);
        }
    }

    /** The scan's reply came (after the page drew what it carries). */
    async done(mark, ticket) {
        const reply = performance.now();
        const last = ticket && ticket.lines.length ? ticket.lines[ticket.lines.length - 1] : null;
        if (!last) return;
        const seen = this.seen.get(last.line) || { rendered: reply, painted: nextFrame(), script: 0 };
        const painted = await seen.painted;
        this.samples.push({
            code: mark.code, line: last.line, sent: mark.sent, reply, rendered: seen.rendered,
            painted, script: seen.script, ms: Math.max(painted, seen.rendered) - mark.sent,
        });
        if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES);
    }

    /** The till is ready to scan for the first time since the page loaded. */
    ready() {
        if (this.target.__till_ready !== undefined) return;
        this.target.__till_ready = performance.now();
        try { performance.mark("till:ready"); } catch (_) { /* old browser */ }
    }
}

function nextFrame() {
    return new Promise((resolve) => {
        if (typeof requestAnimationFrame !== "function" || document.hidden) {
            resolve(performance.now());
            return;
        }
        requestAnimationFrame(() => resolve(performance.now()));
    });
}
