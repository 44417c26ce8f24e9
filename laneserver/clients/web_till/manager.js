// The manager's screen (a manager signed in: the header's "Gestion" button).
//
//   Vendeurs    `sellers`: each seller, role and state; add one (`seller_add`: name, PIN,
//               role), give one a new PIN (`seller_pin`), disable one (`seller_disable`:
//               signed out at once wherever they are signed in).
//   Appareils   `devices`: each paired till and PDA, when last seen; revoke one
//               (`device_revoke`: its open pages are disconnected at once). This till
//               cannot revoke itself.
//   Clôtures    `closures`: the day's closures, newest first; "no closure yet" when
//               there is none (or the server does not answer the verb).
//   Clavier     the till's keyboard (`keyboard`): its pages and keys — articles,
//               functions, payment modes — to add, move up or down and remove, then
//               save for every till (`keyboard_save`; the server checks every key).
//
// Every verb here is a manager's (the roles table, docs/operations.md): the server
// refuses it to anyone else with `forbidden`, whatever this page shows.

import { byTestId, h, setText, show } from "./dom.js";
import { t } from "./i18n.js";
import { Overlay } from "./panels.js";

export function bindManagerPanel(app) {
    const overlay = new Overlay("manager-panel", { onClose: () => app.refocus() });
    const ui = {
        sellers: byTestId("manager-sellers"),
        devices: byTestId("manager-devices"),
        closures: byTestId("manager-closures"),
        addForm: byTestId("seller-add-form"),
        addName: byTestId("seller-add-name"),
        addPin: byTestId("seller-add-pin"),
        addRole: byTestId("seller-add-role"),
        pinForm: byTestId("seller-pin-form"),
        pinFor: byTestId("seller-pin-for"),
        pinInput: byTestId("seller-pin-input"),
        result: byTestId("manager-result"),
    };
    let sellers = [];
    let devices = [];
    let closures = null;   // null: none (or not answered)
    let pinSeller = null;  // the seller whose new PIN is being typed
    const kb = {
        pages: [],  // [{name, keys: [{label, article?, function?, mode?}]}], being edited
        page: 0,
        ui: {
            pages: byTestId("kb-pages"), keys: byTestId("kb-keys"), form: byTestId("kb-add-form"),
            kind: byTestId("kb-kind"), value: byTestId("kb-value"), values: byTestId("kb-values"),
            label: byTestId("kb-label"),
        },
    };
    // The till functions a key may run (rules/keyboard.py FUNCTIONS).
    const FUNCTIONS = ["qty", "hold", "recall", "cancel_ticket", "discount", "customer", "price_check", "search",
        "pay", "drawer_open"];

    function say(text) {
        setText(ui.result, text);
        show(ui.result, !!text);
    }

    /** A key as `keyboard_save` takes it: its label and the one thing it does. */
    function keyIn(key) {
        const out = { label: key.label || "" };
        if (key.function) out.function = key.function;
        else if (key.mode) out.mode = key.mode;
        else out.article = key.article;
        return out;
    }

    function keyWhat(key) {
        if (key.function) return `${t("manager.kb_function")} · ${key.function}`;
        if (key.mode) return `${t("manager.kb_mode")} · ${key.mode}`;
        return `${t("manager.kb_article")} · ${key.article}`;
    }

    function drawKeyboard() {
        if (kb.page >= kb.pages.length) kb.page = Math.max(0, kb.pages.length - 1);
        kb.ui.pages.replaceChildren(...kb.pages.map((page, i) => h("button", {
            type: "button", class: i === kb.page ? "small active" : "small", testid: "kb-page",
            "aria-pressed": i === kb.page ? "true" : "false", onclick: () => { kb.page = i; drawKeyboard(); },
        }, page.name)), kb.pages.length ? h("button", { type: "button", class: "small danger", testid: "kb-page-remove",
            onclick: () => { kb.pages.splice(kb.page, 1); drawKeyboard(); } }, t("manager.kb_page_remove")) : null);
        const page = kb.pages[kb.page];
        const keys = page ? page.keys : [];
        const move = (i, by) => {
            const [key] = keys.splice(i, 1);
            keys.splice(Math.min(Math.max(i + by, 0), keys.length), 0, key);
            drawKeyboard();
        };
        kb.ui.keys.replaceChildren(...(keys.length ? keys.map((key, i) => h("tr", { testid: "kb-key" },
            h("td", { testid: "kb-key-label" }, key.label || key.article || ""),
            h("td", { class: "muted" }, keyWhat(key)),
            h("td", { class: "actions" },
                h("button", { type: "button", class: "small", testid: "kb-up", disabled: i === 0,
                    onclick: () => move(i, -1) }, t("manager.kb_up")),
                h("button", { type: "button", class: "small", testid: "kb-down", disabled: i === keys.length - 1,
                    onclick: () => move(i, 1) }, t("manager.kb_down")),
                h("button", { type: "button", class: "small danger", testid: "kb-remove",
                    onclick: () => { keys.splice(i, 1); drawKeyboard(); } }, t("manager.kb_remove")))))
            : [h("tr", {}, h("td", { class: "muted" }, t("manager.kb_empty")))]));
        const kind = kb.ui.kind.value;
        const choices = kind === "function" ? FUNCTIONS : kind === "mode" ? app.pay.modes : [];
        kb.ui.values.replaceChildren(...choices.map((value) => h("option", { value })));
    }

    async function refreshKeyboard() {
        const reply = await app.act("keyboard", {}, { quiet: true });
        if (!reply) return;
        kb.pages = (reply.pages || []).map((page) => ({ name: page.name, keys: page.keys.map((key) => ({ ...key })) }));
        drawKeyboard();
    }

    kb.ui.kind.addEventListener("change", () => drawKeyboard());
    kb.ui.form.addEventListener("submit", (event) => {
        event.preventDefault();
        const value = kb.ui.value.value.trim();
        if (!value) return;
        if (!kb.pages.length) kb.pages.push({ name: "1", keys: [] });
        const key = { label: kb.ui.label.value.trim() };
        key[kb.ui.kind.value] = value;
        kb.pages[kb.page].keys.push(key);
        kb.ui.value.value = "";
        kb.ui.label.value = "";
        drawKeyboard();
    });
    // A new page is named by the label field (else "Page N").
    byTestId("kb-page-add").addEventListener("click", () => {
        const name = kb.ui.label.value.trim() || `Page ${kb.pages.length + 1}`;
        kb.ui.label.value = "";
        kb.pages.push({ name, keys: [] });
        kb.page = kb.pages.length - 1;
        drawKeyboard();
    });
    byTestId("kb-save").addEventListener("click", async () => {
        const pages = kb.pages.map((page) => ({ name: page.name, keys: page.keys.map(keyIn) }));
        const reply = await app.act("keyboard_save", { pages });
        if (!reply) return;
        app.sell.setKeyboard(reply.pages || []);
        say(t("manager.kb_saved"));
        await refreshKeyboard();
    });

    async function refresh() {
        refreshKeyboard();
        const [s, d] = await Promise.all([app.act("sellers", {}, { quiet: true }), app.act("devices", {}, { quiet: true })]);
        if (s) sellers = s.sellers || [];
        if (d) devices = d.devices || [];
        // The day's closures: the `closures` verb may not be served by this server yet.
        const c = await app.act("closures", {}, { quiet: true, onError: () => true });
        closures = c && Array.isArray(c.closures) ? todays(c.closures) : null;
        draw();
    }

    /** The closures of today's date (any of their date fields: a day's `period`, `date`, `at`…). */
    function todays(list) {
        const today = new Date().toISOString().slice(0, 10);
        return list.filter((c) => ["period", "date", "day", "at", "closed_at"].some(
            (field) => typeof c[field] === "string" && c[field].startsWith(today)));
    }

    function draw() {
        ui.sellers.replaceChildren(...sellers.map((s) => h("tr", { testid: "manager-seller", dataset: { seller: s.seller } },
            h("td", { testid: "manager-seller-name" }, s.seller),
            h("td", {}, t(`role.${s.role}`)),
            h("td", { testid: "manager-seller-state" }, s.active ? t("manager.active") : t("manager.disabled")),
            h("td", { class: "actions" },
                h("button", { type: "button", class: "small", testid: "seller-pin-open", onclick: () => askPin(s.seller) },
                    t("manager.new_pin")),
                s.active && s.seller !== app.seller
                    ? h("button", { type: "button", class: "small danger", testid: "seller-disable",
                        onclick: () => disable(s.seller) }, t("manager.disable"))
                    : null))));
        const own = app.hello && app.hello.device;
        ui.devices.replaceChildren(...devices.map((d) => h("tr", { testid: "manager-device", dataset: { device: d.device } },
            h("td", { testid: "manager-device-name" }, d.device),
            h("td", {}, d.kind === "till" ? t("manager.till", { lane: d.lane || "" }) : t("manager.pda")),
            h("td", {}, d.last_seen ? d.last_seen.slice(0, 16).replace("T", " ") : "—"),
            h("td", { testid: "manager-device-state" }, d.revoked ? t("manager.revoked") : t("manager.paired")),
            h("td", { class: "actions" },
                d.device === own ? h("span", { class: "muted" }, t("manager.this_till"))
                    : !d.revoked ? h("button", { type: "button", class: "small danger", testid: "device-revoke",
                        onclick: () => revoke(d.device) }, t("manager.revoke"))
                        : null))));
        if (!closures || closures.length === 0) {
            ui.closures.replaceChildren(h("p", { class: "muted", testid: "manager-no-closure" }, t("manager.no_closure")));
        } else {
            ui.closures.replaceChildren(...closures.map((c) => h("p", { testid: "manager-closure" },
                t("manager.closure", { kind: c.kind || "", period: c.period || c.date || "", number: c.number ?? "" }))));
        }
        show(ui.pinForm, pinSeller !== null);
        setText(ui.pinFor, pinSeller ? t("manager.pin_for", { seller: pinSeller }) : "");
    }

    function askPin(seller) {
        pinSeller = seller;
        ui.pinInput.value = "";
        draw();
        ui.pinInput.focus();
    }

    async function disable(seller) {
        if (!(await app.confirm(t("manager.disable_q", { seller }), t("manager.disable")))) return;
        const reply = await app.act("seller_disable", { seller });
        if (reply) say(t("manager.disabled_ok", { seller }));
        await refresh();
    }

    async function revoke(device) {
        if (!(await app.confirm(t("manager.revoke_q", { device }), t("manager.revoke")))) return;
        const reply = await app.act("device_revoke", { device });
        if (reply) say(t("manager.revoked_ok", { device }));
        await refresh();
    }

    ui.addForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const seller = ui.addName.value.trim();
        const pin = ui.addPin.value.trim();
        if (!seller || !pin) return;
        const reply = await app.act("seller_add", { seller, pin, role: ui.addRole.value });
        ui.addPin.value = "";
        if (!reply) return;
        ui.addName.value = "";
        say(t("manager.added_ok", { seller: reply.seller, role: t(`role.${reply.role}`) }));
        await refresh();
    });

    ui.pinForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const pin = ui.pinInput.value.trim();
        if (!pinSeller || !pin) return;
        const seller = pinSeller;
        const reply = await app.act("seller_pin", { seller, pin });
        ui.pinInput.value = "";
        if (!reply) return;
        pinSeller = null;
        say(t("manager.pin_ok", { seller }));
        draw();
    });

    byTestId("seller-pin-cancel").addEventListener("click", () => { pinSeller = null; draw(); });
    byTestId("manager-close").addEventListener("click", () => overlay.close());
    byTestId("manager-open").addEventListener("click", () => open());

    function open() {
        app.closePanels();
        pinSeller = null;
        say("");
        overlay.open();
        ui.addName.focus();
        refresh();
    }

    return {
        overlay,
        open,
        redraw() { if (overlay.isOpen) draw(); },
    };
}
