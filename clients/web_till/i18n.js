// The till's words in French and English. No DOM here except applyI18n(), which
// fills the elements of the static page that carry data-i18n attributes.
//
//   t("pay.change")                  → "Rendu" / "Change"
//   t("held.lines", {n: 3})          → "3 lignes" / "3 lines"
//   setLanguage("en")                → every later t() speaks English
//
// French is the default (the demo shop's locale is "fr"); the PDA never calls
// setLanguage and stays French. A missing key falls back to French, then to the key.

const FR = {
    "lang.other": "EN",
    "lang.other_title": "Switch to English",
    "pair.title": "Appairer cette caisse",
    "pair.help": "Saisissez le jeton affiché par",
    "pair.label": "Jeton de l'appareil",
    "pair.button": "Appairer",
    "wait.text": "Connexion au serveur…",
    "signin.title": "Identification du vendeur",
    "signin.seller": "Vendeur",
    "signin.pin": "Code PIN",
    "signin.recent": "Vendeurs récents",
    "pin.clear": "Eff.",
    "header.switch": "Changer de vendeur",
    "header.lane": (p) => `Caisse ${p.lane}`,
    "header.lane_none": "Caisse",
    "header.seller": (p) => `Vendeur : ${p.seller}`,
    "scan.placeholder": "Scannez ou tapez un code",
    "scan.add": "Ajouter",
    "scan.search": "Rechercher",
    "scan.price": "Prix ?",
    "scan.sending": "Envoi…",
    "price.mode": "Vérification de prix : scannez ou saisissez un article (le ticket n'est pas modifié).",
    "price.mode_off": "Terminer",
    "qty.prefix": (p) => `${p.qty} ×`,
    "qty.prefix_title": "Quantité du prochain article",
    "ticket.article": "Article",
    "ticket.qty": "Qté",
    "ticket.unit": "Prix unit.",
    "ticket.discount": "Remise",
    "ticket.total": "Total",
    "ticket.empty": "Ticket vide : scannez un article.",
    "totals.total": "Total",
    "totals.paid": "Payé",
    "totals.balance": "Reste à payer",
    "totals.change": "Rendu",
    "actions.hold": "Mettre en attente",
    "actions.held": "En attente",
    "actions.cancel": "Annuler le ticket",
    "actions.pay": "Payer",
    "line.minus": "Un de moins",
    "line.plus": "Un de plus",
    "line.set": (p) => `Qté = ${p.qty}`,
    "line.set_hint": "Qté = …",
    "line.remove": "Supprimer",
    "line.close": "Fermer",
    "line.type_qty": "Tapez la quantité (pavé ou clavier), puis « Qté = ».",
    "keys.none": "Aucune touche article n'est configurée pour ce magasin.",
    "keys.hold_hint": "Appui long : stock",
    "keypad.qty": "Quantité ×",
    "keypad.clear": "Effacer",
    "keypad.back": "Effacer un chiffre",
    "keypad.enter": "Valider",
    "pay.title": "Paiement",
    "pay.balance": "Reste à payer",
    "pay.change": "À rendre",
    "pay.amount": "Montant remis",
    "pay.amount_placeholder": "vide = le reste dû",
    "pay.quick": "Montants rapides",
    "pay.exact": "Exact",
    "pay.back": "Retour aux articles",
    "pay.finish": "Valider + ticket",
    "pay.finish_none": "Valider sans ticket",
    "pay.payments": "Paiements",
    "pay.none": "Aucun paiement.",
    "pay.remove": "Retirer ce paiement",
    "pay.paid_all": "Soldé : validez la vente.",
    "mode.cash": "Espèces",
    "mode.card": "Carte",
    "mode.cheque": "Chèque",
    "mode.voucher": "Bon d'achat",
    "mode.meal_voucher": "Titre-restaurant",
    "mode.credit": "Compte client",
    "mode.wallet": "Porte-monnaie",
    "mode.gift_card": "Carte cadeau",
    "mode.store_credit": "Avoir",
    "mode.transfer": "Virement",
    "sale.number": (p) => `Ticket n° ${p.number}`,
    "sale.change": (p) => `Rendu ${p.change}`,
    "sale.no_change": "Pas de monnaie à rendre",
    "held.title": "Tickets en attente",
    "held.none": "Aucun ticket en attente.",
    "held.lines": (p) => `${p.n} ligne${p.n > 1 ? "s" : ""}`,
    "held.recall": "Reprendre",
    "held.close": "Fermer",
    "held.refresh": "Actualiser",
    "search.title": "Rechercher un article",
    "search.placeholder": "Nom de l'article (2 lettres au moins)",
    "search.none": "Aucun article ne correspond.",
    "search.close": "Fermer",
    "info.price_title": "Prix et stock",
    "info.point": "Point de stock",
    "info.real": "Réel",
    "info.reserved": "Réservé",
    "info.available": "Disponible",
    "info.codes": "Codes",
    "info.close": "Fermer",
    "info.no_stock": "Aucun point de stock.",
    "confirm.cancel_ticket": (p) => `Annuler le ticket en cours ? ${p.n > 1 ? `Ses ${p.n} lignes seront supprimées` : "Sa ligne sera supprimée"}.`,
    "confirm.cancel_yes": "Oui, annuler le ticket",
    "confirm.no": "Non, garder",
    "notice.held": "Ticket mis en attente.",
    "notice.recalled": "Ticket repris.",
    "notice.swapped": "Le ticket en cours a été mis en attente ; ticket repris.",
    "notice.cancelled": "Ticket annulé.",
    "notice.payment_removed": "Paiement retiré.",
    "conn.lost": "Connexion perdue — reconnexion automatique…",
    "conn.pending": (p) => ` ${p.n} opération${p.n > 1 ? "s" : ""} en attente d'envoi (rien ne sera compté deux fois).`,
    "conn.unreachable": "Serveur injoignable — nouvel essai…",
    "conn.connecting": "Connexion au serveur…",
    "conn.back": "Connexion rétablie.",
    "conn.retry": "Réessayer maintenant",
    "printer.offline": (p) => `Imprimante hors ligne : ${p.n} ticket${p.n > 1 ? "s" : ""} en attente d'impression.`,
    "printer.offline_none": "Imprimante hors ligne.",
    "candidates.title": "Plusieurs articles portent ce code : lequel ?",
    "msg.bad_qty": "Quantité invalide.",
    "msg.bad_amount": "Montant invalide.",
    "msg.scan_after_qty": "Scannez ou saisissez l'article après la quantité.",
    "msg.wrong_kind": (p) => `Ce jeton est celui d'un appareil « ${p.kind} », pas d'une caisse.`,
    "close": "Fermer",
    "age.now": "à l'instant",
    "age.min": (p) => `il y a ${p.n} min`,
    "age.h": (p) => `il y a ${p.n} h`,
    "age.d": (p) => `il y a ${p.n} j`,
    "err.unauthenticated": "Cet appareil n'est pas (ou plus) appairé : saisissez un nouveau jeton.",
    "err.not_signed_in": "Aucun vendeur n'est connecté : identifiez-vous.",
    "err.wrong_pin": "Vendeur inconnu ou code PIN incorrect.",
    "err.unknown_code": "Code inconnu.",
    "err.unknown_code_x": (p) => `Code inconnu : ${p.code}.`,
    "err.ambiguous_code": "Plusieurs articles portent ce code : choisissez l'article.",
    "err.not_found": "Introuvable.",
    "err.not_found_article": (p) => `Article introuvable : ${p.article}.`,
    "err.not_found_held": "Ce ticket en attente n'existe plus (déjà repris ?).",
    "err.not_found_line": "Cette ligne n'existe plus sur le ticket.",
    "err.not_found_payment": "Ce paiement n'existe plus sur le ticket.",
    "err.conflict": "Impossible dans l'état actuel du ticket.",
    "err.conflict_payments": "Le ticket a des paiements : retirez-les avant de modifier les lignes.",
    "err.conflict_empty": "Le ticket est vide.",
    "err.conflict_paid": "Le ticket est déjà soldé : validez la vente.",
    "err.conflict_recall": "Le ticket en cours n'est pas vide : mettez-le en attente ou terminez-le d'abord.",
    "err.balance_not_zero": "Le ticket n'est pas soldé.",
    "err.balance_not_zero_x": (p) => `Le ticket n'est pas soldé : reste ${p.balance} à régler.`,
    "err.bad_request": "Demande refusée : une donnée est invalide.",
    "err.over_balance": (p) => `Ce moyen de paiement ne peut pas dépasser le reste dû (${p.balance}) : seules les espèces rendent la monnaie.`,
    "err.not_supported": "Cette fonction n'est pas disponible sur ce serveur.",
    "err.unavailable": "Le serveur n'a pas répondu à temps : réessayez.",
    "err.internal": "Erreur interne du serveur : rien n'a été modifié.",
    "err.forbidden": "Action non autorisée.",
    "err.pin_locked": "Trop de codes PIN faux sur cette caisse : patientez quelques secondes avant de réessayer.",
    "err.supervisor_required": "Un responsable doit valider cette action avec son code.",
    "err.too_large": "Demande trop volumineuse.",
    "err.connection_stopped": "La connexion au serveur est fermée.",
    "err.unknown": "Erreur.",
};

const EN = {
    "lang.other": "FR",
    "lang.other_title": "Passer en français",
    "pair.title": "Pair this till",
    "pair.help": "Enter the token printed by",
    "pair.label": "Device token",
    "pair.button": "Pair",
    "wait.text": "Connecting to the server…",
    "signin.title": "Seller sign-in",
    "signin.seller": "Seller",
    "signin.pin": "PIN",
    "signin.recent": "Recent sellers",
    "pin.clear": "Clr",
    "header.switch": "Switch seller",
    "header.lane": (p) => `Lane ${p.lane}`,
    "header.lane_none": "Till",
    "header.seller": (p) => `Seller: ${p.seller}`,
    "scan.placeholder": "Scan or type a code",
    "scan.add": "Add",
    "scan.search": "Search",
    "scan.price": "Price?",
    "scan.sending": "Sending…",
    "price.mode": "Price check: scan or type an item (the ticket is not changed).",
    "price.mode_off": "Done",
    "qty.prefix": (p) => `${p.qty} ×`,
    "qty.prefix_title": "Quantity of the next item",
    "ticket.article": "Item",
    "ticket.qty": "Qty",
    "ticket.unit": "Unit price",
    "ticket.discount": "Discount",
    "ticket.total": "Total",
    "ticket.empty": "Empty ticket: scan an item.",
    "totals.total": "Total",
    "totals.paid": "Paid",
    "totals.balance": "Balance due",
    "totals.change": "Change",
    "actions.hold": "Hold",
    "actions.held": "Held",
    "actions.cancel": "Cancel ticket",
    "actions.pay": "Pay",
    "line.minus": "One less",
    "line.plus": "One more",
    "line.set": (p) => `Qty = ${p.qty}`,
    "line.set_hint": "Qty = …",
    "line.remove": "Delete",
    "line.close": "Close",
    "line.type_qty": "Type the quantity (keypad or keyboard), then “Qty =”.",
    "keys.none": "No product keys are configured for this shop.",
    "keys.hold_hint": "Long press: stock",
    "keypad.qty": "Quantity ×",
    "keypad.clear": "Clear",
    "keypad.back": "Delete one digit",
    "keypad.enter": "Enter",
    "pay.title": "Payment",
    "pay.balance": "Balance due",
    "pay.change": "Change due",
    "pay.amount": "Amount tendered",
    "pay.amount_placeholder": "empty = the balance",
    "pay.quick": "Quick amounts",
    "pay.exact": "Exact",
    "pay.back": "Back to items",
    "pay.finish": "Finish + receipt",
    "pay.finish_none": "Finish, no receipt",
    "pay.payments": "Payments",
    "pay.none": "No payment yet.",
    "pay.remove": "Remove this payment",
    "pay.paid_all": "Paid in full: finish the sale.",
    "mode.cash": "Cash",
    "mode.card": "Card",
    "mode.cheque": "Cheque",
    "mode.voucher": "Voucher",
    "mode.meal_voucher": "Meal voucher",
    "mode.credit": "Customer account",
    "mode.wallet": "Wallet",
    "mode.gift_card": "Gift card",
    "mode.store_credit": "Store credit",
    "mode.transfer": "Bank transfer",
    "sale.number": (p) => `Ticket no. ${p.number}`,
    "sale.change": (p) => `Change ${p.change}`,
    "sale.no_change": "No change due",
    "held.title": "Held tickets",
    "held.none": "No held ticket.",
    "held.lines": (p) => `${p.n} line${p.n > 1 ? "s" : ""}`,
    "held.recall": "Recall",
    "held.close": "Close",
    "held.refresh": "Refresh",
    "search.title": "Find an item",
    "search.placeholder": "Item name (2 letters at least)",
    "search.none": "No item matches.",
    "search.close": "Close",
    "info.price_title": "Price and stock",
    "info.point": "Stock point",
    "info.real": "On hand",
    "info.reserved": "Reserved",
    "info.available": "Available",
    "info.codes": "Codes",
    "info.close": "Close",
    "info.no_stock": "No stock point.",
    "confirm.cancel_ticket": (p) => `Cancel the open ticket? ${p.n > 1 ? `Its ${p.n} lines will be deleted` : "Its line will be deleted"}.`,
    "confirm.cancel_yes": "Yes, cancel the ticket",
    "confirm.no": "No, keep it",
    "notice.held": "Ticket held.",
    "notice.recalled": "Ticket recalled.",
    "notice.swapped": "The open ticket was held; ticket recalled.",
    "notice.cancelled": "Ticket cancelled.",
    "notice.payment_removed": "Payment removed.",
    "conn.lost": "Connection lost — reconnecting by itself…",
    "conn.pending": (p) => ` ${p.n} operation${p.n > 1 ? "s" : ""} waiting to be sent (nothing will count twice).`,
    "conn.unreachable": "Server unreachable — trying again…",
    "conn.connecting": "Connecting to the server…",
    "conn.back": "Connection restored.",
    "conn.retry": "Retry now",
    "printer.offline": (p) => `Printer offline: ${p.n} receipt${p.n > 1 ? "s" : ""} waiting to print.`,
    "printer.offline_none": "Printer offline.",
    "candidates.title": "Several items share this code: which one?",
    "msg.bad_qty": "Invalid quantity.",
    "msg.bad_amount": "Invalid amount.",
    "msg.scan_after_qty": "Scan or type the item after the quantity.",
    "msg.wrong_kind": (p) => `This token belongs to a “${p.kind}” device, not a till.`,
    "close": "Close",
    "age.now": "just now",
    "age.min": (p) => `${p.n} min ago`,
    "age.h": (p) => `${p.n} h ago`,
    "age.d": (p) => `${p.n} d ago`,
    "err.unauthenticated": "This device is not (or no longer) paired: enter a new token.",
    "err.not_signed_in": "No seller is signed in: sign in.",
    "err.wrong_pin": "Unknown seller or wrong PIN.",
    "err.unknown_code": "Unknown code.",
    "err.unknown_code_x": (p) => `Unknown code: ${p.code}.`,
    "err.ambiguous_code": "Several items share this code: choose the item.",
    "err.not_found": "Not found.",
    "err.not_found_article": (p) => `Item not found: ${p.article}.`,
    "err.not_found_held": "This held ticket no longer exists (already recalled?).",
    "err.not_found_line": "This line is no longer on the ticket.",
    "err.not_found_payment": "This payment is no longer on the ticket.",
    "err.conflict": "Not possible in the ticket's current state.",
    "err.conflict_payments": "The ticket has payments: remove them before changing its lines.",
    "err.conflict_empty": "The ticket is empty.",
    "err.conflict_paid": "The ticket is already paid: finish the sale.",
    "err.conflict_recall": "The open ticket is not empty: hold or finish it first.",
    "err.balance_not_zero": "The ticket is not fully paid.",
    "err.balance_not_zero_x": (p) => `The ticket is not fully paid: ${p.balance} still due.`,
    "err.bad_request": "Request refused: a value is invalid.",
    "err.over_balance": (p) => `This payment mode cannot exceed the balance (${p.balance}): only cash gives change.`,
    "err.not_supported": "This function is not available on this server.",
    "err.unavailable": "The server did not answer in time: try again.",
    "err.internal": "Internal server error: nothing was changed.",
    "err.forbidden": "Not allowed.",
    "err.pin_locked": "Too many wrong PINs on this till: wait a few seconds before trying again.",
    "err.supervisor_required": "A manager must approve this with their PIN.",
    "err.too_large": "Request too large.",
    "err.connection_stopped": "The connection to the server is closed.",
    "err.unknown": "Error.",
};

const DICTS = { fr: FR, en: EN };
const LOCALES = { fr: "fr-FR", en: "en-GB" };
export const LANGUAGES = Object.freeze(Object.keys(DICTS));

let current = "fr";
const listeners = new Set();

/** "fr", "fr_FR", "en-US", … → "fr" or "en" (French for anything else). */
export function languageOf(locale) {
    const lang = String(locale || "").slice(0, 2).toLowerCase();
    return DICTS[lang] ? lang : "fr";
}

export function language() {
    return current;
}

/** The BCP 47 locale numbers and money are written in for the current language. */
export function locale() {
    return LOCALES[current];
}

export function setLanguage(lang) {
    const next = languageOf(lang);
    if (next === current) return;
    current = next;
    for (const listener of listeners) {
        try { listener(current); } catch (e) { console.error(e); }
    }
}

/** Called with the new language after each change. */
export function onLanguage(listener) {
    listeners.add(listener);
}

export function has(key) {
    return key in DICTS[current] || key in FR;
}

export function t(key, params = {}) {
    const entry = key in DICTS[current] ? DICTS[current][key] : FR[key];
    if (entry === undefined) return key;
    return typeof entry === "function" ? entry(params) : entry;
}

/**
 * Fill the static page: data-i18n → textContent, data-i18n-placeholder →
 * placeholder, data-i18n-title → title and aria-label.
 */
export function applyI18n(root = document) {
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    for (const el of root.querySelectorAll("[data-i18n-title]")) {
        el.title = t(el.dataset.i18nTitle);
        el.setAttribute("aria-label", el.title);
    }
    if (root === document) document.documentElement.lang = current;
}
