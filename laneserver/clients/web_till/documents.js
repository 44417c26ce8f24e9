// The Documents screen (the header's "Documents" button): quotes, customer orders and
// delivery notes (docs/protocol.md "Documents: quotes, orders, delivery notes").
//
//   From the ticket   `quote` (valid N months), `order` (delivery mode, address when
//                     delivered, due date, shipping fee, a deposit paid first with `pay`
//                     in the chosen mode), `delivery_note`.
//   Open documents    `documents` (a kind, or the orders due today): recall one (its
//                     barcode sent as a `scan`, as a scanner would), cancel a quote or an
//                     order (`document_cancel`: an order's deposit refunded or kept; a
//                     supervisor's verb), invoice a delivery note (`document_invoice`),
//                     download its A4 PDF and an order's deposit invoice's (`document_pdf`),
//                     reprint a duplicate on the lane's printer (`reprint` with `document`;
//                     a lane without one is told so in words).
//                     A quote past its validity (`expired`) shows so and is not recalled.
//
// The screen builds its own DOM (one overlay, one header button) and keeps its words
// here, in French and English, so the page's other files only call bindDocumentsPanel.

import { byTestId, h, setText, show } from "./dom.js";
import { language, onLanguage } from "./i18n.js";
import { Overlay } from "./panels.js";

const WORDS = {
    fr: {
        open: "Documents", open_title: "Devis, commandes, bons de livraison", title: "Documents",
        close: "Fermer", from_ticket: "Depuis le ticket", quote: "Devis", order: "Commande",
        delivery_note: "Bon de livraison", valid_months: "Validité (mois)", delivery: "Livraison",
        on_site: "Sur place", take_away: "Emporté", delivered: "Livré", address: "Adresse de livraison",
        due: "Pour le", shipping: "Frais de port", deposit: "Acompte", deposit_mode: "Payé en",
        cash: "Espèces", card: "Carte", cheque: "Chèque", make_quote: "Faire le devis",
        make_order: "Passer la commande", make_note: "Faire le bon de livraison", listed: "Documents",
        all: "Tous", due_today: "Commandes dues aujourd'hui", recall: "Rappeler", cancel_refund: "Annuler, rembourser",
        cancel_keep: "Annuler, garder l'acompte", cancel: "Annuler", invoice: "Facturer", none: "Aucun document.",
        status_open: "ouvert", status_recalled: "rappelé", status_invoiced: "facturé", status_cancelled: "annulé",
        status_expired: "expiré",
        made: (d) => `${d.name} enregistré (code ${d.barcode}).`,
        made_order: (d) => `${d.name} enregistrée (code ${d.barcode}) : acompte ${d.deposit}, reste ${d.left_to_pay}.`,
        cancelled: (d, r) => `${d.name} annulé${r.credit_note ? ` : ${r.refunded} remboursés (avoir ${r.credit_note})` : ""}.`,
        recalled: (d) => `${d.name} est sur le ticket.`,
        cancel_q: (d) => `Annuler ${d.name} ?`,
        pdf: "PDF", pdf_title: "Le document en PDF (A4)",
        pdf_saved: (name) => `${name}.pdf téléchargé.`,
        reprint: "Réimprimer", reprint_title: "Un duplicata sur l'imprimante de la caisse",
        reprinted: (r) => `Duplicata n° ${r.copy} imprimé (${r.document}).`,
    },
    en: {
        open: "Documents", open_title: "Quotes, orders, delivery notes", title: "Documents",
        close: "Close", from_ticket: "From the ticket", quote: "Quote", order: "Order",
        delivery_note: "Delivery note", valid_months: "Valid (months)", delivery: "Delivery",
        on_site: "On site", take_away: "Take-away", delivered: "Delivered", address: "Delivery address",
        due: "Due", shipping: "Shipping fee", deposit: "Deposit", deposit_mode: "Paid by",
        cash: "Cash", card: "Card", cheque: "Cheque", make_quote: "Make the quote",
        make_order: "Place the order", make_note: "Make the delivery note", listed: "Documents",
        all: "All", due_today: "Orders due today", recall: "Recall", cancel_refund: "Cancel, refund",
        cancel_keep: "Cancel, keep the deposit", cancel: "Cancel", invoice: "Invoice", none: "No document.",
        status_open: "open", status_recalled: "recalled", status_invoiced: "invoiced", status_cancelled: "cancelled",
        status_expired: "expired",
        made: (d) => `${d.name} saved (code ${d.barcode}).`,
        made_order: (d) => `${d.name} saved (code ${d.barcode}): deposit ${d.deposit}, left ${d.left_to_pay}.`,
        cancelled: (d, r) => `${d.name} cancelled${r.credit_note ? `: ${r.refunded} refunded (credit note ${r.credit_note})` : ""}.`,
        recalled: (d) => `${d.name} is on the ticket.`,
        cancel_q: (d) => `Cancel ${d.name}?`,
        pdf: "PDF", pdf_title: "The document as a PDF (A4)",
        pdf_saved: (name) => `${name}.pdf downloaded.`,
        reprint: "Reprint", reprint_title: "A duplicate on the till's printer",
        reprinted: (r) => `Copy ${r.copy} printed (${r.document}).`,
    },
};

function w(key, ...args) {
    const entry = (WORDS[language()] || WORDS.fr)[key];
    return typeof entry === "function" ? entry(...args) : entry;
}

function field(label, input) {
    return h("label", {}, h("span", { dataset: { words: label } }, w(label)), input);
}

function option(value) {
    return h("option", { value, dataset: { words: value } }, w(value));
}

/** The panel and its header button, built here; the app calls open/redraw/overlay. */
export function bindDocumentsPanel(app) {
    const button = h("button", { type: "button", testid: "documents-open", hidden: true, dataset: { words: "open" } },
        w("open"));
    const header = byTestId("sign-out");
    header.parentNode.insertBefore(button, header);

    const ui = {
        months: h("input", { testid: "quote-months", type: "number", min: "1", max: "120", value: "1" }),
        delivery: h("select", { testid: "order-delivery" }, option("on_site"), option("take_away"), option("delivered")),
        address: h("input", { testid: "order-address", maxlength: "200" }),
        due: h("input", { testid: "order-due", type: "date" }),
        shipping: h("input", { testid: "order-shipping", inputmode: "decimal", placeholder: "0,00" }),
        deposit: h("input", { testid: "order-deposit", inputmode: "decimal", placeholder: "0,00" }),
        mode: h("select", { testid: "order-deposit-mode" }, option("cash"), option("card"), option("cheque")),
        kind: h("select", { testid: "documents-kind" }, option("all"), option("quote"), option("order"),
            option("delivery_note"), option("due_today")),
        list: h("tbody", { testid: "documents-list" }),
        result: h("div", { class: "message info", testid: "documents-result", role: "status", hidden: true }),
    };
    const sheet = h("div", { class: "overlay", testid: "documents-panel", hidden: true },
        h("div", { class: "sheet wide", role: "dialog" },
            h("header", {},
                h("h2", { dataset: { words: "title" } }, w("title")),
                h("button", { type: "button", class: "small", testid: "documents-close", dataset: { words: "close" },
                    onclick: () => overlay.close() }, w("close"))),
            ui.result,
            h("section", {},
                h("h3", { dataset: { words: "from_ticket" } }, w("from_ticket")),
                h("div", { class: "doc-form" }, field("valid_months", ui.months),
                    h("button", { type: "button", class: "primary", testid: "make-quote", dataset: { words: "make_quote" },
                        onclick: () => makeQuote() }, w("make_quote"))),
                h("div", { class: "doc-form" }, field("delivery", ui.delivery), field("address", ui.address),
                    field("due", ui.due), field("shipping", ui.shipping), field("deposit", ui.deposit),
                    field("deposit_mode", ui.mode),
                    h("button", { type: "button", class: "primary", testid: "make-order", dataset: { words: "make_order" },
                        onclick: () => makeOrder() }, w("make_order"))),
                h("div", { class: "doc-form" },
                    h("button", { type: "button", testid: "make-delivery-note", dataset: { words: "make_note" },
                        onclick: () => makeNote() }, w("make_note")))),
            h("section", {},
                h("h3", { dataset: { words: "listed" } }, w("listed")),
                ui.kind,
                h("table", { class: "stock documents" }, ui.list))));
    document.body.appendChild(sheet);
    const overlay = new Overlay("documents-panel", { onClose: () => app.refocus() });
    let documents = [];

    button.addEventListener("click", () => open());
    ui.kind.addEventListener("change", () => refresh());
    onLanguage(() => redraw());

    function say(text) {
        setText(ui.result, text);
        show(ui.result, !!text);
    }

    async function open() {
        say("");
        overlay.open();
        await refresh();
    }

    async function refresh() {
        const kind = ui.kind.value;
        const fields = kind === "due_today" ? { due: "today", open: true }
            : kind === "all" ? { open: true } : { kind, open: true };
        const reply = await app.act("documents", fields, { quiet: true });
        documents = reply ? reply.documents || [] : [];
        draw();
    }

    function money(amount) {
        return app.money ? app.money.format(amount) : amount;
    }

    function draw() {
        if (!documents.length) {
            ui.list.replaceChildren(h("tr", {}, h("td", { class: "muted", testid: "documents-none" }, w("none"))));
            return;
        }
        ui.list.replaceChildren(...documents.map((d) => h("tr", { testid: "document-row", dataset: { document: d.name } },
            h("td", { testid: "document-name" }, d.name),
            h("td", {}, w(d.kind)),
            h("td", {}, d.customer || ""),
            h("td", { testid: "document-total" }, money(d.total)),
            h("td", {}, d.deposit !== "0.00" ? `${w("deposit")} ${money(d.deposit)}` : ""),
            h("td", {}, d.due || d.valid_until || ""),
            h("td", { testid: "document-status" }, w(d.expired ? "status_expired" : `status_${d.status}`)),
            h("td", { class: "actions" }, ...actions(d)))));
    }

    function actions(d) {
        const pdfs = [h("button", { type: "button", class: "small", testid: "document-pdf", title: w("pdf_title"),
            onclick: () => downloadPdf(d.name) }, w("pdf"))];
        if (d.deposit_invoice) {
            pdfs.push(h("button", { type: "button", class: "small", testid: "document-deposit-pdf",
                onclick: () => downloadPdf(d.deposit_invoice) }, `${w("pdf")} ${d.deposit_invoice}`));
        }
        const reprint = h("button", { type: "button", class: "small", testid: "document-reprint",
            title: w("reprint_title"), onclick: () => reprintCopy(d) }, w("reprint"));
        return [...pdfs, reprint, ...changes(d)];
    }

    function changes(d) {
        if (d.status !== "open") return [];
        const small = (testid, words, onclick, danger = false) =>
            h("button", { type: "button", class: danger ? "small danger" : "small", testid, onclick }, w(words));
        if (d.kind === "delivery_note") return [small("document-invoice", "invoice", () => invoiceNote(d))];
        const cancels = d.kind === "order" && d.deposit !== "0.00"
            ? [small("document-cancel-refund", "cancel_refund", () => cancel(d, "refund"), true),
                small("document-cancel-keep", "cancel_keep", () => cancel(d, "keep"), true)]
            : [small("document-cancel", "cancel", () => cancel(d, undefined), true)];
        // An expired quote (past its valid_until) is no longer recalled: cancel it, make a new one.
        return d.expired ? cancels : [small("document-recall", "recall", () => recall(d)), ...cancels];
    }

    function redraw() {
        button.textContent = w("open");
        button.title = w("open_title");
        for (const el of sheet.querySelectorAll("[data-words]")) el.textContent = w(el.dataset.words);
        draw();
    }

    function made(reply, order = false) {
        if (!reply) return;
        say(order ? w("made_order", reply.document) : w("made", reply.document));
        refresh();
    }

    async function makeQuote() {
        const months = parseInt(ui.months.value, 10);
        made(await app.act("quote", Number.isFinite(months) ? { valid_months: months } : {}, { mutating: true }));
    }

    async function makeOrder() {
        const fields = { delivery: ui.delivery.value };
        if (ui.address.value.trim()) fields.address = ui.address.value.trim();
        if (ui.due.value) fields.due = ui.due.value;
        const shipping = ui.shipping.value.trim().replace(",", ".");
        if (shipping) fields.shipping = shipping;
        const deposit = ui.deposit.value.trim().replace(",", ".");
        if (deposit && Number(deposit) > 0) {
            fields.deposit = deposit;
            const paid = await app.act("pay", { mode: ui.mode.value, amount: deposit }, { mutating: true });
            if (!paid) return;
        }
        made(await app.act("order", fields, { mutating: true }), true);
    }

    async function makeNote() {
        made(await app.act("delivery_note", {}, { mutating: true }));
    }

    async function recall(d) {
        const reply = await app.act("scan", { code: d.barcode }, { mutating: true });
        if (reply) {
            overlay.close();
            app.notice(w("recalled", d));
        }
    }

    /** A document's PDF (or a deposit invoice's), fetched over the websocket, as a download. */
    async function downloadPdf(name) {
        const reply = await app.act("document_pdf", { document: name });
        if (!reply) return;
        const bytes = Uint8Array.from(atob(reply.pdf), (c) => c.charCodeAt(0));
        const url = URL.createObjectURL(new Blob([bytes], { type: "application/pdf" }));
        const link = h("a", { href: url, download: `${reply.document}.pdf`, testid: "document-download" });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
        say(w("pdf_saved", reply.document));
    }

    /** A duplicate on the lane's printer (`reprint`, keyed): its print counter in the message. */
    async function reprintCopy(d) {
        say("");
        // On a lane without a receipt printer the refusal (format.js) points at the PDF button.
        const reply = await app.act("reprint", { document: d.barcode }, { mutating: true, context: { pdf: true } });
        if (reply) say(w("reprinted", reply));
    }

    async function invoiceNote(d) {
        const reply = await app.act("document_invoice", { documents: [d.barcode] }, { mutating: true });
        if (reply) overlay.close();
    }

    async function cancel(d, deposit) {
        if (!(await app.confirm(w("cancel_q", d), w("cancel"), w("close")))) return;
        const reply = await app.act("document_cancel", deposit ? { document: d.barcode, deposit } : { document: d.barcode },
            { mutating: true });
        if (reply) {
            say(w("cancelled", reply.document, reply));
            refresh();
        }
    }

    return {
        overlay,
        open,
        redraw,
        showFor(seller) { show(button, !!seller); },
    };
}
