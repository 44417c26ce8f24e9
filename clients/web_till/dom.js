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
 */
export function captureWedge({ input, form, active }) {
    document.addEventListener("keydown", (event) => {
        if (!active() || event.defaultPrevented) return;
        if (event.ctrlKey || event.metaKey || event.altKey) return;
        const target = event.target;
        if (target === input || isEditable(target)) return;
        if (event.key === "Enter") {
            if (!input.value.trim()) return; // leave Enter to the focused button
            event.preventDefault();
            form.requestSubmit();
        } else if (event.key === "Backspace") {
            event.preventDefault();
            input.value = input.value.slice(0, -1);
        } else if (event.key.length === 1 && event.key !== " ") {
            event.preventDefault();
            input.value += event.key;
        } else {
            return;
        }
        input.focus({ preventScroll: true });
    }, true);
}

/**
 * Keep the focus on `input` while `active()`: after a click on a button or on the
 * page, the focus comes back (a text field the user clicked keeps it).
 */
export function keepFocus(input, active) {
    const refocus = () => {
        if (!active() || input.disabled || input.offsetParent === null) return;
        const el = document.activeElement;
        if (el === input || isEditable(el)) return;
        input.focus({ preventScroll: true });
    };
    input.addEventListener("blur", () => setTimeout(refocus, 0));
    document.addEventListener("click", () => setTimeout(refocus, 0));
    return refocus;
}
