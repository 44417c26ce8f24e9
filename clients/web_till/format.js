// Pure text helpers shared by the till and the PDA: money, quantities, typed input,
// and the server's error codes in plain French. No DOM here.

/** "fr_FR" (shop config style) or "fr-FR" → a BCP 47 tag Intl accepts; fr-FR otherwise. */
export function bcp47(locale) {
    const tag = String(locale || "fr-FR").replace("_", "-");
    try {
        return Intl.getCanonicalLocales(tag)[0] || "fr-FR";
    } catch (_) {
        return "fr-FR";
    }
}

/** Formats money strings ("12.50") as "12,50 €" for the shop's currency and locale. */
export class Money {
    constructor(currency = "EUR", locale = "fr-FR") {
        this.currency = currency || "EUR";
        this.locale = bcp47(locale);
        try {
            this.fmt = new Intl.NumberFormat(this.locale, { style: "currency", currency: this.currency });
        } catch (_) {
            this.fmt = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR" });
        }
    }

    format(value) {
        if (value === null || value === undefined || value === "") return "";
        const n = Number(value);
        return Number.isFinite(n) ? this.fmt.format(n) : String(value);
    }
}

/** A quantity string from the server ("2", "0.456") in French ("2", "0,456"). */
export function formatQty(value) {
    if (value === null || value === undefined) return "";
    return String(value).replace(".", ",");
}

/** A typed decimal ("3", "0,5", "1.25") → the string the protocol takes, or null. */
export function parseDecimal(text) {
    const t = String(text).trim().replace(",", ".");
    return /^\d+(\.\d+)?$/.test(t) ? t : null;
}

/** A quantity for the wire: an integer when it is one, else a decimal string. */
export function wireQty(text) {
    const d = parseDecimal(text);
    if (d === null || Number(d) <= 0) return null;
    return /^\d+$/.test(d) ? Number(d) : d;
}

/** A typed amount ("50", "12,5", "12.50") → "12.50", or null when it is not an amount. */
export function parseAmount(text) {
    const t = String(text).trim().replace(/\s|€/g, "").replace(",", ".");
    if (!/^\d+(\.\d{1,2})?$/.test(t)) return null;
    const [units, cents = ""] = t.split(".");
    return `${String(Number(units))}.${cents.padEnd(2, "0")}`;
}

/**
 * What the cashier typed or scanned: "3760245001015", "3*3760245001015",
 * "3x3760245001015", "0,5*2058". Returns {code, qty} (qty null = one),
 * {qtyOnly: qty} when only "3*" is there, {badQty: text} for "0*…", or null
 * for nothing.
 */
export function parseScan(buffer) {
    const text = String(buffer).trim();
    if (!text) return null;
    const m = /^(\d+(?:[.,]\d+)?)\s*[*xX×]\s*(.*)$/.exec(text);
    if (m) {
        const qty = wireQty(m[1]);
        if (qty === null) return { badQty: m[1] };
        const code = m[2].trim();
        if (!code) return { qtyOnly: qty };
        return { code, qty };
    }
    return { code: text, qty: null };
}

/** How long ago an ISO time was, in French ("à l'instant", "il y a 5 min", "il y a 2 h"). */
export function age(iso, now = Date.now()) {
    const then = Date.parse(iso);
    if (!Number.isFinite(then)) return "";
    const s = Math.max(0, Math.round((now - then) / 1000));
    if (s < 60) return "à l'instant";
    const min = Math.floor(s / 60);
    if (min < 60) return `il y a ${min} min`;
    const h = Math.floor(min / 60);
    if (h < 48) return `il y a ${h} h`;
    return `il y a ${Math.floor(h / 24)} j`;
}

export const PAYMENT_LABELS = {
    cash: "Espèces",
    card: "Carte",
    cheque: "Chèque",
    voucher: "Bon d'achat",
    meal_voucher: "Titre-restaurant",
    credit: "Compte client",
    wallet: "Porte-monnaie",
};

export function paymentLabel(mode) {
    return PAYMENT_LABELS[mode] || mode;
}

const ERROR_SENTENCES = {
    unauthenticated: "Cet appareil n'est pas (ou plus) appairé : saisissez un nouveau jeton.",
    not_signed_in: "Aucun vendeur n'est connecté : identifiez-vous.",
    wrong_pin: "Vendeur inconnu ou code PIN incorrect.",
    unknown_code: "Code inconnu.",
    ambiguous_code: "Plusieurs articles portent ce code : choisissez l'article.",
    not_found: "Introuvable.",
    conflict: "Impossible dans l'état actuel du ticket.",
    balance_not_zero: "Le ticket n'est pas soldé.",
    bad_request: "Demande refusée : une donnée est invalide.",
    not_supported: "Cette fonction n'est pas disponible sur ce serveur.",
    unavailable: "Le serveur n'a pas répondu à temps : réessayez.",
    internal: "Erreur interne du serveur : rien n'a été modifié.",
    forbidden: "Action non autorisée.",
    supervisor_required: "Un responsable doit valider cette action avec son code.",
    too_large: "Demande trop volumineuse.",
    connection_stopped: "La connexion au serveur est fermée.",
};

/**
 * An error (ServerError, or anything thrown) → {text, detail}: a French sentence
 * for the code, and the server's own message as the detail.
 * @param {object} error
 * @param {object} [context] {code: the scanned code, money: Money}
 */
export function describeError(error, context = {}) {
    const code = (error && error.code) || "internal";
    const frame = (error && error.frame) || {};
    let text = ERROR_SENTENCES[code] || "Erreur.";
    if (code === "unknown_code" && context.code) {
        text = `Code inconnu : ${context.code}.`;
    } else if (code === "balance_not_zero" && frame.balance !== undefined && context.money) {
        text = `Le ticket n'est pas soldé : reste ${context.money.format(frame.balance)} à régler.`;
    } else if (code === "not_found" && frame.article) {
        text = `Article introuvable : ${frame.article}.`;
    }
    const detail = (error && error.message) || "";
    return { code, text, detail };
}
