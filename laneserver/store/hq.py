"""Head office's side of the journal shipping: a PostgreSQL database that holds every
shop's fiscal chains and business events, exactly once (docs/head_office.md).

One raw table, ``records``, keyed by (shop, chain, sequence): a shop ships each record
with ``INSERT … ON CONFLICT DO NOTHING``, so a batch sent again after a crash or a cut
of the WAN changes nothing the first one wrote. ``record`` is the canonical JSON text
the shop hashed (rules/fiscal.py ``canonical``), kept byte for byte so ``verify`` can
rebuild every hash; ``body`` is the same as ``jsonb`` for the readable views. ``anchors``
holds each shop's last shipped anchor file (bytes as written) and public key.

Readable views over ``records``: ``sales`` (shop, number, total, …), ``sale_lines``,
``payments``, ``money_in``, ``closures``, ``stock_movements``, ``events``; the
consolidated closures ``z_shop`` (each shop's day Zs) and ``z_chain`` (the chain's, per
shop day), ``x_shop`` / ``x_chain`` (sales per shop day as shipped, Z or not).
``catalog_versions``: what head office publishes to the shops (downstream): catalogs
and customers (``kind``).

Everything here is synchronous psycopg (the shop's shipper calls it from a worker
thread; the command line directly). ``SCHEMA`` is a tuple of numbered migrations
(``hq_schema.version`` is how many are applied), append only, as the shop's own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal

import msgspec
import psycopg

from laneserver.clock import shop_day
from laneserver.rules import fec
from laneserver.rules.customers_csv import LOCAL_ID
from laneserver.rules.fiscal import (
    GENESIS,
    Anchor,
    AnchorUnreadable,
    Broken,
    ChainEnd,
    ChainRow,
    check_head,
    decode_anchor,
    signed_bytes,
    walk,
)
from laneserver.store import shop_key
from laneserver.store.fiscal import ALL_CHAINS
from laneserver.store.outbox import EVENT_CHAINS, SHIPPED_CHAINS, Shipped, parse_at

CONNECT_TIMEOUT = 5  # seconds to reach head office before the shipper backs off
STATEMENT_TIMEOUT_MS = 30_000


SCHEMA: tuple[str, ...] = (
    # 1: the raw records, the anchors, the catalog published to the shops
    """
    CREATE TABLE records (
        shop text NOT NULL,
        chain text NOT NULL,
        sequence bigint NOT NULL,
        at timestamptz NOT NULL,
        record text NOT NULL,
        prev_hash text,
        hash text,
        body jsonb GENERATED ALWAYS AS (record::jsonb) STORED,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (shop, chain, sequence)
    );
    CREATE TABLE anchors (
        shop text PRIMARY KEY,
        anchor bytea NOT NULL,
        public_key text,
        shipped_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE catalog_versions (
        version bigserial PRIMARY KEY,
        published_at timestamptz NOT NULL DEFAULT now(),
        kind text NOT NULL DEFAULT 'catalog' CHECK (kind IN ('catalog', 'prices', 'customers')),
        shop text,
        content text NOT NULL
    );
    """,
    # 2: the chain-wide ledger's holds (docs/head_office.md, "Wallet and credit"): money a
    # shop asked head office to hold on a customer's account before taking it. Open while
    # not released, and not expired unless settled; a settled one counts until the shop's
    # account record with its ``settled_ref`` is at head office (then that record counts).
    """
    CREATE TABLE holds (
        hold bigserial PRIMARY KEY,
        shop text NOT NULL,
        customer text NOT NULL,
        account text NOT NULL CHECK (account IN ('credit', 'wallet')),
        amount numeric(14, 2) NOT NULL CHECK (amount > 0),
        asked_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        settled_ref text,
        released_at timestamptz
    );
    CREATE INDEX holds_open ON holds (customer, account) WHERE released_at IS NULL;
    CREATE INDEX records_account_customer ON records ((body->>'customer'), (body->>'account'))
        WHERE chain = 'account';
    """,
    # 3: the number in the shop's ``account`` chain of the record taking a settled hold's
    # amount off (``settle_hold``'s ``record``): the hold counts until that very record is
    # here (every record of a sale carries its ref, so the ref alone may name another).
    """
    ALTER TABLE holds ADD COLUMN settled_record bigint;
    """,
)

# The readable views, made again by every ``hq init`` (a view holds no data).
VIEWS = """
DROP VIEW IF EXISTS x_chain, x_shop, z_chain, z_shop, sale_lines, sales, payments, money_in, closures,
    stock_movements, events, positions, account_movements, account_balances, account_balances_chain,
    account_overdrawn CASCADE;
CREATE VIEW sales AS
    SELECT shop, sequence AS number, at, body->>'lane' AS lane, body->>'seller' AS seller,
           body->>'customer' AS customer, (body->>'total')::numeric AS total, (body->>'paid')::numeric AS paid,
           (body->>'change')::numeric AS change, (body->>'due')::numeric AS due,
           (body->>'cancels')::bigint AS cancels, body->'lines' AS lines, body->'vat' AS vat, hash
    FROM records WHERE chain = 'sale';
CREATE VIEW sale_lines AS
    SELECT r.shop, r.sequence AS sale, r.at, (l->>'line')::int AS line, l->>'article' AS article,
           l->>'name' AS name, (l->>'qty')::numeric AS qty, (l->>'unit_price')::numeric AS unit_price,
           (l->>'vat_rate')::numeric AS vat_rate, (l->>'discount_percent')::numeric AS discount_percent
    FROM records r CROSS JOIN LATERAL jsonb_array_elements(r.body->'lines') AS l
    WHERE r.chain = 'sale';
CREATE VIEW payments AS
    SELECT shop, sequence AS number, (body->>'sale')::bigint AS sale, at, body->>'mode' AS mode,
           (body->>'amount')::numeric AS amount, coalesce(body->>'type', 'PAI') AS type,
           (body->>'refers')::bigint AS refers, body->>'reference' AS reference
    FROM records WHERE chain = 'payment';
CREATE VIEW money_in AS
    SELECT shop, sequence AS number, at, body->>'kind' AS kind, body->>'mode' AS mode,
           (body->>'amount')::numeric AS amount, body->>'customer' AS customer, body->>'lane' AS lane
    FROM records WHERE chain = 'money';
CREATE VIEW closures AS
    SELECT shop, sequence AS number, at, body->>'kind' AS kind, body->>'period' AS period, body
    FROM records WHERE chain = 'closure';
CREATE VIEW stock_movements AS
    SELECT shop, sequence AS seq, at, body->>'stock_point' AS stock_point, body->>'article' AS article,
           (body->>'delta')::numeric AS delta, body->>'reason' AS reason, body->>'ref' AS ref,
           (body->>'unit_cost')::numeric AS unit_cost
    FROM records WHERE chain = 'stock';
CREATE VIEW events AS
    SELECT shop, sequence AS seq, at, body->>'source' AS source, body->>'kind' AS kind, body->'data' AS data
    FROM records WHERE chain = 'event';
CREATE VIEW positions AS
    SELECT shop, chain, max(sequence) AS last, count(*) AS records, max(received_at) AS last_received
    FROM records GROUP BY shop, chain;
CREATE VIEW z_shop AS
    SELECT shop, number, at, period, body->'totals' AS totals, body->>'gt' AS gt, body->>'gt_abs' AS gt_abs, body
    FROM closures WHERE kind = 'day';
CREATE VIEW z_chain AS
    SELECT period, count(*) AS shops, sum((totals->>'tickets')::bigint) AS tickets,
           sum((totals->>'sales')::numeric) AS sales, sum((totals->>'returns')::numeric) AS returns,
           sum((totals->>'net')::numeric) AS net, sum(gt::numeric) AS gt
    FROM z_shop GROUP BY period;
CREATE VIEW x_shop AS
    SELECT shop, (at AT TIME ZONE 'UTC')::date AS day, count(*) AS tickets, sum(total) AS total,
           sum(abs(total)) AS total_abs
    FROM sales GROUP BY shop, (at AT TIME ZONE 'UTC')::date;
CREATE VIEW account_movements AS
    SELECT shop, sequence AS number, at, body->>'customer' AS customer, body->>'account' AS account,
           (body->>'delta')::numeric AS delta, (body->>'balance')::numeric AS shop_balance, body->>'kind' AS kind,
           body->>'ref' AS ref
    FROM records WHERE chain = 'account' AND body->>'type' = 'account';
CREATE VIEW account_balances AS
    SELECT shop, customer, account, sum(delta) AS balance, count(*) AS movements, max(at) AS last_at
    FROM account_movements GROUP BY shop, customer, account;
CREATE VIEW account_balances_chain AS
    SELECT customer, account, sum(delta) AS balance, count(DISTINCT shop) AS shops, max(at) AS last_at,
           CASE WHEN customer ~ '^C[0-9]+$' THEN shop END AS ledger_shop
    FROM account_movements GROUP BY customer, account, CASE WHEN customer ~ '^C[0-9]+$' THEN shop END;
CREATE VIEW account_overdrawn AS
    SELECT customer, account, balance, shops, last_at, ledger_shop FROM account_balances_chain WHERE balance < 0;
CREATE VIEW x_chain AS
    SELECT day, count(DISTINCT shop) AS shops, sum(tickets) AS tickets, sum(total) AS total
    FROM x_shop GROUP BY day;
"""


def connect(dsn: str, connect_timeout: int = CONNECT_TIMEOUT,
            statement_timeout_ms: int = STATEMENT_TIMEOUT_MS) -> psycopg.Connection:
    """A connection to head office, bounded: ``connect_timeout`` to reach it (libpq's
    least is 2 s), TCP keepalives so a cut WAN is noticed, and a statement timeout. In
    autocommit: every unit of work here opens its own ``conn.transaction()``.

    Raises:
        psycopg.Error: head office cannot be reached or refused us.
    """
    return psycopg.connect(dsn, connect_timeout=connect_timeout, autocommit=True,
                           keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                           options=f"-c statement_timeout={statement_timeout_ms}")


def init(conn: psycopg.Connection) -> tuple[int, int]:
    """Create or upgrade head office's schema: (version before, version after).

    Each migration and the views are applied in one transaction, under an advisory
    lock so two ``hq init`` at once do not both apply the same migration."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(19190019)")
        conn.execute("CREATE TABLE IF NOT EXISTS hq_schema (version integer NOT NULL)")
        row = conn.execute("SELECT version FROM hq_schema").fetchone()
        if row is None:
            conn.execute("INSERT INTO hq_schema(version) VALUES (0)")
            before = 0
        else:
            before = row[0]
        if before > len(SCHEMA):
            raise SchemaTooNew(f"head office's schema is at {before}, newer than this laneserver knows "
                               f"({len(SCHEMA)})")
        for script in SCHEMA[before:]:
            conn.execute(script)
        conn.execute("UPDATE hq_schema SET version = %s", (len(SCHEMA),))
        conn.execute(VIEWS)
    return before, len(SCHEMA)


class SchemaTooNew(RuntimeError):
    """Head office's schema was made by a newer laneserver."""


class NotInitialised(RuntimeError):
    """Head office has no schema (``laneserver hq init`` was not run)."""


def schema_version(conn: psycopg.Connection) -> int:
    """The migrations applied at head office (0: none, ``hq init`` not run)."""
    row = conn.execute("SELECT to_regclass('hq_schema') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    found = conn.execute("SELECT version FROM hq_schema").fetchone()
    return found[0] if found else 0


class SchemaTooOld(RuntimeError):
    """Head office answers, but its schema is older than this laneserver's: a shop
    upgraded before its head office (``hq init`` not run there since). Its words say so
    and what to do; ``version`` is head office's, ``needed`` this laneserver's."""

    def __init__(self, version: int, needed: int) -> None:
        self.version = version
        self.needed = needed
        super().__init__(f"head office's database is older than this shop's (version {version} < {needed}): "
                         "run `laneserver hq init` on head office")


def check_schema(conn: psycopg.Connection) -> int:
    """Head office's schema version, when it is at least this laneserver's.

    Raises:
        SchemaTooOld: it is older (a column or table this shop uses is not there yet).
        psycopg.Error: head office cannot be read.
    """
    version = schema_version(conn)
    if version < len(SCHEMA):
        raise SchemaTooOld(version, len(SCHEMA))
    return version


# --- the shop's side: shipping -------------------------------------------------------

def positions(conn: psycopg.Connection, shop: str) -> dict[str, int]:
    """What head office holds of ``shop``: the last sequence of each chain (a chain
    shipped in order, each batch in one transaction, has no gap below it)."""
    with conn.transaction():
        rows = conn.execute("SELECT chain, max(sequence) FROM records WHERE shop = %s GROUP BY chain",
                            (shop,)).fetchall()
    return {chain: last for chain, last in rows}


def ship(conn: psycopg.Connection, shop: str, batch: Iterable[Shipped], anchor: bytes | None = None,
         public_key: str | None = None) -> int:
    """Write one batch in one transaction: each record unless head office holds it
    already, and the anchor (replacing the shop's last) when given. Returns how many
    records were new.

    Raises:
        psycopg.Error: nothing of the batch is written (the transaction rolled back).
    """
    rows = [(shop, item.chain, item.sequence, item.at, item.record, item.prev_hash, item.hash) for item in batch]
    new = 0
    with conn.transaction(), conn.cursor() as cursor:
        if rows:
            cursor.executemany(
                "INSERT INTO records(shop, chain, sequence, at, record, prev_hash, hash)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (shop, chain, sequence) DO NOTHING",
                rows)
            new = max(cursor.rowcount, 0)
        if anchor is not None:
            cursor.execute(
                "INSERT INTO anchors(shop, anchor, public_key, shipped_at) VALUES (%s, %s, %s, now())"
                " ON CONFLICT (shop) DO UPDATE SET anchor = excluded.anchor,"
                " public_key = coalesce(excluded.public_key, anchors.public_key), shipped_at = now()",
                (shop, anchor, public_key))
    return new


def latest_catalog(conn: psycopg.Connection, shop: str, after: int) -> tuple[int, str] | None:
    """The newest catalog version published for every shop or for ``shop`` after
    ``after``: (version, CSV text); None when there is none newer."""
    with conn.transaction():
        row = conn.execute("SELECT version, content FROM catalog_versions WHERE kind = 'catalog'"
                           " AND (shop IS NULL OR shop = %s) AND version > %s ORDER BY version DESC LIMIT 1",
                           (shop, after)).fetchone()
    return None if row is None else (row[0], row[1])


def publish_catalog(conn: psycopg.Connection, content: str, shop: str | None = None) -> int:
    """Publish a catalog (CSV text, the shops' import format) to every shop or one: its version."""
    with conn.transaction():
        row = conn.execute("INSERT INTO catalog_versions(kind, shop, content) VALUES ('catalog', %s, %s)"
                           " RETURNING version", (shop, content)).fetchone()
    return row[0]


def next_customers(conn: psycopg.Connection, shop: str, after: int) -> tuple[int, str] | None:
    """The first customers version published for every shop or for ``shop`` after
    ``after``: (version, CSV text); None when there is none. Versions are applied one
    by one, in order: each names only the customers it adds or changes."""
    with conn.transaction():
        row = conn.execute("SELECT version, content FROM catalog_versions WHERE kind = 'customers'"
                           " AND (shop IS NULL OR shop = %s) AND version > %s ORDER BY version LIMIT 1",
                           (shop, after)).fetchone()
    return None if row is None else (row[0], row[1])


def publish_customers(conn: psycopg.Connection, content: str, shop: str | None = None) -> int:
    """Publish customers (CSV text, rules/customers_csv.py) to every shop or one: the version."""
    with conn.transaction():
        row = conn.execute("INSERT INTO catalog_versions(kind, shop, content) VALUES ('customers', %s, %s)"
                           " RETURNING version", (shop, content)).fetchone()
    return row[0]


# --- the chain-wide ledger: holds (docs/head_office.md, "Wallet and credit") ------------

HOLD_SECONDS = 600  # an unsettled hold lapses after this unless renewed (``renew_holds``: the shop is up)

_OPEN_HOLDS_FROM = """
    FROM holds h
    WHERE h.customer = %(customer)s AND h.account = %(account)s AND h.released_at IS NULL
      AND (%(ledger_shop)s::text IS NULL OR h.shop = %(ledger_shop)s)
      AND (h.expires_at > now() OR h.settled_ref IS NOT NULL)
      AND NOT (h.settled_record IS NOT NULL
               AND EXISTS (SELECT 1 FROM records r WHERE r.shop = h.shop AND r.chain = 'account'
                           AND r.sequence = h.settled_record
                           AND r.body->>'customer' = h.customer AND r.body->>'account' = h.account
                           AND (r.body->>'delta')::numeric = -h.amount))
      AND NOT (h.settled_record IS NULL
               AND EXISTS (SELECT 1 FROM records r WHERE r.shop = h.shop AND r.chain = 'account'
                           AND r.body->>'customer' = h.customer AND r.body->>'account' = h.account
                           AND (r.body->>'delta')::numeric = -h.amount
                           AND ((r.body->>'kind' = 'spend' AND r.body->>'ref' = h.settled_ref)
                                OR (r.body->>'kind') || '|' || (r.body->>'ref') = h.settled_ref)))
"""


class Held(msgspec.Struct, frozen=True):
    hold: int
    available: Decimal  # what the account has left beyond this hold and the other open ones
    up_to: int = 0  # the asking shop's ``account`` chain as head office held it then (``shop_account_end``)


class Short(msgspec.Struct, frozen=True):
    available: Decimal  # less than asked: nothing was held
    up_to: int = 0


def ledger_shop(shop: str, customer: str) -> str | None:
    """Whose books a customer's accounts are: None for a customer of the chain (head
    office's ids, published to the shops), the shop for one it created itself (``C`` and
    digits, its own numbering: the same id in two shops may be two people, so their
    movements and holds are never summed across shops)."""
    return shop if LOCAL_ID.fullmatch(customer) else None


def shop_account_end(conn: psycopg.Connection, shop: str) -> int:
    """The last sequence of ``shop``'s ``account`` chain head office holds (shipped in
    order, each batch one transaction: no gap below it). Read in the same transaction
    as a balance, it says exactly which of the shop's movements that balance counts."""
    return conn.execute("SELECT coalesce(max(sequence), 0) FROM records WHERE shop = %s AND chain = 'account'",
                        (shop,)).fetchone()[0]


_FIGURES = (
    "SELECT (SELECT coalesce(sum((body->>'delta')::numeric), 0) FROM records"
    " WHERE chain = 'account' AND body->>'type' = 'account' AND body->>'customer' = %(customer)s"
    " AND body->>'account' = %(account)s AND (%(ledger_shop)s::text IS NULL OR shop = %(ledger_shop)s)),"
    " (SELECT coalesce(sum(h.amount), 0)" + _OPEN_HOLDS_FROM + "),"
    " (SELECT coalesce(max(sequence), 0) FROM records WHERE shop = %(shop)s AND chain = 'account')"
)


def _figures(conn: psycopg.Connection, shop: str, customer: str, account: str,
             only_shop: str | None) -> tuple[Decimal, int]:
    """(the account's balance less its open holds, ``shop_account_end`` of ``shop``) read
    in ONE statement, so from one snapshot even in READ COMMITTED: a shipper's batch
    committing meanwhile (it takes no lock) is seen by all three figures or by none. Read
    apart, a settled hold could stop counting (its record arrived) after the balance was
    read without that record: the money counted nowhere, granted again."""
    balance, held, up_to = conn.execute(_FIGURES, {"customer": customer, "account": account,
                                                   "ledger_shop": only_shop, "shop": shop}).fetchone()
    return Decimal(balance) - Decimal(held), up_to


def available(conn: psycopg.Connection, customer: str, account: str, only_shop: str | None = None) -> Decimal:
    """The account's balance across the chain (every shop's shipped movements; only
    ``only_shop``'s for a shop's own customer: ``ledger_shop``) less the open holds, one
    statement's figures (``_figures``). Call inside a transaction holding the account's
    lock for a decision."""
    return _figures(conn, "", customer, account, only_shop)[0]


def ask_hold(conn: psycopg.Connection, shop: str, customer: str, account: str, amount: Decimal,
             seconds: float = HOLD_SECONDS) -> Held | Short:
    """Hold ``amount`` of a customer's ``credit`` or ``wallet`` for ``shop``, if the
    chain-wide balance less the open holds covers it. One transaction, serialised per
    account (an advisory lock on it): two shops racing for the last 20 € get one
    ``Held`` and one ``Short``. The figures are read in one statement after the lock
    was granted (READ COMMITTED: its snapshot is taken then, so it sees the previous
    holder's hold; REPEATABLE READ would have taken it before the wait)."""
    if account not in ("credit", "wallet") or amount <= 0:
        raise ValueError(f"a hold is a positive amount of credit or wallet, not {amount} of {account!r}")
    only_shop = ledger_shop(shop, customer)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"hold/{only_shop or ''}/{customer}/{account}",))
        left, up_to = _figures(conn, shop, customer, account, only_shop)
        if amount > left:
            return Short(left, up_to)
        hold = conn.execute("INSERT INTO holds(shop, customer, account, amount, expires_at)"
                            " VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s)) RETURNING hold",
                            (shop, customer, account, amount, seconds)).fetchone()[0]
    return Held(hold, left - amount, up_to)


class AccountFigures(msgspec.Struct, frozen=True):
    balance: Decimal  # the sum of every shop's movements head office holds
    held: Decimal  # the open holds of every shop (``available`` = balance - held: what ``ask_hold`` decides on)
    held_elsewhere: Decimal  # of ``held``: the other shops'

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


class Balances(msgspec.Struct, frozen=True):
    accounts: dict[str, AccountFigures]  # ``credit`` and ``wallet``, always both
    up_to: int  # the asking shop's ``account`` chain as head office holds it (``shop_account_end``)


def balances(conn: psycopg.Connection, shop: str, customer: str) -> Balances:
    """A customer's chain-wide credit and wallet for a shop's till (the ``customer``
    reply; docs/head_office.md): the balances of ``account_balances_chain``, the open
    holds as ``ask_hold`` counts them (split: the asking shop's and the others'), and how
    far head office holds the shop's own movements. One read-only snapshot, no lock:
    a look, not a decision."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        only_shop = ledger_shop(shop, customer)
        sums = dict(conn.execute(
            "SELECT body->>'account', coalesce(sum((body->>'delta')::numeric), 0) FROM records"
            " WHERE chain = 'account' AND body->>'type' = 'account' AND body->>'customer' = %s"
            " AND (%s::text IS NULL OR shop = %s) GROUP BY body->>'account'",
            (customer, only_shop, only_shop)).fetchall())
        held = {}
        for account in ("credit", "wallet"):
            held[account] = conn.execute(
                "SELECT coalesce(sum(h.amount), 0), coalesce(sum(h.amount) FILTER (WHERE h.shop <> %(shop)s), 0)"
                + _OPEN_HOLDS_FROM,
                {"customer": customer, "account": account, "shop": shop, "ledger_shop": only_shop}).fetchone()
        up_to = shop_account_end(conn, shop)
    return Balances({account: AccountFigures(Decimal(sums.get(account, 0)), Decimal(held[account][0]),
                                             Decimal(held[account][1])) for account in ("credit", "wallet")}, up_to)


def settle_hold(conn: psycopg.Connection, hold: int, shop: str, ref: str, record: int | None = None) -> bool:
    """The shop took the money: its account record number ``record`` (in the shop's
    ``account`` chain) takes the hold's amount off. The hold counts until that very
    record is at head office (not another of the same sale: every record of a sale
    carries its ``sale:<n>``), and no longer lapses. ``ref`` says what it is: ``sale:<n>``
    for a payment line, ``kind|ref`` for a movement outside one (``topup_cancel|topup:3``,
    ``topup_cancel|sale:<n>``, ``sale_cancel|sale:<n>``, ``correction|correction:<random>``).
    A settle told with no ``record`` (a row the shop wrote before its migration 24, or a
    shop of an older release): the hold ends with a record taking the hold's amount off
    and carrying ``ref``: a spend for ``sale:<n>`` (not the sale's top-up line, shipped
    before it), of that kind for ``kind|ref``. False: no such open hold of that shop."""
    with conn.transaction():
        done = conn.execute("UPDATE holds SET settled_ref = %s, settled_record = %s WHERE hold = %s AND shop = %s"
                            " AND released_at IS NULL AND settled_ref IS NULL", (ref, record, hold, shop))
    return done.rowcount == 1


def renew_holds(conn: psycopg.Connection, shop: str, holds: Iterable[int], seconds: float = HOLD_SECONDS) -> int:
    """The shop's ``holds`` still on its ticket lines (or settled on its disk, not told
    yet) lapse ``seconds`` from now, not earlier: a ticket open longer than
    ``HOLD_SECONDS`` keeps its money held. One statement; a hold released or settled
    is left alone. Returns how many were renewed."""
    numbers = list(holds)
    if not numbers:
        return 0
    with conn.transaction():
        done = conn.execute("UPDATE holds SET expires_at = now() + make_interval(secs => %s)"
                            " WHERE shop = %s AND hold = ANY(%s) AND released_at IS NULL AND settled_ref IS NULL",
                            (seconds, shop, numbers))
    return done.rowcount


def release_hold(conn: psycopg.Connection, hold: int, shop: str) -> bool:
    """The payment line went (removed, the sale cancelled before its end): the hold no
    longer counts. False: no such unsettled hold of that shop."""
    with conn.transaction():
        done = conn.execute("UPDATE holds SET released_at = now() WHERE hold = %s AND shop = %s"
                            " AND released_at IS NULL AND settled_ref IS NULL", (hold, shop))
    return done.rowcount == 1


class Overdrawn(msgspec.Struct, frozen=True):
    customer: str
    account: str
    balance: Decimal
    shops: int
    ledger_shop: str | None = None  # a shop's own customer (``ledger_shop``): that shop's books only


def overdrawn(conn: psycopg.Connection) -> list[Overdrawn]:
    """The accounts whose chain-wide balance went below zero: spends shops took offline
    (docs/head_office.md, "Wallet and credit"), applied as they happened; a debt the
    customer's next top-up clears."""
    with conn.transaction():
        rows = conn.execute("SELECT customer, account, balance, shops, ledger_shop FROM account_overdrawn"
                            " ORDER BY customer, account, ledger_shop").fetchall()
    return [Overdrawn(customer, account, Decimal(balance), shops, ledger_shop)
            for customer, account, balance, shops, ledger_shop in rows]


# --- head office's check of a shop's shipped chains -----------------------------------

class Report(msgspec.Struct, frozen=True):
    shop: str
    chains: list[ChainEnd | Broken]
    counts: dict[str, int]
    anchor_ok: bool
    anchor: str  # one line saying what was found of the anchor

    @property
    def ok(self) -> bool:
        return self.anchor_ok and not any(isinstance(c, Broken) for c in self.chains)


def _rows(conn: psycopg.Connection, shop: str, chain: str) -> Iterator[ChainRow]:
    with conn.cursor(name=f"walk_{chain}") as cursor:  # server-side: a long chain is streamed
        cursor.itersize = 2000
        cursor.execute("SELECT sequence, record, prev_hash, hash FROM records WHERE shop = %s AND chain = %s"
                       " ORDER BY sequence", (shop, chain))
        for sequence, record, prev_hash, digest in cursor:
            yield ChainRow(sequence, msgspec.json.decode(record), prev_hash or "", digest or "")


def verify(conn: psycopg.Connection, shop: str) -> Report:
    """Walk every chain head office holds of ``shop`` (rebuilding each hash), and check
    the shop's shipped anchor: every anchored head present with its hash, the anchor's
    signature good (when it is signed and its key was shipped)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        counts = {chain: n for chain, n in conn.execute(
            "SELECT chain, count(*) FROM records WHERE shop = %s GROUP BY chain", (shop,))}
        results: list[ChainEnd | Broken] = []
        for chain in ALL_CHAINS:
            if counts.get(chain):
                results.append(walk(chain, _rows(conn, shop, chain)))
        for chain in sorted(set(counts) - set(SHIPPED_CHAINS)):
            results.append(Broken(chain, 0, "records of a chain laneserver does not ship"))
        for chain in EVENT_CHAINS:
            first, last, n = conn.execute("SELECT min(sequence), max(sequence), count(*) FROM records"
                                          " WHERE shop = %s AND chain = %s", (shop, chain)).fetchone()
            if n and last - first + 1 != n:
                results.append(Broken(chain, 0, f"{last - first + 1 - n} sequence numbers missing between "
                                                f"{first} and {last}"))
        row = conn.execute("SELECT anchor, public_key FROM anchors WHERE shop = %s", (shop,)).fetchone()
        anchor_ok, said = _check_anchor(conn, shop, row, counts)
    return Report(shop, results, counts, anchor_ok, said)


def _check_anchor(conn: psycopg.Connection, shop: str, row: tuple[bytes, str | None] | None,
                  counts: dict[str, int]) -> tuple[bool, str]:
    if row is None:
        if not counts:
            return False, f"head office holds nothing of shop {shop!r}"
        return False, "no anchor shipped yet: the end of the chains cannot be checked"
    data, public_key = bytes(row[0]), row[1]
    try:
        anchor = decode_anchor(data)
    except AnchorUnreadable as error:
        return False, f"the shipped anchor is unreadable: {error}"
    signature = _signature(anchor, public_key)
    if signature is not None and not signature[0]:
        return False, signature[1]
    problems = []
    for chain, head in anchor.heads():
        last = conn.execute("SELECT coalesce(max(sequence), 0) FROM records WHERE shop = %s AND chain = %s",
                            (shop, chain)).fetchone()[0]
        found = conn.execute("SELECT hash FROM records WHERE shop = %s AND chain = %s AND sequence = %s",
                             (shop, chain, head.number)).fetchone()
        stored = GENESIS if head.number == 0 else (found[0] if found else None)
        problem = check_head(chain, head, last, stored)
        if problem is not None:
            problems.append(problem)
    if problems:
        return False, f"head office does not hold the anchored head: {problems[0]}"
    heads = ", ".join(f"{chain} {head.number}" for chain, head in anchor.heads() if head.number)
    signed = f"; {signature[1]}" if signature is not None else ""
    return True, f"anchor: {heads or 'nothing anchored yet'} held with their anchored hashes{signed}"


def _signature(anchor: Anchor, public_key: str | None) -> tuple[bool, str] | None:
    """(good, why) for a signed anchor (format 2); None for an unsigned one (format 1,
    from before the signing release). A signed anchor's key must be the key the shop
    shipped beside it."""
    if not anchor.signed:
        return None
    if public_key is not None and public_key != anchor.key:
        return False, "the anchor is signed by a key that is not the shop's shipped public key"
    if not shop_key.signed_by(shop_key.parse_public(anchor.key), signed_bytes(anchor), anchor.signature):
        return False, "the anchor's signature does not match its heads (edited after it was signed)"
    return True, f"signed by {shop_key.fingerprint(anchor.key)}"


# --- the chain's FEC (rules/fec.py over head office's rows) ----------------------------

_vat = msgspec.json.Decoder(tuple[fec.VatPart, ...])


def _fec_rows(conn: psycopg.Connection, shop: str, first: dt.date, last: dt.date,
              zone: dt.tzinfo) -> tuple[list[fec.Sale], list[fec.PaymentRow], list[fec.MoneyRow]]:
    """One shop's sales, payment and money rows of the shop days ``first``..``last``, as
    store/fec.py reads them from a shop's database (the chained text of each record)."""
    low = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(), dt.UTC)
    high = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), dt.UTC)

    def day_of(at: str) -> dt.date | None:
        day = shop_day(parse_at(at), zone)
        return day if first <= day <= last else None

    sales, payments, money = [], [], []
    for number, record in conn.execute(
            "SELECT sequence, record FROM records WHERE shop = %s AND chain = 'sale' AND at >= %s AND at < %s"
            " ORDER BY sequence", (shop, low, high)):
        body = msgspec.json.decode(record)
        if (day := day_of(body["at"])) is not None:
            sales.append(fec.Sale(number=number, at=body["at"], day=day, total=Decimal(body["total"]),
                                  change=Decimal(body["change"]), vat=_vat.decode(msgspec.json.encode(body["vat"])),
                                  customer=body.get("customer"), cancels=body.get("cancels")))
    for number, record, sale in conn.execute(
            "SELECT p.sequence, p.record, s.record FROM records p JOIN records s ON s.shop = p.shop"
            " AND s.chain = 'sale' AND s.sequence = (p.body->>'sale')::bigint"
            " WHERE p.shop = %s AND p.chain = 'payment' AND p.at >= %s AND p.at < %s ORDER BY p.sequence",
            (shop, low, high)):
        body, of = msgspec.json.decode(record), msgspec.json.decode(sale)
        if (day := day_of(body["at"])) is not None:
            payments.append(fec.PaymentRow(number=number, sale=body["sale"], at=body["at"], day=day,
                                           type=body.get("type", "PAI"), mode=body["mode"],
                                           amount=Decimal(body["amount"]), sale_at=of["at"],
                                           sale_change=Decimal(of["change"]), sale_cancels=of.get("cancels"),
                                           customer=of.get("customer")))
    for number, record in conn.execute(
            "SELECT sequence, record FROM records WHERE shop = %s AND chain = 'money' AND at >= %s AND at < %s"
            " ORDER BY sequence", (shop, low, high)):
        body = msgspec.json.decode(record)
        if (day := day_of(body["at"])) is not None:
            money.append(fec.MoneyRow(number=number, day=day, kind=body["kind"], mode=body["mode"],
                                      amount=Decimal(body["amount"]), customer=body.get("customer"),
                                      ref=body.get("ref")))
    return sales, payments, money


def chain_fec(conn: psycopg.Connection, first: dt.date, last: dt.date, zone: dt.tzinfo,
              accounts: fec.Accounts, shops: list[str] | None = None) -> list[fec.Entry]:
    """The FEC entries of every shop (or ``shops``) for the shop days ``first``..``last``:
    each shop's built by rules/fec.py as its own export builds them, then merged in date
    order and numbered again per journal across the chain (EcritureNum continuous); a
    piece and a label name their shop (``S001-T000012``)."""
    order = {code: i for i, code in enumerate(fec.JOURNALS)}
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if shops is None:
            shops = [row[0] for row in conn.execute("SELECT DISTINCT shop FROM records ORDER BY shop")]
        merged = []
        for shop in shops:
            for entry in fec.build(*_fec_rows(conn, shop, first, last, zone), accounts):
                merged.append(((entry.day, order[entry.journal], shop, entry.number), shop, entry))
    merged.sort(key=lambda item: item[0])
    counters = dict.fromkeys(fec.JOURNALS, 0)
    out = []
    for _, shop, entry in merged:
        counters[entry.journal] += 1
        out.append(msgspec.structs.replace(entry, number=f"{entry.journal}{counters[entry.journal]:06d}",
                                           piece=f"{shop}-{entry.piece}", label=f"{shop} {entry.label}"))
    return out
