"""What a client sends with an item so the server needs no image, and the shared rules.

`read_image(data)` is `reservations` of `embedded_to_wire(data)`: the server applies one
set of rules whether it read an image itself or a client read it and sent the values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping

from registry.optout.c2pa_reader import (
    ManifestScan,
    metadata_reservations,
    scan_manifests,
    training_mining_reservations,
    validation_reservations,
)
from registry.optout.headers import DEFAULT_USER_AGENT, read_headers
from registry.optout.iptc import SOURCE as IPTC_SOURCE
from registry.optout.iptc import DataMiningScan, data_mining_reservations, scan_data_mining
from registry.optout.purposes import Reservation, clip, unparseable

IPTC_DATA_MINING = "iptc_data_mining"
C2PA_TRAINING_MINING = "c2pa_training_mining"
C2PA_DATA_MINING = "c2pa_data_mining"
C2PA_VALIDATION_STATE = "c2pa_validation_state"
C2PA_FAILURES = "c2pa_failures"
UNREADABLE = "unreadable"
EMBEDDED_KEYS = (
    IPTC_DATA_MINING,
    C2PA_TRAINING_MINING,
    C2PA_DATA_MINING,
    C2PA_VALIDATION_STATE,
    C2PA_FAILURES,
    UNREADABLE,
)
# An honest image carries a few hundred bytes of these; the caps keep one item small and
# its parsing cheap. Anything over them is refused as a whole, which denies.
MAX_EMBEDDED_BYTES = 64 * 1024
MAX_HEADERS_BYTES = 16 * 1024
MAX_LIST = 32
MAX_IMAGE_BYTES = 64 * 1024 * 1024


def embedded_to_wire(data: bytes) -> dict[str, object]:
    """The raw embedded signals of an image file, JSON-safe; empty keys are left out."""
    if len(data) > MAX_IMAGE_BYTES:
        return {UNREADABLE: [_unreadable("image", "the file is too large to check")]}
    xmp = scan_data_mining(data)
    manifests = scan_manifests(data)
    wire: dict[str, object] = {
        IPTC_DATA_MINING: xmp.values,
        C2PA_TRAINING_MINING: manifests.training_mining,
        C2PA_DATA_MINING: manifests.data_mining,
        C2PA_VALIDATION_STATE: manifests.validation_state,
        C2PA_FAILURES: manifests.failures,
        UNREADABLE: _unreadable_entries(xmp, manifests),
    }
    return {key: value for key, value in wire.items() if value}


def _unreadable_entries(xmp: DataMiningScan, manifests: ManifestScan) -> list[dict[str, str]]:
    entries = [_unreadable("image", xmp.container_error)] if xmp.container_error else []
    entries += [_unreadable(IPTC_SOURCE, note) for note in xmp.unreadable]
    entries += [_unreadable("c2pa:manifest", note) for note in manifests.unreadable]
    return entries


def _unreadable(source: str, note: str) -> dict[str, str]:
    return {"source": source, "note": clip(note)}


def read_image(data: bytes) -> list[Reservation]:
    """The reservations an image file carries (XMP and C2PA); never raises."""
    return embedded_reservations(embedded_to_wire(data))


def reservations_from_wire(item: Mapping[str, object]) -> list[Reservation]:
    """What a screening item's "embedded" and "headers" reserve; malformed parts deny all."""
    if not isinstance(item, Mapping):
        return [unparseable("wire:item", "", "a screening item must be a JSON object")]
    found: list[Reservation] = []
    if item.get("embedded") is not None:
        found.extend(embedded_reservations(item["embedded"]))
    if item.get("headers") is not None:
        found.extend(_header_reservations(item["headers"], item.get("user_agent")))
    return found


def embedded_reservations(embedded: object) -> list[Reservation]:
    """Apply the rules to an "embedded" object, after checking its shape strictly."""
    problem = _embedded_problem(embedded)
    if problem or not isinstance(embedded, Mapping):
        return [unparseable("wire:embedded", "", problem or "not an object")]
    found = data_mining_reservations(embedded.get(IPTC_DATA_MINING, []))
    for assertion in embedded.get(C2PA_TRAINING_MINING, []):
        found.extend(training_mining_reservations(assertion.get("label"), assertion.get("data")))
    for entry in embedded.get(C2PA_DATA_MINING, []):
        found.extend(metadata_reservations(entry.get("label"), entry.get("value")))
    found.extend(
        validation_reservations(
            embedded.get(C2PA_VALIDATION_STATE), embedded.get(C2PA_FAILURES, [])
        )
    )
    for entry in embedded.get(UNREADABLE, []):
        found.append(unparseable(entry["source"], "", entry["note"]))
    return found


def _embedded_problem(embedded: object) -> str:
    """Why an "embedded" object is malformed, or "" when its shape is as documented."""
    if not isinstance(embedded, Mapping):
        return "embedded signals must be a JSON object"
    unknown = sorted(str(key) for key in embedded if key not in EMBEDDED_KEYS)
    if unknown:
        # A key this server does not know may hold a signal it would silently miss.
        return f"unknown embedded field(s): {', '.join(unknown)}"
    if _json_size(embedded) > MAX_EMBEDDED_BYTES:
        return "embedded signals are too large"
    checks: dict[str, Callable[[object], bool]] = {
        IPTC_DATA_MINING: _is_str,
        C2PA_TRAINING_MINING: lambda x: _has_keys(x, {"label": _is_str, "data": _any}),
        C2PA_DATA_MINING: lambda x: _has_keys(x, {"label": _is_str, "value": _is_str}),
        C2PA_FAILURES: _is_str,
        UNREADABLE: lambda x: _has_keys(x, {"source": _is_str, "note": _is_str}),
    }
    for key, check in checks.items():
        if key in embedded and not _is_list_of(embedded[key], check):
            return f"embedded field {key} has the wrong shape"
    state = embedded.get(C2PA_VALIDATION_STATE)
    if state is not None and not isinstance(state, str):
        return f"embedded field {C2PA_VALIDATION_STATE} must be a string"
    return ""


def _header_reservations(headers: object, user_agent: object) -> list[Reservation]:
    if not isinstance(headers, Mapping) or _json_size(headers) > MAX_HEADERS_BYTES:
        return [unparseable("wire:headers", "", "headers must be a small JSON object")]
    agents = [DEFAULT_USER_AGENT]
    if isinstance(user_agent, str) and user_agent.strip():
        agents.append(user_agent.strip())
    elif user_agent is not None:
        return [unparseable("wire:user_agent", "", "user_agent must be a string")]
    return read_headers(headers, user_agent=agents)


def _json_size(value: object) -> int:
    try:
        return len(json.dumps(value, separators=(",", ":")))
    except (TypeError, ValueError):
        return MAX_EMBEDDED_BYTES + 1  # not JSON at all: as bad as too large


def _is_list_of(value: object, check: Callable[[object], bool]) -> bool:
    return isinstance(value, list) and len(value) <= MAX_LIST and all(map(check, value))


def _has_keys(value: object, checks: Mapping[str, Callable[[object], bool]]) -> bool:
    return isinstance(value, Mapping) and all(
        key in value and check(value[key]) for key, check in checks.items()
    )


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _any(value: object) -> bool:
    return True


def summarize(reservations: Iterable[Reservation]) -> str:
    """One line for an item's reason: every signal that denies it, in order."""
    return "; ".join(item.describe() for item in reservations)
