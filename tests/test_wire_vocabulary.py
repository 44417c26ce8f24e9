"""The wire vocabulary is defined one module per domain (protocol/frames.py and
protocol/wire_*.py) and assembled once in protocol/messages.py: a Struct defined in a
domain module but left out of the unions would be a verb the server cannot decode, a
reply or an event missing from the JSON Schema and from tests/test_docs.py. This
walks the domain modules so that cannot happen silently."""

from __future__ import annotations

import importlib
import pkgutil

import msgspec
import pytest

import laneserver.protocol
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import decode_request

DOMAIN_MODULES = sorted(
    info.name for info in pkgutil.iter_modules(laneserver.protocol.__path__)
    if info.name == "frames" or info.name.startswith("wire_")
)


def _defined(module_name: str) -> list[type]:
    module = importlib.import_module(f"laneserver.protocol.{module_name}")
    return [value for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, msgspec.Struct) and value.__module__ == module.__name__]


def test_the_domain_modules_are_there():
    assert {"frames", "wire_session", "wire_lane", "wire_catalog", "wire_stock", "wire_drawer", "wire_customers",
            "wire_sales"} <= set(DOMAIN_MODULES)


@pytest.mark.parametrize("module_name", DOMAIN_MODULES)
def test_every_struct_of_a_domain_module_is_in_the_vocabulary(module_name):
    for struct in _defined(module_name):
        assert getattr(wire, struct.__name__) is struct, f"{struct.__name__} is not re-exported by messages.py"
        if struct in (wire.Request, wire.Reply):
            continue  # the bases
        if issubclass(struct, wire.Request):
            assert struct in wire.REQUEST_TYPES, f"request {struct.__name__} is not in RequestUnion"
        elif issubclass(struct, wire.Reply) or struct is wire.Error:
            assert struct in wire.REPLY_TYPES, f"reply {struct.__name__} is not in REPLY_TYPES"
        elif struct.__struct_config__.tag_field == "type":
            assert struct in wire.EVENT_TYPES, f"event {struct.__name__} is not in EVENT_TYPES"


def test_each_type_is_defined_once_and_the_unions_hold_no_duplicate():
    names = [struct.__name__ for module_name in DOMAIN_MODULES for struct in _defined(module_name)]
    assert len(names) == len(set(names))
    for group in (wire.REQUEST_TYPES, wire.MUTATING, wire.REPLY_TYPES, wire.EVENT_TYPES, wire.CUSTOMER_VERBS,
                  wire.SALES_VERBS):
        assert len(group) == len(set(group))
    assert set(wire.MUTATING) | set(wire.CUSTOMER_VERBS) | set(wire.SALES_VERBS) <= set(wire.REQUEST_TYPES)


@pytest.mark.parametrize("verb", [cls.__struct_config__.tag for cls in wire.REQUEST_TYPES])
def test_the_one_decoder_knows_every_verb(verb):
    """A verb of the union reaches the decoder: a frame of it with a bad field is refused
    for that field (``bad_request`` naming it), not as an unknown type."""
    request = decode_request(msgspec.json.encode({"type": verb, "id": 1, "no_such_field": 1}))
    assert isinstance(request, wire.Error) and request.field == "no_such_field", request
