"""The database schema, as numbered migrations applied in order.

``PRAGMA user_version`` holds the number of the last migration applied. A
migration is never edited once released: a change is a new migration.
Fiscal tables (sales, payments, events) are append-only: triggers refuse any
UPDATE or DELETE on them.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

DB_NAME = "laneserver.sqlite3"
# The database holds sales, PIN hashes and token hashes: its owner only. SQLite gives
# the -wal and -shm files the database file's mode. The data folder: owner and group
# (the unit's StateDirectoryMode=0750 says the same).
DB_MODE = 0o600
DATA_FOLDER_MODE = 0o750


def _append_only(table: str) -> str:
    return f"""
    CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
    BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
    CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
    BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
    """


MIGRATIONS: tuple[str, ...] = (
    # 1: the spine
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        device TEXT,
        seller TEXT,
        data TEXT NOT NULL
    );
    CREATE TABLE lane_states (lane TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE sales (
        number INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        lane TEXT NOT NULL,
        seller TEXT NOT NULL,
        customer TEXT,
        total TEXT NOT NULL,
        paid TEXT NOT NULL,
        change TEXT NOT NULL,
        lines TEXT NOT NULL,
        vat TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE payments (
        number INTEGER PRIMARY KEY,
        sale INTEGER NOT NULL REFERENCES sales(number),
        at TEXT NOT NULL,
        mode TEXT NOT NULL,
        amount TEXT NOT NULL,
        reference TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX payments_sale ON payments(sale);
    CREATE TABLE replies (
        device TEXT NOT NULL,
        key TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        reply BLOB NOT NULL,
        PRIMARY KEY (device, key)
    );
    CREATE INDEX replies_actor ON replies(actor, at);
    CREATE TABLE sellers (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('cashier', 'supervisor', 'manager')),
        pin_hash TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    );
    CREATE TABLE devices (
        device TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('till', 'pda')),
        lane TEXT,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        seller TEXT REFERENCES sellers(name),
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE articles (id TEXT PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE stock_levels (
        stock_point TEXT NOT NULL,
        article TEXT NOT NULL,
        real TEXT NOT NULL,
        PRIMARY KEY (stock_point, article)
    );
    CREATE TABLE stock_movements (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        stock_point TEXT NOT NULL,
        article TEXT NOT NULL,
        delta TEXT NOT NULL,
        reason TEXT NOT NULL,
        ref TEXT,
        device TEXT,
        seller TEXT,
        unit_cost TEXT,
        supplier TEXT,
        comment TEXT
    );
    CREATE INDEX stock_movements_article ON stock_movements(stock_point, article);
    """
    + _append_only("sales")
    + _append_only("payments")
    + _append_only("events")
    + _append_only("stock_movements"),
    # 2: stock points — where a movement came from, per-point article settings and costs
    """
    ALTER TABLE stock_movements ADD COLUMN source TEXT;
    CREATE INDEX stock_movements_at ON stock_movements(at);
    CREATE TABLE stock_articles (
        stock_point TEXT NOT NULL,
        article TEXT NOT NULL,
        tracked INTEGER NOT NULL DEFAULT 1,
        last_cost TEXT,
        average_cost TEXT,
        PRIMARY KEY (stock_point, article)
    );
    """,
    # 3: lots — what each initial/delivery entry or production brought in, and when it
    # was received (sell-by dates: rules/sell_by.py)
    """
    CREATE TABLE stock_lots (
        seq INTEGER PRIMARY KEY,
        stock_point TEXT NOT NULL,
        article TEXT NOT NULL,
        received TEXT NOT NULL,
        qty TEXT NOT NULL,
        at TEXT NOT NULL,
        ref TEXT
    );
    CREATE INDEX stock_lots_article ON stock_lots(stock_point, article, received);
    """
    + _append_only("stock_lots"),
    # 4: purchase orders (rules/replenishment.py) — numbered without gaps across stock
    # points; ``lines`` is JSON: [{article, ordered, received, unit_cost}]
    """
    CREATE TABLE purchase_orders (
        number INTEGER PRIMARY KEY,
        stock_point TEXT NOT NULL,
        supplier TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'received', 'cancelled')),
        lines TEXT NOT NULL,
        comment TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        device TEXT,
        seller TEXT
    );
    CREATE INDEX purchase_orders_point ON purchase_orders(stock_point, status);
    CREATE INDEX stock_movements_reason ON stock_movements(stock_point, reason, at);
    """,
    # 5: customers, their accounts (credit, wallet) and vouchers (rules/customers.py).
    # An account's balance is the sum of its movements; a voucher is used once its
    # ``voucher_uses`` row exists (one per voucher); ``money_in`` is the money the
    # shop took for them (deposits, top-ups and their cancels, vouchers sold), by mode.
    """
    CREATE TABLE customers (
        customer TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        card TEXT UNIQUE,
        business INTEGER NOT NULL DEFAULT 0,
        contact TEXT,
        notes TEXT,
        wallet_enabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE customer_movements (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        customer TEXT NOT NULL REFERENCES customers(customer),
        account TEXT NOT NULL CHECK (account IN ('credit', 'wallet')),
        delta TEXT NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT,
        mode TEXT,
        lane TEXT,
        device TEXT,
        seller TEXT,
        approved_by TEXT,
        reason TEXT
    );
    CREATE INDEX customer_movements_customer ON customer_movements(customer, account);
    CREATE UNIQUE INDEX customer_movements_one_topup ON customer_movements(ref) WHERE kind = 'topup';
    CREATE UNIQUE INDEX customer_movements_one_cancel ON customer_movements(ref) WHERE kind = 'topup_cancel';
    CREATE TABLE vouchers (
        code TEXT PRIMARY KEY,
        amount TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        valid_until TEXT NOT NULL,
        customer TEXT REFERENCES customers(customer),
        origin TEXT NOT NULL,
        ref TEXT,
        mode TEXT,
        lane TEXT,
        device TEXT,
        seller TEXT
    );
    CREATE TABLE voucher_uses (
        code TEXT PRIMARY KEY REFERENCES vouchers(code),
        at TEXT NOT NULL,
        amount TEXT NOT NULL,
        remainder TEXT REFERENCES vouchers(code),
        ref TEXT,
        lane TEXT,
        device TEXT,
        seller TEXT
    );
    CREATE TABLE money_in (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        mode TEXT NOT NULL,
        amount TEXT NOT NULL,
        customer TEXT,
        ref TEXT,
        lane TEXT,
        device TEXT,
        seller TEXT
    );
    CREATE INDEX money_in_at ON money_in(at);
    """
    + _append_only("customer_movements")
    + _append_only("vouchers")
    + _append_only("voucher_uses")
    + _append_only("money_in"),
    # 6: the cash drawers (rules/drawer.py) — movements (float, add, expense,
    # withdrawal) and closing counts per lane; ``count`` is JSON [[denomination, pieces]].
    # A count closes the lane's period: ``last_movement``, ``last_sale`` and ``last_money_in``
    # say what it included, so the next period is the movements, the lane's sales and its
    # cash ``money_in`` rows (migration 5) after them.
    """
    CREATE TABLE drawer_movements (
        seq INTEGER PRIMARY KEY,
        lane TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('float', 'add', 'expense', 'withdrawal')),
        amount TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT,
        destination TEXT,
        count TEXT NOT NULL,
        seller TEXT NOT NULL,
        approved_by TEXT,
        device TEXT
    );
    CREATE INDEX drawer_movements_lane ON drawer_movements(lane, seq);
    CREATE TABLE drawer_counts (
        seq INTEGER PRIMARY KEY,
        lane TEXT NOT NULL,
        at TEXT NOT NULL,
        since TEXT,
        expected TEXT NOT NULL,
        counted TEXT NOT NULL,
        difference TEXT NOT NULL,
        count TEXT NOT NULL,
        seller TEXT NOT NULL,
        device TEXT,
        last_movement INTEGER NOT NULL,
        last_sale INTEGER NOT NULL,
        last_money_in INTEGER NOT NULL
    );
    CREATE INDEX drawer_counts_lane ON drawer_counts(lane, seq);
    CREATE INDEX sales_lane ON sales(lane, number);
    """
    + _append_only("drawer_movements")
    + _append_only("drawer_counts"),
    # 7: till money after the sale (rules/corrections.py). A payment row has a ``type``
    # (PAI original, MAJ modified, ANL cancelled, AVO credit note, COR balance correction,
    # ABD abandoned debt) and may ``refers`` to the row it supersedes (status ANNUL: derived,
    # nothing is updated); a cancelling sale ``cancels`` the original (once); ``due`` is
    # what a sale finished unpaid left to pay, and ``debts`` lists those sales. ``money_in`` rows are chained from here on (``number``,
    # ``prev_hash``, ``hash``; meta ``money_chain_from`` is the first seq chained).
    """
    ALTER TABLE payments ADD COLUMN type TEXT NOT NULL DEFAULT 'PAI';
    ALTER TABLE payments ADD COLUMN refers INTEGER REFERENCES payments(number);
    ALTER TABLE payments ADD COLUMN lane TEXT;
    ALTER TABLE payments ADD COLUMN seller TEXT;
    ALTER TABLE payments ADD COLUMN approved_by TEXT;
    ALTER TABLE payments ADD COLUMN reason TEXT;
    CREATE UNIQUE INDEX payments_one_annul ON payments(refers) WHERE type = 'ANL';
    ALTER TABLE sales ADD COLUMN due TEXT;
    ALTER TABLE sales ADD COLUMN cancels INTEGER REFERENCES sales(number);
    ALTER TABLE sales ADD COLUMN reason TEXT;
    ALTER TABLE sales ADD COLUMN approved_by TEXT;
    CREATE UNIQUE INDEX sales_one_cancel ON sales(cancels) WHERE cancels IS NOT NULL;
    CREATE TABLE debts (
        sale INTEGER PRIMARY KEY REFERENCES sales(number),
        customer TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX debts_customer ON debts(customer);
    ALTER TABLE money_in ADD COLUMN number INTEGER;
    ALTER TABLE money_in ADD COLUMN prev_hash TEXT;
    ALTER TABLE money_in ADD COLUMN hash TEXT;
    CREATE UNIQUE INDEX money_in_number ON money_in(number);
    INSERT INTO meta(key, value) SELECT 'money_chain_from', coalesce(max(seq), 0) + 1 FROM money_in;
    """
    + _append_only("debts"),
    # 8: subscriptions and coupons (rules/coupons.py). A credit (``batch`` NULL,
    # ``delta`` > 0) is a batch of coupons of a coupon article, valid ``valid_days`` from
    # its first use; a use (``delta`` < 0) names the credit's ``seq`` it takes from.
    """
    CREATE TABLE coupon_movements (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        customer TEXT NOT NULL REFERENCES customers(customer),
        article TEXT NOT NULL,
        delta INTEGER NOT NULL CHECK (delta != 0),
        batch INTEGER REFERENCES coupon_movements(seq),
        valid_days INTEGER NOT NULL DEFAULT 0,
        ref TEXT,
        lane TEXT,
        device TEXT,
        seller TEXT,
        CHECK ((batch IS NULL) = (delta > 0))
    );
    CREATE INDEX coupon_movements_customer ON coupon_movements(customer, article);
    CREATE INDEX coupon_movements_batch ON coupon_movements(batch);
    """
    + _append_only("coupon_movements"),
    # 9: the drawers count the payment rows written on finished sales (a debt paid later,
    # a correction, a cancel: rows whose ``lane`` is set, the lane whose drawer the cash
    # moved in): a closing count says up to which row it included (``last_payment``;
    # NULL on counts made before: the rows written up to the count's time).
    """
    ALTER TABLE drawer_counts ADD COLUMN last_payment INTEGER;
    """,
    # 10: invoices of business customers, numbered with no gap in the sale's own unit
    # (a sale has at most one); ``data``: everything the invoice shows (rules/invoice.py),
    # so its PDF (invoices/F-000001.pdf in the data folder) can always be made again.
    """
    CREATE TABLE invoices (
        number INTEGER PRIMARY KEY,
        sale INTEGER NOT NULL UNIQUE REFERENCES sales(number),
        customer TEXT NOT NULL,
        at TEXT NOT NULL,
        total_excl_vat TEXT NOT NULL,
        total TEXT NOT NULL,
        data TEXT NOT NULL
    );
    """
    + _append_only("invoices"),
    # 11: wrong PINs counted durably per seller and per device (rules/auth.py PinRecord;
    # ``scope`` 'seller' or 'device'); the pages' resume secrets, hashed (a page that
    # reconnects keeps its seller); when a device was last seen.
    """
    CREATE TABLE pin_failures (
        scope TEXT NOT NULL CHECK (scope IN ('seller', 'device')),
        name TEXT NOT NULL,
        failures INTEGER NOT NULL,
        lockouts INTEGER NOT NULL,
        locked_until TEXT,
        last_failure TEXT,
        PRIMARY KEY (scope, name)
    );
    CREATE TABLE resume_secrets (
        secret_hash TEXT PRIMARY KEY,
        device TEXT NOT NULL REFERENCES devices(device),
        seller TEXT NOT NULL REFERENCES sellers(name),
        created_at TEXT NOT NULL,
        last_used TEXT NOT NULL
    );
    CREATE INDEX resume_secrets_device ON resume_secrets(device);
    CREATE INDEX resume_secrets_seller ON resume_secrets(seller);
    ALTER TABLE devices ADD COLUMN last_seen TEXT;
    """,
    # 12: a keyed request's fingerprint (SHA-256 of its verb and fields, protocol/codec.py)
    # beside its reply: the same key with a different request is a conflict. NULL on the
    # rows written before (they replay as they did).
    """
    ALTER TABLE replies ADD COLUMN fingerprint TEXT;
    """,
    # 13: a lane's state is journaled as what changed (rules/lane_journal.py): a change
    # per request, appended, and now and then the whole state in ``lane_states`` (a
    # snapshot, which drops the lane's changes). ``seq``: the state's ``rev`` after the
    # change. A ``lane_states`` row written before is the lane's first snapshot as it is.
    """
    CREATE TABLE lane_changes (
        lane TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        change TEXT NOT NULL,
        PRIMARY KEY (lane, seq)
    );
    """,
    # 14: the fiscal chains added with the closures (store/fiscal.py FISCAL_CHAINS):
    # closures, copies, invoices, drawer movements and counts, customer account
    # movements and the technical event journal, each numbered from 1 with no gap and
    # chained as the first three are; ``record`` is the canonical content hashed.
    """
    CREATE TABLE fiscal_records (
        chain TEXT NOT NULL,
        number INTEGER NOT NULL,
        at TEXT NOT NULL,
        record TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (chain, number)
    ) WITHOUT ROWID;
    """
    + _append_only("fiscal_records"),
    # 15: one-time pairing codes (rules/pairing.py): written by ``laneserver pair … --code``,
    # spent by the server's ``pair`` verb. Only a salted hash of the digits is kept; a
    # spent code keeps its row (``used_at``, the device it paired).
    """
    CREATE TABLE pairing_codes (
        id INTEGER PRIMARY KEY,
        code_hash TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('till', 'pda')),
        lane TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        wrong INTEGER NOT NULL DEFAULT 0,
        used_at TEXT,
        device TEXT
    );
    """,
    # 16 (issue 13, copies): the ``copy`` chain's records of one sale, found by an
    # expression index rather than by reading the chain (store/copies.py prints_of).
    """
    CREATE INDEX fiscal_copies_of_sale ON fiscal_records(json_extract(record, '$.sale')) WHERE chain = 'copy';
    """,
    # 17: the technical event journal's inbox (store/jet.py): a JET entry written by a
    # command-line tool (``laneserver archive``), which must not append to a chain a
    # running server owns; the journal chains each row (chain ``jet``) and deletes it,
    # in one transaction, at its next start and every minute while it runs. The index:
    # the JET's entries by kind (``events`` with ``kind``, the last ``start``) without
    # reading the whole chain.
    """
    CREATE TABLE jet_inbox (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX fiscal_records_jet_kind ON fiscal_records(json_extract(record, '$.kind'), number)
        WHERE chain = 'jet';
    """,
    # 18: the printers' durable queues (actors/printer.py): a job is written when it is
    # queued and deleted once the printer has taken it, so what is here is what is still
    # to print, in ``id`` order. ``crashes``: the sends of it that crashed the printer
    # actor (a bug, not a printer that is down); a job is dropped after a few.
    """
    CREATE TABLE print_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        printer TEXT NOT NULL,
        name TEXT NOT NULL,
        data BLOB NOT NULL,
        queued_at TEXT NOT NULL,
        crashes INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX print_jobs_printer ON print_jobs(printer, id);
    """,
    # 19: PDA stock work (issue 16, rules/inventory.py): the quantities counted by zone in a
    # stock point's open inventory count (added up; ``validated`` set when a supervisor's
    # validation applied them), and the shelf-label reprints asked for from the floor.
    """
    CREATE TABLE stock_count_lines (
        seq INTEGER PRIMARY KEY,
        stock_point TEXT NOT NULL,
        zone TEXT NOT NULL,
        article TEXT NOT NULL,
        qty TEXT NOT NULL,
        at TEXT NOT NULL,
        device TEXT,
        seller TEXT,
        validated TEXT
    );
    CREATE INDEX stock_count_lines_open ON stock_count_lines(stock_point, validated);
    CREATE TABLE label_requests (
        seq INTEGER PRIMARY KEY,
        stock_point TEXT NOT NULL,
        article TEXT NOT NULL,
        copies INTEGER NOT NULL,
        at TEXT NOT NULL,
        device TEXT,
        seller TEXT
    );
    CREATE INDEX label_requests_point ON label_requests(stock_point, seq);
    """,
    # 20: batch scanners in a cradle (store/cradles.py, actors/cradle.py): each upload read
    # from a device, journaled before the device is cleared, and its records, unique by
    # (device serial, time stamp, code, seq): a re-read after a crash inserts nothing.
    # ``state``: read (journaled) → cleared (the device forgot it) → done (the lane took
    # the basket) or refused (the lane can never take it: ``error`` says why).
    """
    CREATE TABLE cradle_uploads (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        cradle TEXT NOT NULL,
        device TEXT NOT NULL,
        read_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'read',
        error TEXT,
        done_at TEXT
    );
    CREATE INDEX cradle_uploads_open ON cradle_uploads(cradle, state);
    CREATE TABLE cradle_records (
        upload INTEGER NOT NULL REFERENCES cradle_uploads(id),
        device TEXT NOT NULL,
        stamp INTEGER NOT NULL,
        code TEXT NOT NULL,
        seq INTEGER NOT NULL,
        symbology INTEGER NOT NULL,
        scanned_at TEXT,
        UNIQUE (device, stamp, code, seq)
    );
    CREATE INDEX cradle_records_upload ON cradle_records(upload);
    """,
    # 21 (issue 18, document copies): the ``copy`` chain's records of one document (a
    # ``reprint`` with ``document``), found like a sale's (store/copies.py document_copies).
    """
    CREATE INDEX fiscal_copies_of_document ON fiscal_records(json_extract(record, '$.document'))
        WHERE chain = 'copy';
    """,
    # 22: the shop's side of head office's wallet and credit holds (store/hq_holds.py,
    # docs/head_office.md): a row per credit/wallet payment line head office held
    # (``hold``) or the shop took offline (``hold`` NULL), with what is still to tell head
    # office (``state`` settle / release) once the sale is written or the line gone;
    # ``counted``: an offline spend counted in the customer's offline allowance. And the
    # chain-wide balances head office last said (``hq_seen``), for an offline decision.
    """
    CREATE TABLE hq_holds (
        id INTEGER PRIMARY KEY,
        lane TEXT NOT NULL,
        payment INTEGER NOT NULL,
        customer TEXT NOT NULL,
        account TEXT NOT NULL,
        amount TEXT NOT NULL,
        hold INTEGER,
        state TEXT NOT NULL,
        ref TEXT,
        asked_at TEXT NOT NULL,
        told_at TEXT,
        counted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX hq_holds_live ON hq_holds(lane, payment) WHERE state IN ('open', 'offline');
    CREATE INDEX hq_holds_to_tell ON hq_holds(id) WHERE state IN ('settle', 'release');
    CREATE INDEX hq_holds_counted ON hq_holds(customer) WHERE counted = 1;
    CREATE TABLE hq_seen (
        customer TEXT NOT NULL,
        account TEXT NOT NULL,
        available TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (customer, account)
    );
    """,
    # 23 (issue 19, chain-wide balances on the till): how far head office held this
    # shop's ``account`` chain when it said a balance (store/hq_holds.py ``hq_seen``), so
    # the shop knows which of its own offline spends and top-ups that balance counts.
    """
    ALTER TABLE hq_seen ADD COLUMN up_to INTEGER;
    """,
    # 24 (issue 19): the number in this shop's ``account`` chain of the record that takes
    # a settled hold's amount off (store/hq_holds.py ``record``), told head office with the
    # settle: the hold stops counting there when that very record arrives, not with any
    # other record of the sale (docs/head_office.md, "Wallet and credit").
    """
    ALTER TABLE hq_holds ADD COLUMN record INTEGER;
    """,
)


# The writer inserts a batch's rows with one statement (json_each and ->>, 3.38).
SQLITE_NEEDED = (3, 38, 0)


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open the database in WAL mode with ``synchronous=FULL`` and migrate it.

    The connection may be used from any one thread at a time (the journal hands
    it to its worker thread through a limiter of one).
    """
    if sqlite3.sqlite_version_info < SQLITE_NEEDED:
        raise RuntimeError(
            f"laneserver needs SQLite {'.'.join(map(str, SQLITE_NEEDED))} or later (JSON ->> operators); this Python "
            f"has SQLite {sqlite3.sqlite_version}: install a Python built on a newer one (Debian 12 has 3.40)")
    if not create and not path.exists():
        raise FileNotFoundError(f"no database at {path}")
    path.parent.mkdir(mode=DATA_FOLDER_MODE, parents=True, exist_ok=True)
    private_file(path)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=10000")
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def private_file(path: Path) -> None:
    """Create the database file ``DB_MODE`` before SQLite does (whatever the umask), or
    take group and other access away from an existing one (and its -wal and -shm) of
    ours: a database from a version that left it 0644."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DB_MODE))
    except FileExistsError:
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            try:
                status = file.stat()
                if status.st_mode & 0o077 and status.st_uid == os.geteuid():
                    file.chmod(status.st_mode & DB_MODE)
            except FileNotFoundError:
                continue


class SchemaTooNew(RuntimeError):
    """The database was written by a newer laneserver (a downgrade): this code does not
    know its schema, so it neither reads nor writes it (docs/operations.md, "Rolling back
    an upgrade")."""


def migrate(db: sqlite3.Connection) -> int:
    """Apply the migrations not applied yet, each in its own transaction.

    Raises:
        SchemaTooNew: the database's schema is newer than this code's.
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise SchemaTooNew(
            f"the database is at schema {version}, newer than this laneserver knows ({len(MIGRATIONS)}): it was "
            "written by a newer version. Install that version again, or put back the backup taken before the "
            "upgrade (docs/operations.md, \"Rolling back an upgrade\")"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """Split a script on ';' while keeping trigger bodies (BEGIN … END;) whole."""
    statements, current = [], []
    for line in script.splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            statements.append(text)
            current = []
    rest = "\n".join(current).strip()
    if rest:
        statements.append(rest)
    return statements
