"""A generated catalog of a million articles, and what it costs in process.

``build`` writes ``count`` generated articles into a fresh database with the
project's own store functions (``store.admin.import_articles``, in transactions of
``CHUNK`` articles). ``measure`` loads them back the way the server does at start-up
(``store.reads.articles`` → ``rules.catalog.Catalog``) and times, on that
``Catalog`` object:

  * ``lookup`` of codes a till sends (barcodes, case barcodes, supplier references,
    article ids, unknown codes), against a plain ``dict.get`` on the same barcodes;
  * ``search`` of what a cashier types (whole words, prefixes, inner parts, two
    words, accents and capitals), against the linear scan ``search`` used to be
    (``reference_search``, run on the first queries only: it is slow), whose results
    must be the same.

Both run in a child process of the bench (``python -m bench.catalog_million``) so
that the bench's own memory stays small; ``measure`` prints one JSON object.
The generator is seeded: the same seed gives the same catalog.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

CHUNK = 50_000

NOUNS = (
    "Vin rouge", "Vin blanc", "Vin rosé", "Champagne", "Crémant", "Bière blonde", "Bière ambrée", "Cidre brut",
    "Jus de pomme", "Jus d'orange", "Sirop de menthe", "Eau gazeuse", "Café moulu", "Café en grains", "Thé vert",
    "Infusion", "Chocolat noir", "Chocolat au lait", "Biscuits", "Pâtes", "Riz", "Farine", "Sucre", "Sel de Guérande",
    "Huile d'olive", "Vinaigre", "Moutarde", "Confiture", "Miel", "Fromage", "Comté", "Roquefort", "Camembert",
    "Yaourt", "Beurre", "Crème fraîche", "Lait", "Œufs", "Jambon", "Saucisson", "Pâté", "Terrine", "Rillettes",
    "Sardines", "Thon", "Maquereaux", "Soupe", "Compote", "Olives", "Tapenade", "Chips", "Cacahuètes", "Amandes",
    "Noix", "Lentilles", "Pois chiches", "Haricots", "Tomates", "Pain", "Brioche", "Croissants", "Madeleines",
    "Galettes", "Crêpes", "Savon", "Shampooing", "Lessive", "Éponges", "Bougies", "Cassoulet", "Choucroute",
    "Foie gras", "Caramels", "Nougat", "Calissons", "Pruneaux", "Épices", "Poivre", "Herbes de Provence",
)
QUALIFIERS = (
    "bio", "fermier", "extra", "traditionnel", "à l'ancienne", "de Provence", "d'Alsace", "de Bretagne",
    "du Périgord", "des Alpes", "nature", "fumé", "doux", "piquant", "aux herbes", "au citron", "à la vanille",
    "aux noisettes", "complet", "demi-sel", "sans gluten", "allégé", "premium", "artisanal", "grand cru", "réserve",
    "millésimé", "Côtes du Rhône", "Saint-Émilion", "Bordeaux supérieur", "Bourgogne", "Val de Loire", "Corse",
    "Languedoc", "du Jura", "de Normandie", "pur beurre", "sans sucres ajoutés", "équitable", "AOP", "IGP",
)
HOUSES = ("Maison", "Domaine", "Château", "Ferme", "Moulin", "Les Jardins de", "Atelier", "Clos", "")
SYLLABLES = (
    "ba", "bel", "bo", "ca", "cha", "co", "da", "de", "du", "fa", "fon", "ga", "gi", "la", "le", "li", "lo", "lu",
    "ma", "me", "mi", "mo", "mon", "na", "ne", "no", "pa", "pe", "pi", "po", "ra", "re", "ri", "ro", "sa", "se",
    "si", "so", "ta", "te", "ti", "to", "va", "ve", "vi", "vo", "é", "è",
)
ENDINGS = ("", "t", "s", "x", "n", "r", "l", "ac", "ier", "ard", "eau", "ois")
SIZES = ("75 cl", "1 l", "50 cl", "33 cl", "25 cl", "1,5 l", "250 g", "500 g", "1 kg", "125 g", "200 g",
         "x 6", "x 12", "x 4", "150 g", "400 g", "2 kg", "100 g")
VAT_FOR = {"Vin": "20", "Bière": "20", "Cidre": "20", "Champagne": "20", "Crémant": "20", "Savon": "20",
           "Shampooing": "20", "Lessive": "20", "Éponges": "20", "Bougies": "20"}


def article_id(i: int) -> str:
    return f"G{i:07d}"


def barcode(i: int, prefix: str = "2") -> str:
    """A valid EAN-13, unique per ``i`` (prefix 2: in-store numbering)."""
    from laneserver.rules.catalog import ean_check_digit

    body = f"{prefix}{i:011d}"
    return body + ean_check_digit(body)


def supplier_ref(i: int) -> str:
    return f"SR-{i:07d}"


def _brand(rng: random.Random) -> str:
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) + rng.choice(ENDINGS)
    house = rng.choice(HOUSES)
    return f"{house} {word.capitalize()}" if house else word.capitalize()


def generate(count: int, seed: int) -> Iterator:
    """``count`` articles, ids ``G0000000``…: one barcode each, a case of 6 for one in
    ten, a supplier reference for three in ten, 3 % not active."""
    from laneserver.rules.catalog import Article, Barcode

    rng = random.Random(f"{seed}:catalog")
    six = Decimal(6)
    rates = {rate: Decimal(rate) for rate in ("20", "5.5")}
    for i in range(count):
        noun = rng.choice(NOUNS)
        name = f"{noun} {rng.choice(QUALIFIERS)} {_brand(rng)} {rng.choice(SIZES)}"
        codes = [Barcode(barcode(i))]
        if rng.random() < 0.1:
            codes.append(Barcode(barcode(i, "3"), six))
        roll = rng.random()
        status = "active" if roll < 0.97 else ("dormant" if roll < 0.99 else "blocked")
        yield Article(
            id=article_id(i),
            name=name,
            price=Decimal(rng.randint(50, 9_999)).scaleb(-2),
            vat_rate=rates[VAT_FOR.get(noun.split()[0], "5.5")],
            barcodes=tuple(codes),
            supplier_refs=(supplier_ref(i),) if rng.random() < 0.3 else (),
            status=status,
            department=noun.split()[0],
        )


def build(data: Path, count: int, seed: int) -> dict:
    """A fresh database in ``data`` holding the generated catalog."""
    from laneserver.store import admin
    from laneserver.store.schema import DB_NAME, connect

    started = time.perf_counter()
    db = connect(data / DB_NAME)
    try:
        articles = generate(count, seed)
        written = 0
        while written < count:
            chunk = [a for _, a in zip(range(CHUNK), articles)]
            written += admin.import_articles(db, chunk)
    finally:
        db.close()
    return {"articles": written, "seconds": time.perf_counter() - started,
            "db_bytes": (data / DB_NAME).stat().st_size}


# --- search queries -------------------------------------------------------------------------


def queries(names: list[str], count: int, rng: random.Random) -> list[str]:
    """What cashiers type: whole words, prefixes, inner parts, two words, accents kept."""
    from laneserver.rules.catalog import normalize_text

    kinds = ("word", "prefix", "inner", "two_words", "raw_two_words", "miss")
    out: list[str] = []
    while len(out) < count:
        name = rng.choice(names)
        words = [w for w in normalize_text(name).split() if len(w) >= 3 and not w.isdigit()]
        if len(words) < 2:
            continue
        kind = kinds[len(out) % len(kinds)]
        word = rng.choice(words)
        if kind == "word":
            out.append(word)
        elif kind == "prefix":
            out.append(word[: max(3, len(word) - 2)])
        elif kind == "inner":
            out.append(word[1:4] if len(word) >= 5 else word)
        elif kind == "two_words":
            first, second = rng.sample(words, 2)
            out.append(f"{first[:4]} {second}")
        elif kind == "raw_two_words":
            raw = [w for w in name.split() if len(w) >= 3]
            out.append(" ".join(rng.sample(raw, 2)).upper() if len(raw) >= 2 else word)
        else:
            out.append(f"{word}zq")
    return out


def reference_search(catalog, names: list[str], text: str, limit: int = 20) -> list:
    """``Catalog.search`` as it was before the word index: a linear scan of the
    normalized names (kept here as the baseline and as the oracle of its results)."""
    from laneserver.rules.catalog import normalize_text

    words = normalize_text(text).split()
    if not words or limit <= 0:
        return []
    words.sort(key=len, reverse=True)
    found = []
    for article, name in zip(catalog, names):
        if all(word in name for word in words) and article.status == "active":
            found.append(article)
            if len(found) >= limit:
                break
    return found


# --- measuring ---------------------------------------------------------------------------------


def measure(data: Path, *, seed: int, lookups: int, searches: int, reference: int, scan_codes: int) -> dict:
    from bench.server import memory
    from laneserver.rules.catalog import Catalog, normalize_text
    from laneserver.store import reads
    from laneserver.store.schema import DB_NAME, connect

    result: dict = {}
    started = time.perf_counter()
    db = connect(data / DB_NAME, create=False)
    try:
        rows = reads.articles(db)
    finally:
        db.close()
    result["load_seconds"] = time.perf_counter() - started
    built = time.perf_counter()
    catalog = Catalog(rows)
    result["build_seconds"] = time.perf_counter() - built
    del rows
    gc.collect()
    mem = memory(os.getpid())
    result["articles"] = len(catalog)
    result["rss_kib_after_build"] = mem.rss_kib

    rng = random.Random(f"{seed}:measure")
    count = len(catalog)
    codes: list[str] = []
    kinds: list[str] = []
    for _ in range(lookups):
        article = catalog.get(article_id(rng.randrange(count)))
        assert article is not None
        roll = rng.random()
        if roll < 0.85:
            kinds.append("barcode")
            codes.append(rng.choice(article.barcodes).code)
        elif roll < 0.93 and article.supplier_refs:
            kinds.append("supplier_ref")
            codes.append(article.supplier_refs[0].lower() if roll < 0.89 else article.supplier_refs[0])
        elif roll < 0.97:
            kinds.append("id")
            codes.append(article.id)
        else:
            kinds.append("unknown")
            codes.append(barcode(count + rng.randrange(10**6), "2"))

    clock = time.perf_counter_ns
    lookup_ns = []
    for code in codes:
        t0 = clock()
        catalog.lookup(code)
        lookup_ns.append(clock() - t0)
    plain = {b.code: a for a in catalog for b in a.barcodes}
    dict_ns = []
    for code in codes:
        t0 = clock()
        plain.get(code)
        dict_ns.append(clock() - t0)
    del plain
    result["lookup_seconds"] = [ns / 1e9 for ns in lookup_ns]
    result["lookup_kinds"] = kinds
    result["dict_get_seconds"] = [ns / 1e9 for ns in dict_ns]

    articles = list(catalog)
    typed = queries([a.name for a in articles], searches, rng)
    search_ns, hits = [], []
    for text in typed:
        t0 = clock()
        found = catalog.search(text)
        search_ns.append(clock() - t0)
        hits.append([a.id for a in found])
    result["search_seconds"] = [ns / 1e9 for ns in search_ns]
    result["search_queries"] = typed
    result["search_hits"] = [len(h) for h in hits]

    names = [normalize_text(a.name) for a in articles]
    reference_ns, mismatches = [], []
    for text, got in zip(typed[:reference], hits):
        t0 = clock()
        expected = [a.id for a in reference_search(articles, names, text)]
        reference_ns.append(clock() - t0)
        if expected != got:
            mismatches.append({"query": text, "expected": expected, "got": got})
    result["reference_search_seconds"] = [ns / 1e9 for ns in reference_ns]
    result["search_mismatches"] = mismatches

    active = [a for a in articles if a.active]
    picks = rng.sample(active, min(scan_codes, len(active)))
    result["scan_codes"] = [a.barcodes[0].code for a in picks]
    result["article_ids"] = [a.id for a in picks]
    result["rss_kib"] = memory(os.getpid()).rss_kib
    result["hwm_kib"] = memory(os.getpid()).hwm_kib
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.catalog_million")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write a generated catalog into a fresh database")
    b.add_argument("data", type=Path)
    b.add_argument("--count", type=int, default=1_000_000)
    b.add_argument("--seed", type=int, default=1)
    m = sub.add_parser("measure", help="load the catalog in process and time lookups and searches (JSON)")
    m.add_argument("data", type=Path)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--lookups", type=int, default=20_000)
    m.add_argument("--searches", type=int, default=300)
    m.add_argument("--reference", type=int, default=24)
    m.add_argument("--scan-codes", type=int, default=2_000)
    args = parser.parse_args(argv)
    if args.command == "build":
        print(json.dumps(build(args.data, args.count, args.seed)))
    else:
        print(json.dumps(measure(args.data, seed=args.seed, lookups=args.lookups, searches=args.searches,
                                 reference=args.reference, scan_codes=args.scan_codes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
