"""Printer profiles: what a model can do, from python-escpos's capabilities database.

``[[printers]] profile = "TM-T88V"`` names a model of ``escpos.capabilities`` (the
ESC/POS printer database python-escpos ships). Three things are taken from it:

* the columns of font A (``width`` when the printer's entry does not set it);
* the code page the receipt's text is encoded in: the first of ``PREFERRED`` that the
  model has, so French text prints with its accents (CP1252 and ISO 8859-15 also have
  ``€`` and ``œ``; CP858 has ``€`` but not ``œ``, which prints as ``oe``);
* whether it has a cutter: without one, a job ends with a paper feed to tear at.

No profile (``profile = ""``) is the behaviour from before profiles: 42 columns, CP858,
a cutter.

Pure lookups in a data file: nothing here talks to a printer.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from functools import cache

#: The code pages that print French, best first (escpos's names; ESC t numbers vary
#: by model and come from the profile).
PREFERRED = ("CP1252", "ISO_8859-15", "CP858", "CP850", "CP437")


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    columns: int
    codepage: str
    cutter: bool


#: No profile named: as laneserver printed before profiles existed.
DEFAULT = Profile(name="", columns=42, codepage="CP858", cutter=True)


def known_profiles() -> list[str]:
    """The names python-escpos knows, sorted."""
    from escpos.capabilities import CAPABILITIES

    return sorted(CAPABILITIES["profiles"])


@cache
def profile(name: str) -> Profile:
    """The ``Profile`` of model ``name`` ("" → ``DEFAULT``).

    Raises:
        ValueError: ``name`` is not in python-escpos's database, or the model has
            none of the ``PREFERRED`` code pages (it cannot print French).
    """
    if not name:
        return DEFAULT
    from escpos.capabilities import CAPABILITIES

    data = CAPABILITIES["profiles"].get(name)
    if data is None:
        raise ValueError(f"unknown printer profile {name!r} (python-escpos knows: {', '.join(known_profiles())})")
    pages = set(data.get("codePages", {}).values())
    codepage = next((page for page in PREFERRED if page in pages), None)
    if codepage is None:
        raise ValueError(f"printer profile {name!r} has none of the code pages {', '.join(PREFERRED)}")
    fonts = data.get("fonts", {})
    columns = int(fonts.get("0", {}).get("columns", DEFAULT.columns))
    features = data.get("features", {})
    cutter = bool(features.get("paperFullCut") or features.get("paperPartCut"))
    return Profile(name=name, columns=columns, codepage=codepage, cutter=cutter)


#: What a code page lacks is written the way a cashier would type it; whatever is
#: still not in the page prints as "?" (python-escpos's choice): never an exception.
_SPELLED = {"œ": "oe", "Œ": "OE", "€": "EUR"}


@cache
def _codec(codepage: str) -> codecs.CodecInfo:
    return codecs.lookup(codepage)


def spell_for(codepage: str, text: str) -> str:
    """``text`` with the characters ``codepage`` lacks among ``œ Œ €`` spelled out."""
    codec = _codec(codepage)
    out = []
    for char in text:
        if char in _SPELLED:
            try:
                codec.encode(char)
            except UnicodeEncodeError:
                char = _SPELLED[char]
        out.append(char)
    return "".join(out)
