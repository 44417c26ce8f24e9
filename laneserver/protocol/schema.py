"""The JSON Schema of every frame, generated from the Structs (served at
``/protocol/schema.json``)."""

from __future__ import annotations

from typing import Any

import msgspec

from laneserver.protocol.messages import EVENT_TYPES, PROTOCOL_VERSION, REPLY_TYPES, REQUEST_TYPES


def protocol_schema() -> dict[str, Any]:
    types = (*REQUEST_TYPES, *REPLY_TYPES, *EVENT_TYPES)
    refs, components = msgspec.json.schema_components(types)
    by_name = {t.__name__: ref for t, ref in zip(types, refs)}
    for request in REQUEST_TYPES:
        # ``id`` has a default only for requests built in process: on the wire every
        # request needs one (codec.py refuses a frame without it).
        component = components[request.__name__]
        component["required"] = sorted({*component.get("required", ()), "id"})
        component["properties"]["id"] = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "laneserver websocket protocol",
        "version": PROTOCOL_VERSION,
        "description": "Every frame on /ws. Requests carry type and id; replies are ok or error with re; "
        "events carry type and no re. Money is a decimal string with two places.",
        "requests": {t.__struct_config__.tag: by_name[t.__name__] for t in REQUEST_TYPES},
        "replies": {t.__name__: by_name[t.__name__] for t in REPLY_TYPES},
        "events": {t.__struct_config__.tag: by_name[t.__name__] for t in EVENT_TYPES},
        "$defs": components,
    }
