// Small DOM helpers shared by the till and the PDA. Text always goes in through
// textContent (never innerHTML), so nothing the server or a barcode sends is markup.

/**
 * h("button", {testid: "recall", class: "small", onclick: fn}, "Reprendre")
 * Attributes: testid → data-testid, class, on* → listeners, dataset: {...},
 * boolean true/false → present/absent, others → setAttribute. Children: nodes or text.
 */
export function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
        if (value === undefined || value === null || value === false) continue;
        if (name === "testid") el.dataset.testid = value;
        else if (name === "class") el.className = value;
        else if (name === "dataset") Object.assign(el.dataset, value);
        else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
        else if (value === true) el.setAttribute(name, "");
        else el.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
        if (child === null || child === undefined || child === false) continue;
        el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
}

/** The element with data-testid=id (throws if the page lacks it: a page bug). */
export function byTestId(id, root = document) {
    const el = root.querySelector(`[data-testid="${id}"]`);
    if (!el) throw new Error(`missing element data-testid=${id}`);
    return el;
}

export function show(el, visible = true) {
    el.hidden = !visible;
}

export function setText(el, text) {
    el.textContent = text === null || text === undefined ? "" : String(text);
}

/**
 * Device token: from the URL fragment "#token=..." (stored, then removed from the
 * address bar so it is not bookmarked or shared), else from localStorage.
 */
export function takeToken(storageKey) {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    const fromUrl = params.get("token");
    if (fromUrl) {
        saveToken(storageKey, fromUrl.trim());
        params.delete("token");
        const rest = params.toString();
        history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
        return { token: fromUrl.trim(), fresh: true };
    }
    return { token: loadToken(storageKey), fresh: false };
}

export function loadToken(storageKey) {
    try { return localStorage.getItem(storageKey) || null; } catch (_) { return null; }
}

export function saveToken(storageKey, token) {
    try {
        if (token) localStorage.setItem(storageKey, token);
        else localStorage.removeItem(storageKey);
    } catch (_) { /* private mode: the token lives for this page only */ }
}

// Keyboard navigation: a button the cashier reached with Tab (or the arrow keys of a
// list) keeps the focus, and Enter presses it, until a character is typed or the
// screen is touched; then the scanner's keys go back to the code field.
let keyboardNav = false;
const NAV_KEYS = new Set(["Tab", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"]);
document.addEventListener("keydown", (event) => {
    if (NAV_KEYS.has(event.key)) keyboardNav = true;
    else if (event.key.length === 1 && event.key !== " ") keyboardNav = false;
}, true);
document.addEventListener("pointerdown", () => { keyboardNav = false; }, true);

/** A button (or link) that has the focus because the cashier moved it there by keyboard. */
export function navigatedTo(el) {
    return keyboardNav && !!el && el !== document.body && el.matches("button, a[href]") && el.offsetParent !== null;
}

/** Mark the focus as moved by the keyboard (a list's arrow keys). */
export function markKeyboardNav() {
    keyboardNav = true;
}

function isEditable(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    const tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    return !["button", "submit", "reset", "checkbox", "radio", "range", "color", "file"].includes(el.type);
}

/**
 * Keyboard-wedge capture: a scanner "types" a code then Enter wherever the focus is.
 * Keys typed while no text field has the focus go to `input` (appended to its value,
 * Enter submits `form`); a text field with the focus (a cash amount, a PIN) keeps its
 * keys. `active()` says whether capture is on (e.g. only on the selling screen).
 * `input` and `form` may be functions returning the element (the field that should
 * receive the keys can depend on the page's state).
 */
export function captureWedge({ input, form, active }) {
    const field = () => (typeof input === "function" ? input() : input);
    const owner = () => (typeof form === "function" ? form() : form);
    document.addEventListener("keydown", (event) => {
        if (!active() || event.defaultPrevented) return;
        if (event.ctrlKey || event.metaKey || event.altKey) return;
        const target = event.target;
        const el = field();
        if (!el || target === el || isEditable(target)) return;
        if (event.key === "Enter") {
            if (!el.value.trim() || navigatedTo(target)) return; // leave Enter to the focused button
            event.preventDefault();
            owner().requestSubmit();
        } else if (event.key === "Backspace") {
            event.preventDefault();
            el.value = el.value.slice(0, -1);
            el.dispatchEvent(new Event("input", { bubbles: true }));
        } else if (event.key.length === 1 && event.key !== " ") {
            event.preventDefault();
            el.value += event.key;
            el.dispatchEvent(new Event("input", { bubbles: true }));
        } else {
            return;
        }
        el.focus({ preventScroll: true });
    }, true);
}

/**
 * Keep the focus on `input` while `active()`: after a click on a button or on the
 * page, the focus comes back (a text field the user clicked keeps it). `input` may
 * be a function returning the element.
 */
export function keepFocus(input, active) {
    const field = () => (typeof input === "function" ? input() : input);
    const refocus = () => {
        const el = field();
        if (!el || !active() || el.disabled || el.offsetParent === null) return;
        const focused = document.activeElement;
        if (focused === el || (isEditable(focused) && focused.offsetParent !== null)) return;
        if (navigatedTo(focused)) return; // Tab moved it there: it stays
        el.focus({ preventScroll: true });
    };
    document.addEventListener("focusout", () => setTimeout(refocus, 0));
    document.addEventListener("click", () => setTimeout(refocus, 0));
    return refocus;
}

/**
 * Buttons under `root` never take the focus from a text field: the scanner's
 * keystrokes keep landing in the code field after a tap on any key. (The click
 * still happens; only the focus change that a mouse/touch press causes is stopped.)
 */
export function buttonsKeepFocusAway(root = document) {
    root.addEventListener("mousedown", (event) => {
        if (event.button !== 0) return;
        const button = event.target instanceof Element ? event.target.closest("button") : null;
        if (button) event.preventDefault();
    }, true);
}

/**
 * Long press on the elements matching `selector` inside `container`: after `ms`
 * of a still press, `onLong(element)` runs and the click that ends the press is
 * swallowed (a short press stays a click). Works with mouse, touch and pen.
 */
export function onLongPress(container, selector, onLong, ms = 550) {
    let timer = null;
    let start = null;
    let current = null;
    let fired = false;
    const cancel = () => {
        clearTimeout(timer);
        timer = null;
    };
    container.addEventListener("pointerdown", (event) => {
        const el = event.target instanceof Element ? event.target.closest(selector) : null;
        fired = false;
        cancel();
        if (!el || !container.contains(el) || event.button > 0) return;
        start = { x: event.clientX, y: event.clientY };
        current = el;
        timer = setTimeout(() => {
            timer = null;
            fired = true;
            onLong(el);
        }, ms);
    });
    container.addEventListener("pointermove", (event) => {
        if (timer && start && Math.hypot(event.clientX - start.x, event.clientY - start.y) > 12) cancel();
    });
    container.addEventListener("pointerup", cancel);
    container.addEventListener("pointercancel", cancel);
    container.addEventListener("pointerout", (event) => {
        // leaving the key (not just moving between its label and its price)
        if (current && !(event.relatedTarget instanceof Node && current.contains(event.relatedTarget))) cancel();
    });
    container.addEventListener("click", (event) => {
        if (!fired) return;
        fired = false;
        event.preventDefault();
        event.stopPropagation();
    }, true);
    container.addEventListener("contextmenu", (event) => {
        if (event.target instanceof Element && event.target.closest(selector)) event.preventDefault();
    });
}
