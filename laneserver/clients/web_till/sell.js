// The selling screen: the code field (scanner, keyboard, on-screen keypad), the
// quantity prefix, price check, product keys (tap = add, long press = stock), the
// ticket with line selection, hold / held / cancel, and the way to the payment.
//
// Focus: the code field has it (or, in payment mode, the amount field). Buttons
// never take it (dom.buttonsKeepFocusAway), and keys typed while nothing editable
// has the focus are sent to it (dom.captureWedge), so a scan always lands.
//
// Keyboard (with a keyboard-wedge scanner or a real keyboard):
//   digits/letters + Enter   add by barcode or article code
//   3 *  (or 3 x) then scan  three of the next article
//   F1 sales · F2 search · F3 price check · F4 hold · F5 discount · F6 customer · F7 held tickets
//   F8 payment · F9 drawer · F10 return mode (the next scans and adds are returns)
//   + / − / Delete           quantity / removal of the selected line (code field empty)
//   Escape                   close a panel, leave price check or payment, drop the prefix

import { byTestId, captureWedge, h, keepFocus, onLongPress, setText, show } from "./dom.js";
import { formatQty, invoiceName, parseAmount, parseDecimal, parseScan, wireQty } from "./format.js";
import { t } from "./i18n.js";
import { EMPTY_TICKET, TicketTable, renderCandidates, renderKeyPages, renderKeys, renderTotals } from "./render.js";

const QTY_ONLY = /^(\d+(?:[.,]\d+)?)\s*[*xX×]$/;

export function bindSellScreen(app) {
    const screen = byTestId("sell-screen");
    const scanForm = byTestId("scan-form");
    const code = byTestId("code-input");
    const prefix = byTestId("qty-prefix");
    const priceButton = byTestId("price-check");
    const priceMode = byTestId("price-mode");
    const candidates = byTestId("candidates");
    const lastSale = byTestId("last-sale");
    const ticketBox = byTestId("ticket");
    const editor = {
        box: byTestId("line-editor"),
        name: byTestId("line-editor-name"),
        qty: byTestId("line-editor-qty"),
        minus: byTestId("qty-minus"),
        plus: byTestId("qty-plus"),
        set: byTestId("qty-set"),
        remove: byTestId("remove-line"),
    };
    const totals = {
        total: byTestId("total"), paid: byTestId("paid"), balance: byTestId("balance"), change: byTestId("change"),
        exclVat: byTestId("total-excl-vat"), exclVatBox: byTestId("excl-vat-box"),
        balanceLabel: byTestId("balance-label"), balanceBox: byTestId("balance-box"),
    };
    const returnButton = byTestId("return-toggle");
    const returnBanner = byTestId("return-banner");
    const keyPages = byTestId("key-pages");
    const receiptText = byTestId("last-sale-receipt");
    const emptyTicket = byTestId("ticket-empty");
    const keysGrid = byTestId("keys");

    const state = {
        qty: null,            // the quantity prefix for the next article
        priceCheck: false,    // the next code is looked up, not sold
        selected: null,       // the selected line number
        pages: [],            // product-key pages from the server
        keysLoaded: false,
        page: 0,
        lastSale: null,       // the last finish reply shown
        returning: false,     // return mode: the next scans and adds are returned lines
        warnings: new Map(),  // article → stock left below zero (negative_stock = "warn"), this ticket
    };
    const table = new TicketTable(byTestId("ticket-lines"), byTestId("ticket-empty"), selectLine);
    let latest = null;           // the row of the line added last
    let scrollPending = false;
    const active = () => app.screen === "sell";
    const focusTarget = () => (app.pay && app.pay.isOpen ? app.pay.focusField : code);
    const wedgeForm = () => (app.pay && app.pay.isOpen ? app.pay.focusField.form || app.pay.form : scanForm);

    // Shortcuts first: they may take a key before the wedge capture sees it.
    document.addEventListener("keydown", onShortcut, true);
    captureWedge({ input: focusTarget, form: wedgeForm, active });
    const refocus = keepFocus(focusTarget, () => app.screen === "sell" && !app.search.overlay.isOpen && !app.formPanelOpen());

    // --- the code field -------------------------------------------------------------

    code.addEventListener("input", () => {
        const m = QTY_ONLY.exec(code.value.trim());
        if (m) {
            const qty = wireQty(m[1]);
            code.value = "";
            if (qty === null) app.showMessage(t("msg.bad_qty"), m[1]);
            else setPrefix(qty);
        }
        drawEditor();
    });

    scanForm.addEventListener("submit", (event) => {
        event.preventDefault();
        const typed = code.value;
        code.value = ""; // ready for the next scan at once
        drawEditor();
        submitCode(typed);
    });

    /** A code typed, scanned or picked: sold, or looked up in price-check mode. */
    function submitCode(typed) {
        const mark = app.metrics.start(String(typed).trim());
        const scanned = parseScan(typed);
        if (scanned === null) return;
        app.closePanels();
        if (scanned.badQty !== undefined) {
            app.showMessage(t("msg.bad_qty"), scanned.badQty);
            return;
        }
        if (scanned.qtyOnly !== undefined) {
            setPrefix(scanned.qtyOnly);
            app.showMessage(t("msg.scan_after_qty"), "");
            return;
        }
        if (state.priceCheck) {
            setPriceCheck(false);
            priceCheck(scanned.code);
            return;
        }
        const prefixed = scanned.qty === null && state.qty !== null;
        const qty = scanned.qty ?? takePrefix();
        addByCode(scanned.code, qty, mark, prefixed);
    }

    function setPrefix(qty) {
        state.qty = qty;
        setText(prefix, t("qty.prefix", { qty: formatQty(qty) }));
        prefix.dataset.qty = String(qty);
        show(prefix, true);
    }

    function takePrefix() {
        const qty = state.qty;
        clearPrefix();
        return qty;
    }

    function clearPrefix() {
        state.qty = null;
        delete prefix.dataset.qty;
        show(prefix, false);
    }

    // --- adding lines -------------------------------------------------------------

    /**
     * A line change (scan, add, set_qty) that the shop may want confirmed: on
     * `confirm_required` the cashier is asked (quantity and line total) and, on yes,
     * the same request goes again with `confirm: true`. The stock warnings of the
     * reply (negative_stock = "warn") are kept for the lines.
     */
    async function lineChange(verb, fields, opts = {}) {
        let asked = null;
        const reply = await app.act(verb, fields, {
            ...opts,
            onError(error) {
                if (error.code === "confirm_required" && !fields.confirm) {
                    asked = error;
                    return true;
                }
                return opts.onError ? opts.onError(error) : false;
            },
        });
        if (asked) {
            const frame = asked.frame || {};
            const yes = await app.confirm(t("confirm.large_line", {
                qty: formatQty(frame.qty ?? ""), total: app.money.format(frame.line_total ?? "0"),
            }), t("confirm.large_yes"), t("confirm.large_no"));
            if (!yes) return null;
            return lineChange(verb, { ...fields, confirm: true }, opts);
        }
        if (reply && Array.isArray(reply.stock_warnings) && reply.stock_warnings.length) {
            for (const w of reply.stock_warnings) state.warnings.set(w.article, w.available);
            draw();
        }
        return reply;
    }

    async function addByCode(value, qty, mark, prefixed = false) {
        show(candidates, false);
        const reply = await lineChange("scan", { code: value, qty: signed(qty) }, {
            mutating: true,
            context: { code: value },
            onError(error) {
                // A refused scan keeps the quantity typed for it: the right article
                // scanned next still sells that many.
                if (prefixed && error.code !== "ambiguous_code" && state.qty === null) setPrefix(qty);
                if (error.code === "ambiguous_code" && Array.isArray(error.frame.candidates)) {
                    renderCandidates(candidates, error.frame.candidates, (c) => addArticle(c.article, qty), app.money);
                    app.beep();
                    return true; // the candidates are the message
                }
                if (error.code === "unknown_code" && !error.frame.status && app.unknown.offered(value)) {
                    // [shop] unknown_code: a supervisor may create the article or attach the code;
                    // once done, the same scan again (its quantity kept).
                    if (prefixed) clearPrefix();
                    app.beep();
                    app.unknown.open(value, () => addByCode(value, qty, null, false));
                    return true;
                }
                return false;
            },
        });
        if (reply && mark) app.metrics.done(mark, reply.ticket);
    }

    async function addArticle(article, qty) {
        show(candidates, false);
        app.closePanels();
        await lineChange("add", { article, qty: signed(qty) }, { mutating: true });
        refocus();
    }

    /** The quantity to send: in return mode, negative (one returned when none was typed). */
    function signed(qty) {
        if (!state.returning) return qty ?? undefined;
        const q = qty ?? 1;
        return typeof q === "number" ? -q : `-${q}`;
    }

    function setReturning(on) {
        state.returning = on;
        returnButton.setAttribute("aria-pressed", on ? "true" : "false");
        show(returnBanner, on);
        screen.classList.toggle("returning", on);
    }

    returnButton.addEventListener("click", () => {
        setReturning(!state.returning);
        refocus();
    });
    byTestId("return-off").addEventListener("click", () => {
        setReturning(false);
        refocus();
    });
    byTestId("discount-open").addEventListener("click", () => app.discount.open(state.selected));

    async function priceCheck(value) {
        show(candidates, false);
        const reply = await app.act("price_check", { code: value }, {
            context: { code: value },
            onError(error) {
                if (error.code === "ambiguous_code" && Array.isArray(error.frame.candidates)) {
                    renderCandidates(candidates, error.frame.candidates, (c) => {
                        show(candidates, false);
                        priceCheck(c.article);
                    }, app.money);
                    return true;
                }
                return false;
            },
        });
        if (reply) app.info.show(reply.article, reply.article.name, reply.points);
    }

    function setPriceCheck(on) {
        state.priceCheck = on;
        show(priceMode, on);
        priceButton.setAttribute("aria-pressed", on ? "true" : "false");
        priceButton.classList.toggle("active", on);
        screen.classList.toggle("price-check", on);
    }

    priceButton.addEventListener("click", () => {
        const typed = code.value.trim();
        if (typed) {
            code.value = "";
            priceCheck(typed);
            return;
        }
        setPriceCheck(!state.priceCheck);
    });
    byTestId("price-mode-off").addEventListener("click", () => setPriceCheck(false));

    // --- product keys -------------------------------------------------------------

    // A function key does what the screen's own button does (the same code runs).
    const FUNCTION_BUTTONS = {
        qty: "keypad-times", hold: "hold", recall: "held-open", cancel_ticket: "cancel-ticket",
        discount: "discount-open", customer: "customer-open", price_check: "price-check", search: "search-open",
        pay: "pay", drawer_open: "drawer-open",
    };

    keysGrid.addEventListener("click", (event) => {
        const target = event.target instanceof Element ? event.target : null;
        const special = target ? target.closest(".function-key, .mode-key") : null;
        if (special) {
            const press = (testid) => {
                const button = testid ? document.querySelector(`[data-testid="${CSS.escape(testid)}"]`) : null;
                if (button && !button.disabled && !button.closest("[hidden]")) button.click();  // none: not on this till
            };
            if (special.dataset.function) {
                press(FUNCTION_BUTTONS[special.dataset.function]);
            } else {
                // A payment key: the payment screen (as its button opens it), that mode chosen.
                if (!app.pay.isOpen) press(FUNCTION_BUTTONS.pay);
                if (app.pay.isOpen) press(`pay-${special.dataset.mode}`);
            }
            return;
        }
        const key = target ? target.closest("[data-article]") : null;
        if (!key) return;
        if (state.priceCheck) {
            setPriceCheck(false);
            priceCheck(key.dataset.article);
            return;
        }
        addArticle(key.dataset.article, takePrefix());
    });

    onLongPress(keysGrid, ".product-key[data-article]", async (key) => {
        const article = key.dataset.article;
        const label = key.querySelector(".label")?.textContent || article;
        const reply = await app.act("stock", { article }, { context: { article } });
        if (reply) app.info.show(null, label, reply.points, reply.location || "");
    });

    function drawKeys() {
        if (state.page >= state.pages.length) state.page = 0;
        renderKeyPages(keyPages, state.pages, state.page, (i) => {
            state.page = i;
            drawKeys();
        });
        renderKeys(keysGrid, state.pages[state.page], app.money);
        const active = keyPages.querySelector("button.active");
        if (active) active.scrollIntoView({ block: "nearest", inline: "nearest" });
        drawMoreTabs();
    }

    // More department tabs than the row shows: an arrow (and a fade) on the side that has more.
    const moreLeft = byTestId("key-pages-more-left");
    const moreRight = byTestId("key-pages-more");
    function drawMoreTabs() {
        const over = !keyPages.hidden && keyPages.scrollWidth > keyPages.clientWidth + 1;
        show(moreLeft, over && keyPages.scrollLeft > 1);
        show(moreRight, over && keyPages.scrollLeft + keyPages.clientWidth < keyPages.scrollWidth - 1);
    }
    keyPages.addEventListener("scroll", drawMoreTabs, { passive: true });
    new ResizeObserver(drawMoreTabs).observe(keyPages); // shown, resized, its tabs changed

    // --- the on-screen keypad -------------------------------------------------------

    byTestId("keypad").addEventListener("click", (event) => {
        const key = event.target instanceof Element ? event.target.closest("[data-key]") : null;
        if (!key) return;
        const k = key.dataset.key;
        if (k === "enter") {
            if (code.value.trim()) scanForm.requestSubmit();
        } else if (k === "clear") {
            code.value = "";
            clearPrefix();
        } else if (k === "back") {
            code.value = code.value.slice(0, -1);
        } else if (k === "times") {
            const qty = wireQty(code.value);
            if (qty === null) {
                app.showMessage(t("msg.bad_qty"), code.value);
            } else {
                code.value = "";
                setPrefix(qty);
            }
        } else {
            code.value += k;
        }
        drawEditor();
        refocus();
    });

    // --- the ticket and its selected line -----------------------------------------------

    function selectLine(number) {
        // A deposit line follows its article's line: tapping it selects that line.
        const tapped = app.ticket && app.ticket.lines.find((line) => line.line === number);
        if (tapped && tapped.deposit_for !== undefined && tapped.deposit_for !== null) number = tapped.deposit_for;
        state.selected = state.selected === number ? null : number;
        draw();
    }

    function selectedLine() {
        const ticket = app.ticket;
        if (state.selected === null || !ticket) return null;
        return ticket.lines.find((line) => line.line === state.selected) || null;
    }

    function typedQty() {
        const typed = code.value.trim();
        return typed && parseDecimal(typed) !== null ? wireQty(typed) : null;
    }

    function drawEditor() {
        const line = selectedLine();
        show(editor.box, !!line);
        if (!line) return;
        setText(editor.name, line.name);
        setText(editor.qty, formatQty(line.qty));
        editor.minus.disabled = !(Math.abs(Number(line.qty)) > 1);
        const qty = typedQty();
        setText(editor.set, qty === null ? t("line.set_hint") : t("line.set", { qty: formatQty(qty) }));
        editor.set.classList.toggle("ready", qty !== null);
    }

    async function changeQty(line, qty) {
        await lineChange("set_qty", { line: line.line, qty }, { mutating: true });
    }

    // A returned line keeps its sign (set_qty): − and + count the articles returned.
    editor.minus.addEventListener("click", () => {
        const line = selectedLine();
        const n = line ? Math.abs(Number(line.qty)) : 0;
        if (n > 1) changeQty(line, wireQty(String(n - 1)));
    });
    editor.plus.addEventListener("click", () => {
        const line = selectedLine();
        if (line) changeQty(line, wireQty(String(Math.abs(Number(line.qty)) + 1)));
    });
    // A line's unit price: the new price typed in the code field, then "Prix" (a
    // supervisor's PIN above the shop's price_override_cap: app.approved asks it).
    byTestId("line-price").addEventListener("click", async () => {
        const line = selectedLine();
        if (!line) return;
        const typed = code.value.trim();
        const price = typed ? parseAmount(typed) : null;
        if (price === null) {
            app.showMessage(t("line.type_price"), typed);
            return;
        }
        code.value = "";
        drawEditor();
        await app.approved("set_price", { line: line.line, price }, { mutating: true },
            { why: t("sup.why_price", { name: line.name, price: app.money.format(price) }) });
        refocus();
    });
    byTestId("subtotal").addEventListener("click", () => subtotal());

    async function subtotal() {
        const reply = await app.act("subtotal", {}, { mutating: true });
        if (reply) refocus();
    }

    byTestId("line-discount-open").addEventListener("click", () => {
        const line = selectedLine();
        if (line) app.discount.open(line.line);
    });
    editor.set.addEventListener("click", () => {
        const line = selectedLine();
        if (!line) return;
        const qty = typedQty();
        if (qty === null) {
            app.showMessage(t("line.type_qty"), "");
            return;
        }
        code.value = "";
        changeQty(line, qty);
    });
    editor.remove.addEventListener("click", () => {
        const line = selectedLine();
        if (line) removeLine(line);
    });
    byTestId("line-editor-close").addEventListener("click", () => {
        state.selected = null;
        draw();
    });

    async function removeLine(line) {
        const reply = await app.act("remove_line", { line: line.line }, { mutating: true });
        if (reply) state.selected = null;
        draw();
    }

    // --- the ticket as a whole ------------------------------------------------------

    byTestId("cancel-ticket").addEventListener("click", () => cancelTicket());

    async function cancelTicket() {
        const ticket = app.ticket || EMPTY_TICKET;
        if (!ticket.lines.length && !ticket.payments.length) {
            app.showMessage(t("err.conflict_empty"), "");
            return;
        }
        const yes = await app.confirm(t("confirm.cancel_ticket", { n: ticket.lines.length }), t("confirm.cancel_yes"));
        if (!yes) return;
        const reply = await app.act("cancel_ticket", {}, { mutating: true });
        if (reply) app.notice(t("notice.cancelled"));
    }

    const holdButton = byTestId("hold");
    holdButton.addEventListener("click", () => hold());

    async function hold() {
        if (holdButton.disabled) return;
        holdButton.disabled = true;
        try {
            const reply = await app.act("hold", {}, { mutating: true });
            if (reply) {
                app.notice(t("notice.held"));
                await app.held.refresh();
            }
        } finally {
            holdButton.disabled = false;
        }
    }

    byTestId("pay").addEventListener("click", () => openPayment());

    function openPayment() {
        const ticket = app.ticket || EMPTY_TICKET;
        if (!ticket.lines.length) {
            app.showMessage(t("err.conflict_empty"), "");
            return;
        }
        setPriceCheck(false);
        app.closePanels();
        app.pay.open();
    }

    /** The invoice's PDF, fetched over the websocket and handed to the browser as a download. */
    async function downloadInvoice(number) {
        const reply = await app.act("invoice", { invoice: number });
        if (!reply) return;
        const bytes = Uint8Array.from(atob(reply.pdf), (c) => c.charCodeAt(0));
        const url = URL.createObjectURL(new Blob([bytes], { type: "application/pdf" }));
        const link = h("a", { href: url, download: `${reply.name}.pdf`, testid: "invoice-download" });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
        app.notice(t("sale.invoice_saved", { name: reply.name, total: app.money.format(reply.total) }));
    }

    byTestId("last-sale-invoice").addEventListener("click", () => {
        const number = Number(state.lastSale && state.lastSale.invoice);
        if (number) downloadInvoice(number);
    });

    function showLastSale(reply, fresh = true) {
        state.lastSale = reply;
        if (fresh) setReturning(false); // a sale ended: the next one starts selling
        setText(byTestId("last-sale-number"), t("sale.number", { number: reply.number }));
        const change = Number(reply.change) > 0;
        setText(byTestId("last-sale-change"), change ? t("sale.change", { change: app.money.format(reply.change) }) : t("sale.no_change"));
        // Finished unpaid: what is left due; a refund by voucher (or a remainder): the code to hand over.
        const due = byTestId("last-sale-due");
        setText(due, reply.due !== undefined && Number(reply.due) > 0 ? t("sale.due", { due: app.money.format(reply.due) }) : "");
        show(due, reply.due !== undefined && Number(reply.due) > 0);
        const vouchers = byTestId("last-sale-vouchers");
        const issued = Array.isArray(reply.vouchers) ? reply.vouchers : [];
        setText(vouchers, issued.map((v) => t("sale.voucher_to_give", {
            code: v.code, amount: app.money.format(v.amount), date: v.valid_until,
        })).join(" "));
        show(vouchers, issued.length > 0);
        // Billed on an invoice: a button that fetches its PDF (the `invoice` verb).
        const invoice = byTestId("last-sale-invoice");
        setText(invoice, reply.invoice !== undefined ? t("sale.invoice", { name: invoiceName(reply.invoice) }) : "");
        show(invoice, reply.invoice !== undefined);
        lastSale.dataset.number = reply.number;
        lastSale.classList.toggle("with-change", change);
        show(lastSale, true);
        // The receipt on screen, as the printer gets it (`receipt`), with its copies (`reprint`).
        show(byTestId("last-sale-reprints"), true);
        if (fresh) {
            setText(receiptText, "");
            show(receiptText, false);
            showReceipt(reply.number);
        }
    }

    async function showReceipt(number) {
        const reply = await app.act("receipt", { sale: number }, { quiet: true, onError: () => true });
        const current = state.lastSale && Number(state.lastSale.number) === Number(number);
        if (!reply || !current || lastSale.hidden || (app.ticket && app.ticket.lines.length)) return;
        setText(receiptText, reply.text);
        show(receiptText, true);
        show(emptyTicket, false);
    }

    async function reprint(kind) {
        const number = Number(state.lastSale && state.lastSale.number);
        if (!number) return;
        const reply = await app.act("reprint", { sale: number, kind }, { mutating: true, context: { sale: number, kind } });
        if (reply) app.notice(t(kind === "gift" ? "sale.gift_printed" : "sale.duplicate_printed", { copy: reply.copy }));
    }
    byTestId("reprint-duplicate").addEventListener("click", () => reprint("duplicate"));
    byTestId("reprint-gift").addEventListener("click", () => reprint("gift"));

    // --- keyboard shortcuts ------------------------------------------------------------

    function onShortcut(event) {
        if (app.screen !== "sell" || event.ctrlKey || event.metaKey || event.altKey) return;
        if (app.confirmOpen()) return; // the dialog's own buttons decide
        const key = event.key;
        const take = () => {
            event.preventDefault();
            event.stopPropagation();
        };
        switch (key) {
            case "F1": take(); app.sales.open("sale"); return;
            case "F2": take(); app.search.open(); return;
            case "F3": take(); app.closePanels(); setPriceCheck(!state.priceCheck); refocus(); return;
            case "F4": take(); hold(); return;
            case "F5": take(); if (!app.pay.isOpen) app.discount.open(state.selected); return;
            case "F6": take(); app.customers.open(); return;
            case "F7": take(); byTestId("held-open").click(); return;
            case "F8": take(); if (app.pay.isOpen) app.pay.close(); else openPayment(); return;
            case "F9": take(); app.drawer.open(); return;
            case "F10": take(); app.closePanels(); setReturning(!state.returning); refocus(); return;
            case "?":
                if (isTyping(event)) break;
                take(); app.closePanels(); app.help.open(); return;
            case "Escape":
                take();
                if (app.panelOpen()) app.closePanels();
                else if (state.priceCheck) setPriceCheck(false);
                else if (state.qty !== null) clearPrefix();
                else if (app.pay.isOpen && app.pay.formOpen) app.pay.closeForm();
                else if (app.pay.isOpen) app.pay.close();
                else if (state.selected !== null) selectLine(state.selected);
                else if (state.returning) setReturning(false);
                refocus();
                return;
            default:
                break;
        }
        // Line editing from the keyboard: only with an empty code field, so a code
        // being typed is never taken for a command.
        const line = selectedLine();
        if (code.value !== "" || app.pay.isOpen || app.panelOpen()) return;
        if (event.target instanceof Element && event.target !== code && event.target.matches("input, textarea")) return;
        if (key === "ArrowDown" || key === "ArrowUp") { take(); stepLine(key === "ArrowDown" ? 1 : -1); return; }
        if (key === "=") { take(); subtotal(); return; }
        if (!line) return;
        if (key === "+") { take(); editor.plus.click(); }
        else if (key === "-") { take(); editor.minus.click(); }
        else if (key === "Delete") { take(); removeLine(line); }
    }

    /** A "?" typed in a text field other than the code field is text, not the help. */
    function isTyping(event) {
        const target = event.target;
        return target instanceof Element && target !== code && target.matches("input, textarea") && target.type !== "button";
    }

    /** The arrow keys: the next (or previous) line is selected (a deposit line goes with its article's). */
    function stepLine(step) {
        const ticket = app.ticket || EMPTY_TICKET;
        const lines = ticket.lines.filter((l) => l.deposit_for === undefined || l.deposit_for === null);
        if (!lines.length) return;
        const at = lines.findIndex((l) => l.line === state.selected);
        const next = at < 0 ? (step > 0 ? 0 : lines.length - 1) : Math.min(lines.length - 1, Math.max(0, at + step));
        state.selected = lines[next].line;
        draw();
        const row = table.rows.get(state.selected);
        if (row) row.row.scrollIntoView({ block: "nearest" });
    }

    function draw() {
        const ticket = app.ticket || EMPTY_TICKET;
        if (state.selected !== null && !ticket.lines.some((line) => line.line === state.selected)) state.selected = null;
        if (!ticket.lines.length) state.warnings.clear(); // a new sale: the warnings were the last one's
        const added = table.render(ticket.lines, app.money, state.selected, state.warnings);
        table.renderSubtotals(ticket.subtotals || [], app.money);
        if (ticket.lines.length) show(receiptText, false);
        if (!receiptText.hidden) show(emptyTicket, false); // the last sale's receipt takes its place
        renderTotals(totals, ticket, app.money);
        screen.classList.toggle("has-payments", ticket.payments.length > 0);
        if (added.length) {
            // The line just added stays marked until the next one (no animation: a
            // till draws nothing it does not need to), and is scrolled into view in
            // the next frame (no forced layout here).
            if (latest && latest.isConnected) latest.classList.remove("latest");
            latest = added[added.length - 1];
            latest.classList.add("latest");
            if (latest === table.tbody.lastElementChild && !scrollPending) {
                scrollPending = true;
                requestAnimationFrame(() => {
                    scrollPending = false;
                    ticketBox.scrollTop = ticketBox.scrollHeight;
                });
            }
        }
        drawEditor();
    }

    return {
        renderTicket(ticket) {
            draw();
            if (ticket && ticket.lines.length) show(lastSale, false);
        },
        setKeyboard(pages) {
            state.pages = Array.isArray(pages) ? pages : [];
            state.keysLoaded = true;
            drawKeys();
        },
        redraw() {
            // the language changed: everything written in words is drawn again
            draw();
            if (state.keysLoaded) drawKeys();
            if (state.qty !== null) setPrefix(state.qty);
            if (state.lastSale && !lastSale.hidden) showLastSale(state.lastSale, false);
        },
        submitCode,
        /** An article picked in the search: sold (with the prefix), or looked up. */
        submitArticle(article) {
            if (state.priceCheck) {
                setPriceCheck(false);
                priceCheck(article.article);
            } else {
                addArticle(article.article, takePrefix());
            }
        },
        showLastSale,
        focus: refocus,
        reset() {
            show(candidates, false);
            code.value = "";
            clearPrefix();
            setPriceCheck(false);
            state.selected = null;
            setReturning(false);
        },
    };
}
