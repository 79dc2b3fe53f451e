"""IPTC Photo Metadata `plus:DataMining` in XMP: find it in an image, map it, write it.

Reading uses Pillow to find the XMP packets of a container and defusedxml to parse them:
XMP comes from untrusted images, so entity expansion and DTDs are refused. Writing uses
ExifTool, which edits metadata without re-encoding the pixels.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml.ElementTree as SafeET
from PIL import Image

from registry.optout.purposes import (
    AI_GENERATIVE_TRAINING,
    ALL_PURPOSES,
    NO_PURPOSES,
    TRAINING,
    Reservation,
    reservation,
    unparseable,
)

SOURCE = "iptc:plus:DataMining"
PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
DMI_VOCAB = "http://ns.useplus.org/ldf/vocab/"
_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DATA_MINING_TAG = f"{{{PLUS_NS}}}DataMining"

# The PLUS Data Mining vocabulary (IPTC Photo Metadata 2023.1). Search-engine indexing is
# none of our purposes, so "except search engine indexing" reserves all four; a value that
# points at constraints or rights expressions we do not read reserves all four too.
DATA_MINING_PURPOSES: dict[str, frozenset[str]] = {
    "DMI-UNSPECIFIED": NO_PURPOSES,
    "DMI-ALLOWED": NO_PURPOSES,
    "DMI-PROHIBITED-AIMLTRAINING": TRAINING,
    "DMI-PROHIBITED-GENAIMLTRAINING": frozenset({AI_GENERATIVE_TRAINING}),
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": ALL_PURPOSES,
    "DMI-PROHIBITED": ALL_PURPOSES,
    "DMI-PROHIBITED-SEECONSTRAINT": ALL_PURPOSES,
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": ALL_PURPOSES,
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": ALL_PURPOSES,
}

# Only the formats the fingerprinting module accepts; anything else is not an image we
# vouch for. (A JPEG with a multi-picture extension opens as "MPO", a kind of JPEG.)
_CONTAINERS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
_JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_EXTENDED_XMP = b"http://ns.adobe.com/xmp/extension/\x00"
# A packet scan visits every candidate once; these bound the work one hostile file can cause.
MAX_PACKETS = 16
MAX_PACKET_BYTES = 16 * 1024 * 1024
_PACKET_TAGS = ((b"<x:xmpmeta", b"</x:xmpmeta>"), (b"<rdf:RDF", b"</rdf:RDF>"))
_TIFF_XMP_TAG = 700


class XmpError(ValueError):
    """An XMP packet, or a plus:DataMining value in it, that cannot be read."""


class _ContainerError(XmpError):
    """The file is not an image in an allowed format, so nothing in it can be checked."""


@dataclass
class DataMiningScan:
    """What an image's XMP says: raw plus:DataMining values, and what could not be read."""

    values: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    container_error: str = ""  # the file itself could not be opened as an allowed image


def data_mining_purposes(value: str) -> frozenset[str] | None:
    """The purposes a plus:DataMining value reserves; None for a value outside the vocabulary."""
    text = value.strip()
    code = text[len(DMI_VOCAB) :] if text.startswith(DMI_VOCAB) else text
    return DATA_MINING_PURPOSES.get(code)


def data_mining_reservations(values: Iterable[str], source: str = SOURCE) -> list[Reservation]:
    found = []
    for value in values:
        if not value.strip():
            continue  # an empty property says nothing, like an absent one
        purposes = data_mining_purposes(value)
        if purposes is None:
            found.append(unparseable(source, value, "not a PLUS Data Mining vocabulary value"))
        elif purposes:
            found.append(reservation(source, value.strip(), purposes))
    return found


def scan_data_mining(data: bytes) -> DataMiningScan:
    """Every plus:DataMining value in every XMP packet of an image file; never raises."""
    scan = DataMiningScan()
    try:
        packets = _container_packets(data) or _scanned_packets(data)
    except _ContainerError as error:
        scan.container_error = str(error)
        return scan
    except XmpError as error:
        scan.unreadable.append(str(error))
        return scan
    for packet in packets:
        try:
            scan.values.extend(data_mining_values(packet))
        except XmpError as error:
            scan.unreadable.append(str(error))
    return scan


def data_mining_values(packet: bytes) -> list[str]:
    """The plus:DataMining values of one XMP packet, as attributes or as elements."""
    if len(packet) > MAX_PACKET_BYTES:
        raise XmpError("XMP packet is too large to read")
    try:
        # XMP forbids DTDs; refusing them also rules out every entity trick.
        root = SafeET.fromstring(packet, forbid_dtd=True)
    except Exception as error:  # defusedxml refusals and syntax errors alike: unreadable
        raise XmpError(f"XMP packet is not well-formed XML: {error}") from error
    values: list[str] = []
    for element in root.iter():
        attribute = element.attrib.get(_DATA_MINING_TAG)
        if attribute is not None:
            values.append(attribute)
        if element.tag == _DATA_MINING_TAG:
            values.extend(_element_values(element))
    return values


def _element_values(element: SafeET.Element) -> list[str]:
    resource = element.attrib.get(f"{{{_RDF_NS}}}resource")
    if resource is not None:
        return [resource]
    if len(element) == 0:
        return [element.text or ""]
    # The property is a simple URI, but a writer may wrap it in an array or a qualified
    # value; any of those still counts, and anything else is a structure we cannot read.
    items = [
        node.attrib.get(f"{{{_RDF_NS}}}resource", node.text or "")
        for node in element.iter()
        if node.tag in (f"{{{_RDF_NS}}}li", f"{{{_RDF_NS}}}value")
    ]
    if not items:
        raise XmpError("plus:DataMining holds a structure instead of a value")
    return items


def _container_packets(data: bytes) -> list[bytes]:
    """XMP packets where the container keeps them, read by Pillow without decoding pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pixels are never decoded here
            with Image.open(io.BytesIO(data), formats=_CONTAINERS) as image:
                if image.format in ("JPEG", "MPO"):
                    return _jpeg_packets(getattr(image, "applist", []))
                return _as_packets(image.info.get("xmp"), _tiff_packet(image))
    except XmpError:
        raise
    except Image.UnidentifiedImageError as error:
        raise _ContainerError("the file is not an image in an allowed format") from error
    except Exception as error:  # any container failure: the signals cannot be checked
        raise _ContainerError(f"the image container could not be read: {error}") from error


def _tiff_packet(image: Image.Image) -> object:
    tags = getattr(image, "tag_v2", None)
    return tags.get(_TIFF_XMP_TAG) if tags is not None else None


def _as_packets(*raw: object) -> list[bytes]:
    packets = []
    for value in raw:
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif isinstance(value, tuple):
            value = bytes(value)
        if isinstance(value, bytes) and value.strip(b"\x00 \t\r\n"):
            packets.append(value)
    return list(dict.fromkeys(packets))


def _jpeg_packets(applist: list[tuple[str, bytes]]) -> list[bytes]:
    """Every standard XMP segment, and extended XMP reassembled from its pieces."""
    standard, pieces = [], []
    for name, body in applist:
        if name == "APP1" and body.startswith(_JPEG_XMP):
            standard.append(body[len(_JPEG_XMP) :])
        elif name == "APP1" and body.startswith(_JPEG_EXTENDED_XMP):
            pieces.append(body[len(_JPEG_EXTENDED_XMP) :])
    return _as_packets(*standard, *_extended_packets(pieces))


def _extended_packets(pieces: list[bytes]) -> list[bytes]:
    # Each piece: a 32-byte GUID, the full length and this piece's offset (big-endian
    # 32-bit), then the bytes. A packet with a gap cannot be read, so it fails closed.
    by_guid: dict[bytes, list[tuple[int, int, bytes]]] = {}
    for piece in pieces:
        if len(piece) < 40:
            raise XmpError("extended XMP segment is truncated")
        total, offset = int.from_bytes(piece[32:36]), int.from_bytes(piece[36:40])
        by_guid.setdefault(piece[:32], []).append((offset, total, piece[40:]))
    packets = []
    for parts in by_guid.values():
        parts.sort()
        joined = b"".join(part for _, _, part in parts)
        if len(joined) != parts[0][1] or len(joined) > MAX_PACKET_BYTES:
            raise XmpError("extended XMP is incomplete or too large")
        packets.append(joined)
    return packets


def _scanned_packets(data: bytes) -> list[bytes]:
    """XMP packet scanning (XMP part 3): for containers where Pillow shows no packet."""
    for open_tag, close_tag in _PACKET_TAGS:
        spans = _spans(data, open_tag, close_tag)
        if spans:
            return [data[start:end] for start, end in spans]
    return []


def _spans(data: bytes, open_tag: bytes, close_tag: bytes) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    while (start := data.find(open_tag, position)) >= 0:
        end = data.find(close_tag, start)
        if end < 0:
            raise XmpError("an XMP packet has no end")
        end += len(close_tag)
        if len(spans) == MAX_PACKETS or end - start > MAX_PACKET_BYTES:
            raise XmpError("too many or too large XMP packets")
        spans.append((start, end))
        position = end
    return spans


# --- writing -------------------------------------------------------------------------

# ExifTool before 12.67 (Debian 12 ships 12.57) does not know plus:DataMining; this config
# defines it in ExifTool's PLUS table. Later versions define it themselves, which is harmless.
EXIFTOOL_CONFIG = Path(__file__).with_name("exiftool_plus.config")
EXIFTOOL_TIMEOUT_SECONDS = 60


class XmpWriteError(RuntimeError):
    """ExifTool is missing or refused to write the file."""


def write_data_mining(data: bytes, value: str) -> bytes:
    """A copy of an image file with plus:DataMining set to `value`; pixels untouched."""
    if data_mining_purposes(value) is None:
        raise ValueError(f"{value!r} is not a PLUS Data Mining vocabulary value")
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        raise XmpWriteError("exiftool is not installed (Debian: libimage-exiftool-perl)")
    command = [
        exiftool,
        "-config",
        str(EXIFTOOL_CONFIG),
        "-q",
        "-q",
        "-m",
        f"-XMP-plus:DataMining#={value}",
        "-o",
        "-",
        "-",
    ]
    # No shell, a fixed argument list, and the value checked against the vocabulary above.
    result = subprocess.run(  # noqa: S603
        command, input=data, capture_output=True, timeout=EXIFTOOL_TIMEOUT_SECONDS, check=False
    )
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode("utf-8", "replace").strip() or "no output"
        raise XmpWriteError(f"exiftool could not write the file: {message}")
    return result.stdout
