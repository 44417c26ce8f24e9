// The panels over the selling screen: held tickets, article search, price and stock
// of an article, the confirmation dialog and the supervisor's PIN prompt. A panel closes with its button,
// Escape, a tap on the dimmed background, or the next scan (the scan still counts).

import { byTestId, h, markKeyboardNav, setText, show } from "./dom.js";
import { t } from "./i18n.js";
import { renderHeld, renderInfo, renderSearch } from "./render.js";

export class Overlay {
    constructor(testid, { onClose = () => {}, modal = false } = {}) {
        this.el = byTestId(testid);
        this.onClose = onClose;
        if (!modal) {
            this.el.addEventListener("click", (event) => {
                if (event.target === this.el) this.close();
            });
        }
    }

    get isOpen() {
        return !this.el.hidden;
    }

    open() {
        show(this.el, true);
    }

    close() {
        if (!this.isOpen) return;
        show(this.el, false);
        this.onClose();
    }
}

/** Every key of the till, in the page's language: the help overlay (`?`). */
export const HELP_KEYS = [
    ["help.k_scan", "help.scan"], ["help.k_qty", "help.qty"], ["help.k_arrows", "help.arrows"],
    ["help.k_plusminus", "help.plusminus"], ["help.k_delete", "help.delete"], ["help.k_subtotal", "help.subtotal"], ["F1", "help.f1"],
    ["F2", "help.f2"], ["F3", "help.f3"], ["F4", "help.f4"], ["F5", "help.f5"], ["F6", "help.f6"],
    ["F7", "help.f7"], ["F8", "help.f8"], ["F9", "help.f9"], ["F10", "help.f10"],
    ["help.k_pay_enter", "help.pay_enter"], ["help.k_tab", "help.tab"], ["help.k_enter", "help.enter"],
    ["help.k_escape", "help.escape"], ["?", "help.help"],
];

export function bindHelpPanel(app) {
    const body = byTestId("help-keys").querySelector("tbody");
    const overlay = new Overlay("help-panel", { onClose: () => app.refocus() });
    byTestId("help-close").addEventListener("click", () => overlay.close());
    function draw() {
        body.replaceChildren(...HELP_KEYS.map(([key, what]) =>
            h("tr", { testid: "help-key" },
                h("th", {}, h("kbd", {}, key.startsWith("help.") ? t(key) : key)),
                h("td", {}, t(what)))));
    }
    return {
        overlay,
        open() {
            draw();
            overlay.open();
        },
        redraw() { if (overlay.isOpen) draw(); },
    };
}

/** Held tickets of this lane: seller, total, age; a tap recalls. */
export function bindHeldPanel(app) {
    const list = byTestId("held-list");
    const count = byTestId("held-count");
    const overlay = new Overlay("held-panel", { onClose: () => app.refocus() });
    let tickets = [];
    // The arrow keys go through the held tickets; Enter recalls the one with the focus.
    document.addEventListener("keydown", (event) => {
        if (!overlay.isOpen || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
        const buttons = [...list.querySelectorAll('[data-testid="recall"]')];
        if (!buttons.length) return;
        event.preventDefault();
        event.stopPropagation();
        const at = buttons.indexOf(document.activeElement);
        const next = at < 0 ? (event.key === "ArrowDown" ? 0 : buttons.length - 1)
            : Math.min(buttons.length - 1, Math.max(0, at + (event.key === "ArrowDown" ? 1 : -1)));
        markKeyboardNav();
        buttons[next].focus();
    }, true);

    async function refresh() {
        const reply = await app.act("held", {}, { quiet: true });
        if (!reply) return;
        tickets = reply.tickets || [];
        draw();
    }

    function draw() {
        setText(count, tickets.length);
        count.dataset.count = tickets.length;
        // A redraw (the list refreshed while the cashier moves through it with the
        // arrows) replaces the buttons: the focus stays on the same row.
        const focused = [...list.querySelectorAll('[data-testid="recall"]')].indexOf(document.activeElement);
        renderHeld(list, tickets, app.money, recall);
        if (focused >= 0) {
            const buttons = list.querySelectorAll('[data-testid="recall"]');
            if (buttons.length) buttons[Math.min(focused, buttons.length - 1)].focus();
        }
    }

    let recalling = false;

    async function recall(held) {
        if (recalling) return; // a double tap recalls once
        recalling = true;
        try {
            await recallNow(held);
        } finally {
            recalling = false;
        }
    }

    async function recallNow(held) {
        const ticket = app.ticket;
        let swapped = false;
        if (ticket && (ticket.lines.length || ticket.payments.length)) {
            // The open ticket goes on hold first (the server recalls only onto an
            // empty ticket); with payments on it, the server says why it cannot.
            const put = await app.act("hold", {}, { mutating: true });
            if (!put) return;
            swapped = true;
        }
        const reply = await app.act("recall", { held: held.held }, { mutating: true });
        overlay.close();
        if (reply) app.notice(t(swapped ? "notice.swapped" : "notice.recalled"));
        await refresh();
    }

    byTestId("held-open").addEventListener("click", () => {
        app.closePanels();
        overlay.open();
        draw();
        refresh();
    });
    byTestId("held-refresh").addEventListener("click", () => refresh());
    byTestId("held-close").addEventListener("click", () => overlay.close());

    return { overlay, refresh, draw, get count() { return tickets.length; } };
}

/** Search by name: results as the cashier types; a tap adds the article. */
export function bindSearchPanel(app, choose) {
    const form = byTestId("search-form");
    const input = byTestId("search-input");
    const results = byTestId("search-results");
    const overlay = new Overlay("search-panel", {
        onClose: () => {
            chooseOnce = null;
            setText(title, t("search.title"));
            app.refocus();
        },
    });
    let timer = null;
    let asked = 0;
    let last = [];
    let chooseOnce = null; // pick(): the article goes there instead of the ticket, once
    const title = byTestId("search-panel").querySelector("h2");

    async function search(text) {
        const mine = ++asked;
        const reply = await app.act("search", { text, limit: 40 }, { quiet: true });
        if (!reply || mine !== asked) return; // a newer search is on its way
        last = reply.articles || [];
        renderSearch(results, last, app.money, pick);
    }

    function pick(article) {
        const chooser = chooseOnce || choose;
        chooseOnce = null;
        overlay.close();
        chooser(article);
    }

    input.addEventListener("input", () => {
        clearTimeout(timer);
        const text = input.value.trim();
        if (text.length < 2) {
            asked++;
            last = [];
            results.replaceChildren();
            return;
        }
        timer = setTimeout(() => search(text), 120);
    });

    form.addEventListener("submit", (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (/^\d{6,}$/.test(text) && !chooseOnce) {
            // A barcode scanned into the search field: it is a scan.
            overlay.close();
            app.sell.submitCode(text);
            return;
        }
        if (last.length === 1) pick(last[0]);
        else if (text.length >= 2) search(text);
    });

    byTestId("search-open").addEventListener("click", () => open());
    byTestId("search-close").addEventListener("click", () => overlay.close());

    function open() {
        app.closePanels();
        input.value = "";
        results.replaceChildren();
        last = [];
        overlay.open();
        input.focus();
    }

    /** The search, its article going to `chooser` (an unknown code's article: unknown.js). */
    function pickFor(heading, chooser) {
        open();
        chooseOnce = chooser;
        setText(title, heading);
    }

    return { overlay, open, input, pick: pickFor };
}

/** An article's price and stock per stock point. */
export function bindInfoPanel(app) {
    const ui = {
        name: byTestId("info-name"),
        price: byTestId("info-price"),
        codes: byTestId("info-codes"),
        location: byTestId("info-location"),
        points: byTestId("stock-rows"),
        none: byTestId("info-no-stock"),
    };
    const overlay = new Overlay("info-panel", { onClose: () => app.refocus() });
    byTestId("info-close").addEventListener("click", () => overlay.close());
    return {
        overlay,
        show(article, name, points, location = "") {
            app.closePanels();
            renderInfo(ui, article, name, points || [], app.money, location);
            overlay.open();
        },
    };
}

/** The confirmation dialog: ask(text, yesLabel) resolves true (yes) or false. */
export function bindConfirm(app) {
    const text = byTestId("confirm-text");
    const yes = byTestId("confirm-yes");
    const no = byTestId("confirm-no");
    let settle = null;
    const overlay = new Overlay("confirm-dialog", {
        modal: true,
        onClose: () => {
            if (settle) settle(false);
            settle = null;
            app.refocus();
        },
    });
    yes.addEventListener("click", () => {
        const done = settle;
        settle = null;
        overlay.close();
        if (done) done(true);
    });
    no.addEventListener("click", () => overlay.close());
    // The keyboard: Enter says yes, Escape no (before any other key handler).
    document.addEventListener("keydown", (event) => {
        if (!overlay.isOpen || event.ctrlKey || event.metaKey || event.altKey) return;
        if (event.key !== "Enter" && event.key !== "Escape") return;
        event.preventDefault();
        event.stopImmediatePropagation();
        if (event.key === "Enter") yes.click();
        else overlay.close();
    }, true);
    return {
        overlay,
        ask(question, yesLabel, noLabel) {
            if (settle) settle(false);
            setText(text, question);
            setText(yes, yesLabel);
            setText(no, noLabel || t("confirm.no"));
            overlay.open();
            return new Promise((resolve) => { settle = resolve; });
        },
    };
}

/**
 * A supervisor's PIN: ask(why, error) resolves with the PIN typed (on the pad or the
 * keyboard), or null when the cashier cancels. Used by app.approved() wherever a
 * verb answers `supervisor_required` (drawer withdrawals and no-sale openings ask
 * first: they always need one).
 */
export function bindSupervisor(app) {
    const form = byTestId("supervisor-form");
    const pin = byTestId("supervisor-pin");
    const why = byTestId("supervisor-why");
    const error = byTestId("supervisor-error");
    let settle = null;
    const overlay = new Overlay("supervisor-dialog", {
        modal: true,
        onClose: () => {
            if (settle) settle(null);
            settle = null;
            pin.value = "";
            app.refocus();
        },
    });
    byTestId("supervisor-pad").addEventListener("click", (event) => {
        const key = event.target instanceof Element ? event.target.closest("button") : null;
        if (!key) return;
        if (key.dataset.digit) pin.value += key.dataset.digit;
        else if (key.dataset.pin === "clear") pin.value = "";
        pin.focus({ preventScroll: true });
    });
    form.addEventListener("submit", (event) => {
        event.preventDefault();
        const typed = pin.value.trim();
        if (!typed) {
            pin.focus();
            return;
        }
        const done = settle;
        settle = null;
        overlay.close();
        if (done) done(typed);
    });
    byTestId("supervisor-cancel").addEventListener("click", () => overlay.close());
    pin.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
            event.preventDefault();
            event.stopPropagation();
            overlay.close();
        }
    });
    return {
        overlay,
        ask(reason, problem = "") {
            if (settle) settle(null);
            setText(why, reason || t("err.supervisor_required"));
            setText(error, problem);
            show(error, !!problem);
            pin.value = "";
            overlay.open();
            pin.focus();
            return new Promise((resolve) => { settle = resolve; });
        },
    };
}
