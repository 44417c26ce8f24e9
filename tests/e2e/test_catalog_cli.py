"""`laneserver catalog import --dry-run` and `laneserver catalog export`, as an operator
runs them (no server needed): every bad row listed with its line, nothing imported;
progress on standard error only; export → import → export gives the same bytes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.e2e.configured import DEMO_CATALOG
from tests.support import LiveServer

BAD = """id,name,price,vat_rate,barcodes,plu,model,size,colour
B1,Pain,1.10,5.5,,,,,
B2,Vin,abc,20,,,,,
B3,Eau,0.50,7,,,,,
B4,Bière,2,20,3760245001016,,,,
B5,T-shirt,15,20,,,,M,
B1,Pain bis,1.10,5.5,,,,,
"""


def _articles(server: LiveServer) -> int:
    db = sqlite3.connect(server.data / "laneserver.sqlite3")
    try:
        return db.execute("SELECT count(*) FROM articles").fetchone()[0]
    finally:
        db.close()


def test_dry_run_lists_every_bad_row_and_imports_nothing(tmp_path: Path):
    server = LiveServer(tmp_path / "data")
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")
    for args in (("--dry-run",), ()):
        result = server.cli("catalog", "import", *args, str(bad), check=False)
        assert result.returncode == 1 and result.stdout == ""
        listed = [line.split(": ", 2)[1] for line in result.stderr.splitlines() if line.startswith(str(bad))]
        assert listed == ["line 3", "line 4", "line 5", "line 6", "line 7"], result.stderr
        for reason in ("price 'abc'", "vat_rate '7' is not one of the shop's rates", "wrong EAN-13 check digit",
                       "size and colour need a model", "duplicate id 'B1' (already on line 2)"):
            assert reason in result.stderr
        assert "5 faults in 6 rows — nothing was imported" in result.stderr
    assert not (server.data / "laneserver.sqlite3").exists() or _articles(server) == 0
    good = server.cli("catalog", "import", "--dry-run", str(DEMO_CATALOG))
    assert "no fault (dry run: nothing was imported)" in good.stdout
    assert not (server.data / "laneserver.sqlite3").exists() or _articles(server) == 0


def test_export_import_export_is_byte_identical(tmp_path: Path):
    server = LiveServer(tmp_path / "data")
    server.cli("catalog", "import", str(DEMO_CATALOG))
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    exported = server.cli("catalog", "export", str(first))
    assert exported.stdout.strip() == f"{_articles(server)} articles exported to {first}"
    server.cli("catalog", "import", str(first))
    server.cli("catalog", "export", str(second))
    assert first.read_bytes() == second.read_bytes()
    assert server.cli("catalog", "export", "-").stdout.encode() == first.read_bytes()


def test_a_large_import_tells_its_progress_on_stderr_only(tmp_path: Path):
    server = LiveServer(tmp_path / "data")
    big = tmp_path / "big.csv"
    big.write_text("id,name,price,vat_rate,barcodes\n" + "".join(f"A{i:05},Article {i},1.00,20,\n"
                                                                    for i in range(20_000)), encoding="utf-8")
    result = server.cli("catalog", "import", str(big))
    assert result.stdout.splitlines() == [
        f"20000 articles imported from {big} (a running server sells them within a few seconds)"]
    assert result.stderr.splitlines() == ["laneserver: 10000 rows checked", "laneserver: 20000 rows checked",
                                          "laneserver: 10000 rows written", "laneserver: 20000 rows written"]


def test_on_a_terminal_the_progress_is_a_bar_rewritten_in_place():
    import io

    from laneserver.cli import _Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = _Progress(total=20_000, stream=stream)
    progress(10_000)
    progress(20_000, "written")
    progress.done()
    assert stream.getvalue() == ("\r[###############...............]  50% 10000/20000 rows checked"
                                 "\r[##############################] 100% 20000/20000 rows written\n")
