"""The store IT command line against a real data folder."""

from __future__ import annotations

import sqlite3

from tests.support import REPO, LiveServer

DEMO_CSV = REPO / "laneserver" / "demo" / "catalog.csv"


def _server(tmp_path, config_text: str | None = None) -> LiveServer:
    config = None
    if config_text is not None:
        config = tmp_path / "shop.toml"
        config.write_text(config_text, encoding="utf-8")
    return LiveServer(tmp_path / "data", config=config)


def test_seller_add_stores_only_a_slow_hash(tmp_path):
    server = _server(tmp_path)
    out = server.cli("seller", "add", "Jeanne", "--pin", "4321", "--role", "supervisor")
    assert "Jeanne" in out.stdout
    db = sqlite3.connect(server.data / "laneserver.sqlite3")
    name, role, pin_hash = db.execute("SELECT name, role, pin_hash FROM sellers").fetchone()
    assert (name, role) == ("Jeanne", "supervisor")
    assert "4321" not in pin_hash and pin_hash.startswith("scrypt$")
    again = server.cli("seller", "add", "Jeanne", "--pin", "1111", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = server.cli("seller", "add", "Paul", "--pin", "12", check=False)
    assert bad.returncode == 1 and "4 to 8 digits" in bad.stderr
    role = server.cli("seller", "add", "Paul", "--pin", "1234", "--role", "boss", check=False)
    assert role.returncode == 2 and "invalid choice" in role.stderr


def test_pair_prints_the_token_last_and_stores_its_hash(tmp_path):
    server = _server(tmp_path)
    out = server.cli("pair", "till", "--lane", "2")
    token = out.stdout.strip().splitlines()[-1]
    assert len(token) >= 24
    db = sqlite3.connect(server.data / "laneserver.sqlite3")
    device, kind, lane, token_hash = db.execute("SELECT device, kind, lane, token_hash FROM devices").fetchone()
    assert (kind, lane) == ("till", "2") and token not in token_hash and device in out.stdout
    unknown = server.cli("pair", "till", "--lane", "9", check=False)
    assert unknown.returncode == 1 and "unknown lane '9'" in unknown.stderr
    missing = server.cli("pair", "till", check=False)
    assert missing.returncode == 2 and "--lane" in missing.stderr
    pda = server.cli("pair", "pda")
    assert "pda" in pda.stdout


def test_catalog_import_refuses_a_bad_row_whole(tmp_path):
    server = _server(tmp_path)
    server.cli("pair", "pda")  # the database exists before the import
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,price,vat_rate,barcodes\nB1,Pain,1.10,5.5,\nB2,Vin,abc,20,\n", encoding="utf-8")
    result = server.cli("catalog", "import", str(bad), check=False)
    assert result.returncode == 1
    assert "line 3" in result.stderr and "price" in result.stderr and "nothing was imported" in result.stderr
    db = sqlite3.connect(server.data / "laneserver.sqlite3")
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    good = server.cli("catalog", "import", str(DEMO_CSV))
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] >= 40
    assert "imported" in good.stdout
    missing = server.cli("catalog", "import", str(tmp_path / "nope.csv"), check=False)
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_invalid_config_stops_start_up_naming_the_key(tmp_path):
    server = _server(tmp_path, '[shop]\nname = "X"\nnegative_stok = "allow"\n')
    result = server.cli("verify", check=False)
    assert result.returncode == 2 and "negative_stok" in result.stderr
    import subprocess
    import sys

    serve = subprocess.run([sys.executable, "-m", "laneserver", "serve", "--config", str(server.config),
                            "--data", str(server.data), "--port", "0"],
                           capture_output=True, text=True, timeout=30, cwd=REPO)
    assert serve.returncode == 2 and "negative_stok" in serve.stderr


def test_verify_on_a_missing_database(tmp_path):
    server = _server(tmp_path)
    result = server.cli("verify", check=False)
    assert result.returncode == 1 and "no database" in result.stderr


def test_serve_refuses_a_database_behind_its_anchor_with_exit_3(tmp_path):
    import json
    import subprocess
    import sys

    server = _server(tmp_path)
    server.start()
    server.stop()
    anchor_path = server.data / "fiscal-anchor.json"
    anchor = json.loads(anchor_path.read_text())
    anchor["sale"] = {"number": 5, "hash": "ab" * 32}
    anchor_path.write_text(json.dumps(anchor))
    serve = subprocess.run([sys.executable, "-m", "laneserver", "serve", "--data", str(server.data), "--port", "0"],
                           capture_output=True, text=True, timeout=30, cwd=REPO)
    assert serve.returncode == 3
    assert "laneserver verify" in serve.stderr and "Traceback" not in serve.stderr


def test_serve_on_a_port_in_use_says_so(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        serve = subprocess.run([sys.executable, "-m", "laneserver", "serve", "--data", str(tmp_path / "d"),
                                "--port", str(port)], capture_output=True, text=True, timeout=30, cwd=REPO)
    assert serve.returncode == 1 and "Address already in use" in serve.stderr and "Traceback" not in serve.stderr


def _mode(path) -> str:
    return oct(path.stat().st_mode & 0o777)


def test_the_database_its_anchor_and_backups_are_private(tmp_path):
    """Created 0600 whatever the umask (the shell's 022 here): sales, PIN hashes and
    token hashes are not for every local user. A database left 0644 by an older
    version is tightened at the next open."""
    server = _server(tmp_path)
    server.cli("pair", "pda")
    db = server.data / "laneserver.sqlite3"
    assert _mode(db) == "0o600" and _mode(server.data) == "0o750"
    db.chmod(0o644)
    server.start()
    try:
        for name in ("laneserver.sqlite3", "laneserver.sqlite3-wal", "laneserver.sqlite3-shm", "fiscal-anchor.json"):
            assert _mode(server.data / name) == "0o600", name
        server.cli("backup", str(tmp_path / "backup.sqlite3"))
        assert _mode(tmp_path / "backup.sqlite3") == "0o600"
    finally:
        server.stop()


def test_backup_refuses_a_folder_that_does_not_exist(tmp_path):
    server = _server(tmp_path)
    server.cli("pair", "pda")
    result = server.cli("backup", str(tmp_path / "no" / "such" / "folder" / "b.sqlite3"), check=False)
    assert result.returncode == 1 and "no folder" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "no").exists()
    again = server.cli("backup", str(tmp_path / "b.sqlite3"))
    assert again.returncode == 0 and (tmp_path / "b.sqlite3").exists()
    exists = server.cli("backup", str(tmp_path / "b.sqlite3"), check=False)
    assert exists.returncode == 1 and "already exists" in exists.stderr


def test_stock_export_into_a_pipe_closed_early_exits_quietly(tmp_path):
    """``laneserver stock export | head -1``: the reader leaves after one line."""
    import subprocess
    import sys

    server = _server(tmp_path)
    server.cli("pair", "pda")
    # More rows than a pipe holds (64 KiB), so the export is still writing when the
    # reader leaves.
    db = sqlite3.connect(server.data / "laneserver.sqlite3")
    with db:
        db.executemany("INSERT INTO stock_levels(stock_point, article, real) VALUES ('main', ?, '12')",
                       ((f"ARTICLE-{n:06d}-WITH-A-LONG-ENOUGH-ID",) for n in range(4000)))
    db.close()
    cmd = [sys.executable, "-m", "laneserver", "stock", "export", "--data", str(server.data)]
    # A real pipe whose reader reads one line and closes it, as head -1 does.
    export = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    first = export.stdout.readline()
    export.stdout.close()
    stderr = export.stderr.read().decode()
    assert export.wait(30) == 0, stderr
    assert first.startswith(b"stock_point,article,")
    assert stderr == "", stderr
