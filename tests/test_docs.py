"""The protocol reference cannot silently fall behind the code.

Every request verb, every event type and every error code of the wire vocabulary,
and every command and option of the command line, must appear in
docs/protocol.md. Adding a verb without documenting it fails here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from laneserver.cli import build_parser
from laneserver.protocol.messages import EVENT_TYPES, REQUEST_TYPES, Code

PROTOCOL_MD = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


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
