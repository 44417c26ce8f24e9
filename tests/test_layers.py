"""The layering rule of issue 12: actors speak the domain, the edge speaks the wire.
No module under laneserver/actors/ imports laneserver.protocol (read from the
source: an import inside a function counts too)."""

from __future__ import annotations

import ast
from pathlib import Path

import laneserver

ACTORS = Path(laneserver.__file__).parent / "actors"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_actor_module_imports_the_wire_protocol() -> None:
    modules = sorted(ACTORS.glob("*.py"))
    assert len(modules) > 10
    offenders = {path.name: sorted(name for name in _imports(path)
                                   if name == "laneserver.protocol" or name.startswith("laneserver.protocol."))
                 for path in modules}
    assert {name: names for name, names in offenders.items() if names} == {}
