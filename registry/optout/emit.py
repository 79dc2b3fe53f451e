"""Signals for an artist to publish, made from their terms.

Terms arrive as a plain mapping purpose -> permission ("allowed", "not_allowed",
"licensed"). A purpose is reserved unless it is plainly "allowed": a missing purpose is
not allowed (consent first), and "licensed" is reserved for everyone without a grant.
Where a standard cannot express the artist's exact split, the signal reserves as soon as
any purpose it covers is reserved: over-reserving costs the artist little, since AI
teams with a grant learn the real terms from the registry.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from PIL import Image

from registry.optout.headers import CONTENT_USAGE, TDM_POLICY, TDM_RESERVATION, X_ROBOTS_TAG
from registry.optout.iptc import DMI_VOCAB, write_data_mining
from registry.optout.prefixes import split_prefix
from registry.optout.purposes import (
    AI_GENERATIVE_TRAINING,
    AI_INFERENCE,
    AI_TRAINING,
    DATA_MINING,
    PURPOSES,
)

ALLOWED = "allowed"


def reserved_purposes(permissions: Mapping[str, str]) -> frozenset[str]:
    return frozenset(purpose for purpose in PURPOSES if permissions.get(purpose) != ALLOWED)


# --- TDMRep --------------------------------------------------------------------------


def tdmrep_rules(
    permissions: Mapping[str, str],
    *,
    locations: Iterable[str] = ("/",),
    policy_url: str | None = None,
) -> list[dict[str, object]]:
    """The rules of a /.well-known/tdmrep.json, one per path prefix, most specific first."""
    reserved = 1 if reserved_purposes(permissions) else 0
    rules: list[dict[str, object]] = []
    for location in sorted(set(locations), key=len, reverse=True):
        rule: dict[str, object] = {"location": _tdm_location(location), "tdm-reservation": reserved}
        if reserved and policy_url:
            rule["tdm-policy"] = policy_url
        rules.append(rule)
    return rules


def _tdm_location(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"a TDMRep location is a path starting with '/', not {path!r}")
    # "*" and "$" are pattern characters in TDMRep; in a literal path they are %-encoded.
    return quote(path, safe="/%:@!&'()+,;=-._~")


def tdmrep_json(
    permissions: Mapping[str, str],
    *,
    locations: Iterable[str] = ("/",),
    policy_url: str | None = None,
) -> str:
    rules = tdmrep_rules(permissions, locations=locations, policy_url=policy_url)
    return json.dumps(rules, indent=2) + "\n"


def tdmrep_files(
    url_prefixes: Iterable[str], permissions: Mapping[str, str], *, policy_url: str | None = None
) -> dict[str, str]:
    """origin -> tdmrep.json text for an artist's registered site prefixes."""
    by_origin: dict[str, list[str]] = {}
    for prefix in url_prefixes:
        origin, path = split_prefix(prefix)
        by_origin.setdefault(origin, []).append(path)
    return {
        origin: tdmrep_json(permissions, locations=paths, policy_url=policy_url)
        for origin, paths in by_origin.items()
    }


# --- ai.txt --------------------------------------------------------------------------


def ai_txt(
    permissions: Mapping[str, str], *, locations: Iterable[str] = ("/",), credit: str = ""
) -> str:
    """A Spawning-style ai.txt (robots.txt syntax) for the artist's paths on one site."""
    rule = "Disallow" if reserved_purposes(permissions) else "Allow"
    lines = ["# ai.txt: AI use of this site's works, from the artist's terms in Consentry."]
    if credit:
        lines.append(f"# Works by {' '.join(credit.split())}.")
    lines.append("User-Agent: *")
    lines.extend(f"{rule}: {_tdm_location(path)}" for path in sorted(set(locations)))
    return "\n".join(lines) + "\n"


# --- HTTP headers --------------------------------------------------------------------


def header_lines(permissions: Mapping[str, str], *, policy_url: str | None = None) -> list[str]:
    """Response header lines for the artist's images, one per header."""
    reserved = reserved_purposes(permissions)
    lines = []
    if reserved:
        lines.append(f"{X_ROBOTS_TAG}: noai, noimageai")
    lines.append(f"{TDM_RESERVATION}: {1 if reserved else 0}")
    if reserved and policy_url:
        lines.append(f"{TDM_POLICY}: {policy_url}")
    lines.append(f"{CONTENT_USAGE}: {content_usage_value(reserved)}")
    return lines


def content_usage_value(reserved: frozenset[str]) -> str:
    """aipref preferences: train-ai covers all training (earlier drafts), ai-use inference."""

    def flag(*purposes: str) -> str:
        return "n" if reserved.intersection(purposes) else "y"

    return (
        f"train-ai={flag(AI_TRAINING, AI_GENERATIVE_TRAINING)}, "
        f"train-genai={flag(AI_GENERATIVE_TRAINING)}, "
        f"ai-use={flag(AI_INFERENCE)}"
    )


# --- the image itself ----------------------------------------------------------------


def data_mining_value(permissions: Mapping[str, str]) -> str:
    """The one plus:DataMining value that reserves at least what the terms reserve."""
    reserved = reserved_purposes(permissions)
    if not reserved:
        code = "DMI-ALLOWED"
    elif reserved & {DATA_MINING, AI_INFERENCE}:
        code = "DMI-PROHIBITED"
    elif reserved == {AI_GENERATIVE_TRAINING}:
        code = "DMI-PROHIBITED-GENAIMLTRAINING"
    else:
        code = "DMI-PROHIBITED-AIMLTRAINING"
    return DMI_VOCAB + code


@dataclass(frozen=True)
class TaggedImage:
    data: bytes
    format: str  # Pillow's format name: "JPEG", "PNG", "TIFF", "GIF"
    data_mining: str


# ExifTool edits these in place; others (WebP before ExifTool 12.x, BMP, which has no XMP)
# are converted losslessly to PNG first.
_EDITABLE = ("JPEG", "PNG", "TIFF", "GIF")


def image_with_data_mining(data: bytes, permissions: Mapping[str, str]) -> TaggedImage:
    """A copy of a work's image with plus:DataMining written into its XMP.

    A C2PA manifest in the original stops validating once the file is edited; readers,
    ours included, then treat it as reserving everything, which errs on the artist's side.
    """
    value = data_mining_value(permissions)
    kind = _format(data)
    if kind not in _EDITABLE:
        data, kind = _as_png(data), "PNG"
    return TaggedImage(data=write_data_mining(data, value), format=kind, data_mining=value)


def _format(data: bytes) -> str:
    with Image.open(io.BytesIO(data), formats=(*_EDITABLE, "WEBP", "BMP")) as image:
        return "JPEG" if image.format == "MPO" else str(image.format)


def _as_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        icc = image.info.get("icc_profile")
        options = {"icc_profile": icc} if icc else {}
        image.save(out, "PNG", **options)
        return out.getvalue()
