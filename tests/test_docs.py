"""The protocol reference cannot silently fall behind the code.

Every request verb, every event type and every error code of the wire vocabulary,
and every command and option of the command line, must appear in
docs/protocol.md. Adding a verb without documenting it fails here; so does a
reply or event the schema serves but its description leaves out, a fiscal chain
``verify`` walks but its reference does not name, or a "not yet" outside the "Not
implemented yet" list.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import pytest

from laneserver.cli import VERIFY_CHAINS, build_parser
from laneserver.protocol.messages import EVENT_TYPES, REPLY_TYPES, REQUEST_TYPES, Code
from laneserver.store.books_check import CHAINS
from laneserver.store.schema import migrate

PROTOCOL_MD = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
ARCHITECTURE_MD = PROTOCOL_MD.with_name("architecture.md")


@pytest.fixture(scope="module")
def doc() -> str:
    return PROTOCOL_MD.read_text(encoding="utf-8")


def _codes() -> list[str]:
    return sorted(value for name, value in vars(Code).items() if name.isupper() and isinstance(value, str))


def _commands(parser: argparse.ArgumentParser, prefix: str = "laneserver"):
    """(command path, parser) for every subcommand, nested ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}"
                yield path, sub
                yield from _commands(sub, path)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


def test_the_code_has_what_the_test_walks():
    assert len(REQUEST_TYPES) >= 20
    assert "unavailable" in _codes() and "supervisor_required" in _codes()
    assert [path for path, _ in _commands(build_parser())]


@pytest.mark.parametrize("verb", [cls.__struct_config__.tag for cls in REQUEST_TYPES])
def test_every_request_verb_is_documented(doc, verb):
    assert f"`{verb}`" in doc, f"request verb `{verb}` is missing from docs/protocol.md"
    assert f"### `{verb}`" in doc, f"request verb `{verb}` has no subsection in docs/protocol.md"


@pytest.mark.parametrize("event", [cls.__struct_config__.tag for cls in EVENT_TYPES])
def test_every_event_is_documented(doc, event):
    assert f"### `{event}`" in doc, f"event `{event}` has no subsection in docs/protocol.md"


@pytest.mark.parametrize("code", _codes())
def test_every_error_code_is_documented(doc, code):
    assert f"| `{code}` |" in doc, f"error code `{code}` is missing from the error table of docs/protocol.md"


@pytest.mark.parametrize("path", [path for path, _ in _commands(build_parser())])
def test_every_cli_command_is_documented(doc, path):
    assert path in doc, f"command `{path}` is missing from docs/protocol.md"


@pytest.mark.parametrize(
    "path,option",
    sorted({(path, option) for path, sub in _commands(build_parser()) for option in _options(sub)}),
)
def test_every_cli_option_is_documented(doc, path, option):
    assert option in doc, f"option {option} of `{path}` is missing from docs/protocol.md"


def _section(doc: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = doc.index(f"\n{heading}\n")
    ends = [doc.find(f"\n{'#' * n} ", start + 1) for n in range(1, len(level) + 1)]
    ends = [end for end in ends if end != -1]
    return doc[start:min(ends) if ends else len(doc)]


@pytest.mark.parametrize("name", [t.__name__ for t in REPLY_TYPES] + [t.__struct_config__.tag for t in EVENT_TYPES])
def test_the_schema_description_names_every_reply_and_event(doc, name):
    schema = _section(doc, "### `/protocol/schema.json`")
    assert f"`{name}`" in schema, f"`{name}` is served in /protocol/schema.json but not listed in its description"


def test_verify_names_every_chain_it_walks(doc):
    assert len(VERIFY_CHAINS) == len(CHAINS)  # one line per chain the books check walks
    command_line = _section(doc, "## Command line")
    for label in VERIFY_CHAINS:
        assert f"({label})" in command_line, f"verify's line for the {label} chain is not in docs/protocol.md"
    assert f"the {len(CHAINS)} fiscal chains" in command_line.replace("three", "3")


def test_what_is_not_done_yet_is_listed_in_one_place(doc):
    """What the server does not do yet is listed under "Not implemented yet" only: a "Not
    yet" left in the text of a verb outlives the code that does it (below cost did)."""
    body = doc.replace(_section(doc, "## Not implemented yet"), "")
    assert "not yet" not in body.lower(), (
        'a "not yet" in docs/protocol.md outside its "Not implemented yet" list')


def _tables() -> list[str]:
    db = sqlite3.connect(":memory:")
    try:
        migrate(db)
        return [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    finally:
        db.close()


@pytest.mark.parametrize("table", _tables())
def test_every_table_is_in_the_architecture(table):
    """docs/architecture.md, "Where state lives", names every table the migrations make
    (it said the PIN lock-outs were in memory only after they had a table)."""
    state = _section(ARCHITECTURE_MD.read_text(encoding="utf-8"), "## Where state lives")
    assert f"`{table}`" in state, f"table {table} is missing from \"Where state lives\" in docs/architecture.md"
