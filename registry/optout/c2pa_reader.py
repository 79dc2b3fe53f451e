"""C2PA 1.x `c2pa.training-mining` and CAWG `cawg.training-mining` assertions, via c2pa-python.

Every manifest in the store is read, ingredients included: a reservation the original
artist signed still speaks for a derivative whose editor did not repeat it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import c2pa

from registry.optout.iptc import PLUS_NS, data_mining_reservations
from registry.optout.purposes import (
    ALL_PURPOSES,
    PURPOSES,
    Reservation,
    clip,
    reservation,
    unparseable,
)

TRAINING_MINING_LABEL = re.compile(r"^(c2pa|cawg)\.training-mining(\.v\d+)?(__\d+)?$")
# Assertions that carry IPTC metadata as JSON-LD, where plus:DataMining may appear too.
METADATA_LABEL = re.compile(r"^(c2pa\.metadata|cawg\.metadata|stds\.iptc(\.[a-z-]+)?)(__\d+)?$")
_ENTRY_PURPOSES = {
    f"{prefix}.{purpose}": purpose for prefix in ("c2pa", "cawg") for purpose in PURPOSES
}
# "constrained" without readable constraints counts as notAllowed (CAWG 1.1, section 3.1).
_DENYING_USES = ("notAllowed", "constrained")
_VALID_STATES = ("Valid", "Trusted")

# Never fetch: a remote manifest URL or an OCSP responder named by an untrusted file would
# make the server request any address an uploader chooses.
_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
# In a JPEG the reader (c2pa-rs) finds an embedded manifest store only by the JUMBF label
# "c2pa" in an APP11 segment (the first segment of the store carries it), and a remote
# manifest only by "dcterms:provenance" in the standard UTF-8 XMP packet; both are plain
# bytes. A JPEG holding neither has nothing for the reader, whose setup costs about a tenth
# of fingerprinting a scraped picture. Other containers may compress metadata (PNG's iTXt):
# the reader always reads them.
_JPEG_START = b"\xff\xd8"
_MANIFEST_MARKERS = (b"c2pa", b"provenance")


@dataclass
class ManifestScan:
    """The raw C2PA signals of an image, as found; mapping them to purposes comes later."""

    training_mining: list[dict[str, object]] = field(default_factory=list)
    data_mining: list[dict[str, object]] = field(default_factory=list)
    validation_state: str | None = None
    failures: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def scan_manifests(data: bytes) -> ManifestScan:
    """Read an image's C2PA manifest store, if it has one; never raises."""
    scan = ManifestScan()
    if not _may_hold_manifest(data):
        return scan
    try:
        store = _read_store(data)
    except Exception as error:  # a corrupt or unfetched store: its signals are unknown
        scan.unreadable.append(_describe_error(error))
        return scan
    if store is None:
        return scan
    _collect(store, scan)
    return scan


def _may_hold_manifest(data: bytes) -> bool:
    if not data.startswith(_JPEG_START):
        return True
    return any(marker in data for marker in _MANIFEST_MARKERS)


def _read_store(data: bytes) -> Mapping[str, object] | None:
    context = c2pa.Context(settings=c2pa.Settings.from_dict(_SETTINGS))
    try:
        reader = c2pa.Reader(io.BytesIO(data), context=context)
    except (c2pa.C2paError.ManifestNotFound, c2pa.C2paError.NotSupported):
        # No manifest, or a container that cannot carry one (BMP): nothing to read.
        return None
    with reader:
        store = json.loads(reader.json())
    if not isinstance(store, Mapping):
        raise ValueError("the manifest store is not a JSON object")
    return store


def _describe_error(error: Exception) -> str:
    message = str(error) or type(error).__name__
    remote = re.search(r"remote manifests? from url (\S+)", message)
    if remote:
        return f"C2PA manifest is remote and was not fetched ({remote.group(1)})"
    return f"C2PA manifest store could not be read: {message}"


def _collect(store: Mapping[str, object], scan: ManifestScan) -> None:
    state = store.get("validation_state")
    scan.validation_state = state if isinstance(state, str) else None
    for status in _list(store.get("validation_status")):
        if isinstance(status, Mapping) and isinstance(status.get("code"), str):
            scan.failures.append(str(status["code"]))
    manifests = store.get("manifests")
    if not isinstance(manifests, Mapping):
        scan.unreadable.append("C2PA manifest store has no manifests")
        return
    for manifest in manifests.values():
        assertions = manifest.get("assertions") if isinstance(manifest, Mapping) else None
        for assertion in _list(assertions):
            _collect_assertion(assertion, scan)


def _collect_assertion(assertion: object, scan: ManifestScan) -> None:
    if not isinstance(assertion, Mapping) or not isinstance(assertion.get("label"), str):
        return
    label, data = str(assertion["label"]), assertion.get("data")
    if TRAINING_MINING_LABEL.match(label):
        scan.training_mining.append({"label": label, "data": data})
    elif METADATA_LABEL.match(label) and isinstance(data, Mapping):
        for value in metadata_data_mining(data):
            scan.data_mining.append({"label": label, "value": value})


def metadata_data_mining(data: Mapping[str, object]) -> list[str]:
    """plus:DataMining values in a JSON-LD metadata assertion ({"@id": ...} forms too)."""
    values: list[str] = []
    for key, value in data.items():
        if key in ("plus:DataMining", f"{PLUS_NS}DataMining"):
            values.extend(_json_ld_values(value))
    return values


def _json_ld_values(value: object) -> list[str]:
    if isinstance(value, list):
        return [text for item in value for text in _json_ld_values(item)]
    if isinstance(value, Mapping):
        value = value.get("@id", value.get("@value"))
    # A value of another shape is kept as text: it maps to no vocabulary term, so it fails closed.
    return [value if isinstance(value, str) else json.dumps(value)]


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


# --- mapping -------------------------------------------------------------------------


def source_of(label: str) -> str:
    """`c2pa:c2pa.training-mining` for `c2pa.training-mining.v2__1` and the like."""
    base = re.sub(r"(\.v\d+)?(__\d+)?$", "", label)
    return f"c2pa:{base}"


def training_mining_reservations(label: object, data: object) -> list[Reservation]:
    """What one training-mining assertion reserves; anything we cannot read denies all."""
    if not isinstance(label, str) or not TRAINING_MINING_LABEL.match(label):
        return [unparseable("c2pa:training-mining", str(label), "not a training-mining label")]
    source = source_of(label)
    entries = _entries(data)
    if entries is None:
        return [unparseable(source, clip(json.dumps(data, default=str)), "no entries map")]
    found: list[Reservation] = []
    for key, entry in entries.items():
        found.extend(_entry_reservations(source, str(key), entry))
    return found


def _entries(data: object) -> Mapping[str, object] | None:
    if not isinstance(data, Mapping):
        return None
    entries = data.get("entries")
    if isinstance(entries, Mapping):
        return entries
    # CAWG notes that an earlier schema left out the "entries" map; such assertions put the
    # entries at the top level, and are read the same way.
    if data and all(isinstance(entry, Mapping) and "use" in entry for entry in data.values()):
        return data
    return None


def _entry_reservations(source: str, key: str, entry: object) -> list[Reservation]:
    purpose = _ENTRY_PURPOSES.get(key)
    use = entry.get("use") if isinstance(entry, Mapping) else None
    if use == "allowed":
        return []
    value = f"{key}: {use}" if isinstance(use, str) else key
    purposes = frozenset({purpose}) if purpose else ALL_PURPOSES
    if purpose is None:
        # A custom entry that is not "allowed" reserves something we cannot place.
        return [reservation(source, value, purposes, "entry outside the four purposes")]
    if use not in _DENYING_USES:
        return [reservation(source, value, purposes, "unparseable: unknown use value")]
    constraint = _constraint(entry)
    return [
        reservation(source, value, purposes, f"constraints: {constraint}" if constraint else "")
    ]


def _constraint(entry: object) -> str:
    if not isinstance(entry, Mapping):
        return ""
    # C2PA 1.4 spells it constraint_info, CAWG 1.1 constraints_info.
    text = entry.get("constraint_info", entry.get("constraints_info", ""))
    return text if isinstance(text, str) else json.dumps(text, default=str)


def metadata_reservations(label: object, value: object) -> list[Reservation]:
    if not isinstance(label, str) or not isinstance(value, str):
        return [unparseable("c2pa:metadata", str(value), "malformed plus:DataMining entry")]
    return data_mining_reservations([value], source=f"{source_of(label)}:plus:DataMining")


def validation_reservations(state: object, failures: list[str]) -> list[Reservation]:
    """A manifest store that fails validation cannot be trusted to say "allowed"."""
    if state is None or state in _VALID_STATES:
        return []
    codes = ", ".join(failures) or "no codes given"
    return [
        reservation(
            "c2pa:manifest",
            str(state),
            ALL_PURPOSES,
            f"manifest store does not validate: {codes}",
        )
    ]
