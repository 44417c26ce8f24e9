// An unknown code made sellable (issue 17; the shop's `[shop] unknown_code`): when a
// scan answers `unknown_code` and the shop allows it, this panel offers "Créer
// l'article" (`article_create`: id, name, price, VAT rate among the shop's, department)
// and, with "attach" or "create", "Associer à un article existant" (the search panel
// picks the article, then `barcode_attach`). Both are a supervisor's: app.approved()
// asks a supervisor's PIN when the server answers `supervisor_required`. Once done,
// the scan is tried again and adds the line.
//
// Keyboard: Tab moves between the two choices and the form's fields, Enter chooses or
// creates, Escape closes (the selling screen's Escape closes every panel).

import { byTestId, h, setText, show } from "./dom.js";
import { t } from "./i18n.js";
import { Overlay } from "./panels.js";

/** A code the server would take for an article (rules/catalog_edit.py ``check_code``). */
function givable(code) {
    if (!/^\d{1,48}$/.test(code)) return false;
    if (code.length !== 8 && code.length !== 13) return true;
    const digits = [...code].map(Number);
    const check = digits.pop();
    const sum = digits.reverse().reduce((acc, d, i) => acc + d * (i % 2 === 0 ? 3 : 1), 0);
    return (10 - (sum % 10)) % 10 === check;
}

export function bindUnknownPanel(app) {
    const codeText = byTestId("unknown-code");
    const createButton = byTestId("unknown-create");
    const attachButton = byTestId("unknown-attach");
    const form = byTestId("unknown-create-form");
    const fields = {
        article: byTestId("unknown-id"), name: byTestId("unknown-name"), price: byTestId("unknown-price"),
        vat: byTestId("unknown-vat"), department: byTestId("unknown-department"),
    };
    const overlay = new Overlay("unknown-panel", { onClose: () => app.refocus() });
    let pending = null; // {code, retry}: the code scanned and how to scan it again

    const shop = () => (app.hello && app.hello.shop) || {};
    const mode = () => shop().unknown_code || "refuse";

    async function done(reply, key) {
        const retry = pending && pending.retry;
        overlay.close();
        pending = null;
        app.showMessage(t(key, { name: reply.article.name }));
        if (retry) await retry();
    }

    createButton.addEventListener("click", () => {
        show(form, true);
        fields.vat.replaceChildren(...(shop().vat_rates || []).map((rate) => h("option", { value: rate }, `${rate} %`)));
        fields.article.focus();
    });

    form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (!pending) return;
        const request = {
            article: fields.article.value.trim(), name: fields.name.value.trim(),
            price: fields.price.value.trim().replace(",", "."), vat_rate: fields.vat.value, code: pending.code,
        };
        const department = fields.department.value.trim();
        if (department) request.department = department;
        const reply = await app.approved("article_create", request);
        if (reply) await done(reply, "unknown.created");
    });

    attachButton.addEventListener("click", () => {
        const chosen = pending;
        if (!chosen) return;
        overlay.close();
        pending = chosen; // the search panel takes the screen; the code waits for its article
        app.search.pick(t("unknown.pick", { code: chosen.code }), async (article) => {
            const reply = await app.approved("barcode_attach", { article: article.article, code: chosen.code });
            pending = chosen;
            if (reply) await done(reply, "unknown.attached");
            else pending = null;
        });
    });

    byTestId("unknown-close").addEventListener("click", () => overlay.close());

    return {
        overlay,
        /** Whether the shop lets a supervisor give `code` to an article (the server's
         *  own check: digits, a right EAN check digit at 8 and 13 digits). */
        offered: (code) => (mode() === "attach" || mode() === "create") && givable(String(code).trim()),
        /** Offer to make `code` sellable; `retry()` scans it again once it is. */
        open(code, retry) {
            pending = { code, retry };
            setText(codeText, t("unknown.code", { code }));
            show(createButton, mode() === "create");
            show(attachButton, true);
            show(form, false);
            for (const field of [fields.article, fields.name, fields.price, fields.department]) field.value = "";
            overlay.open();
            (mode() === "create" ? createButton : attachButton).focus();
        },
    };
}
