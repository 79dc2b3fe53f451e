"""Reservations in the HTTP response headers an image was downloaded with.

X-Robots-Tag (`noai`, `noimageai`, also scoped to a user agent), W3C TDMRep
(`tdm-reservation`, `tdm-policy`) and IETF aipref `Content-Usage` (RFC 9651 dictionary).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import http_sf

from registry.optout.purposes import (
    AI_GENERATIVE_TRAINING,
    AI_INFERENCE,
    ALL_PURPOSES,
    TRAINING,
    Reservation,
    reservation,
    unparseable,
)

X_ROBOTS_TAG = "X-Robots-Tag"
TDM_RESERVATION = "tdm-reservation"
TDM_POLICY = "tdm-policy"
CONTENT_USAGE = "Content-Usage"
SIGNAL_HEADERS = (X_ROBOTS_TAG, TDM_RESERVATION, TDM_POLICY, CONTENT_USAGE)
# A pseudo-header a client sets when it had headers but could not read them (a malformed
# sidecar): the server then denies, instead of seeing no headers at all.
UNREADABLE_HEADERS = "Consentry-Unreadable-Headers"
_SIGNAL_NAMES = frozenset(name.lower() for name in (*SIGNAL_HEADERS, UNREADABLE_HEADERS))
DEFAULT_USER_AGENT = "ConsentryBot"

HeaderValue = str | Sequence[str]

# noai / noimageai (DeviantArt, Spawning): keep the content out of AI datasets, for any use.
_AI_DIRECTIVES = frozenset({"noai", "noimageai"})
# Directives whose own value follows a colon, so "name:" there is not a user-agent scope.
_VALUE_DIRECTIVES = frozenset(
    {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"}
)
_SCOPE = re.compile(r"^([A-Za-z0-9_.*-]+)\s*:\s*(.*)$")
_PRINTABLE = re.compile(r"[\t\x20-\x7e]*")

# TDM as the DSM Directive (art. 2(2)) defines it is any automated analysis that generates
# information: training, mining and running a model over the work alike.
TDM_PURPOSES = ALL_PURPOSES

# aipref labels. "train-ai" is generative training in the current vocabulary draft but all
# AI training in earlier ones: the broader reading holds. "train-genai" and "all" come from
# earlier drafts and are still seen in the wild. "search" names none of our purposes.
CONTENT_USAGE_PURPOSES: dict[str, frozenset[str]] = {
    "train-ai": TRAINING,
    "train-genai": frozenset({AI_GENERATIVE_TRAINING}),
    "ai-use": frozenset({AI_INFERENCE}),
    "all": ALL_PURPOSES,
}


def read_headers(
    headers: Mapping[str, HeaderValue], *, user_agent: str | Iterable[str] = DEFAULT_USER_AGENT
) -> list[Reservation]:
    """The reservations in response headers. A value may be a list when a header repeats."""
    agents = {user_agent} if isinstance(user_agent, str) else set(user_agent)
    values, found = _by_name(headers)
    found.extend(_unreadable(values.get(UNREADABLE_HEADERS.lower(), [])))
    for value in values.get(X_ROBOTS_TAG.lower(), []):
        found.extend(robots_reservations(value, {agent.lower() for agent in agents}))
    found.extend(
        tdmrep_reservations(
            values.get(TDM_RESERVATION.lower(), []), values.get(TDM_POLICY.lower(), [])
        )
    )
    for value in values.get(CONTENT_USAGE.lower(), []):
        found.extend(content_usage_reservations(value))
    return found


def _by_name(headers: Mapping[str, HeaderValue]) -> tuple[dict[str, list[str]], list[Reservation]]:
    """Header names compared case-insensitively; a signal value that is not text fails closed."""
    values: dict[str, list[str]] = {}
    bad: list[Reservation] = []
    for name, value in headers.items():
        items = [value] if isinstance(value, str) else value
        texts = [item for item in items if isinstance(item, str)] if _is_list(items) else []
        if isinstance(name, str):
            values.setdefault(name.lower(), []).extend(texts)
        if _is_signal(name) and (not _is_list(items) or len(texts) != len(items)):
            bad.append(unparseable(f"http:{name}", repr(value), "header value is not text"))
    return values, bad


def _is_list(value: object) -> bool:
    return isinstance(value, (list, tuple))


def _is_signal(name: object) -> bool:
    return isinstance(name, str) and name.lower() in _SIGNAL_NAMES


def _unreadable(notes: list[str]) -> list[Reservation]:
    return [unparseable("http:headers", "", note or "headers could not be read") for note in notes]


def robots_reservations(value: str, agents: set[str]) -> list[Reservation]:
    """noai / noimageai for every crawler, for one of `agents` (lowercase), or for "*"."""
    source = f"http:{X_ROBOTS_TAG}"
    if not _PRINTABLE.fullmatch(value):
        return [unparseable(source, value.encode("ascii", "replace").decode(), "not ASCII text")]
    found: list[Reservation] = []
    scope: str | None = None
    for token in value.split(","):
        token = token.strip()
        match = _SCOPE.match(token)
        if match and match.group(1).lower() not in _VALUE_DIRECTIVES:
            # Google's syntax: "otherbot: noindex, nofollow" scopes both directives.
            scope, token = match.group(1), match.group(2)
        if scope is not None and scope != "*" and scope.lower() not in agents:
            continue
        found.extend(_ai_directives(source, token, scope))
    return found


def _ai_directives(source: str, token: str, scope: str | None) -> list[Reservation]:
    words = token.lower().split()
    # "noai noimageai" without commas is malformed, but its meaning is plain.
    note = "directives separated by spaces" if len(words) > 1 else ""
    shown = f"{scope}: {token.strip()}" if scope else token.strip()
    return [
        reservation(source, shown, ALL_PURPOSES, note)
        for word in words
        if word.split(":")[0] in _AI_DIRECTIVES
    ][:1]


def tdmrep_reservations(reservations: list[str], policies: list[str]) -> list[Reservation]:
    """tdm-reservation 1 reserves; 0 does not; any other value fails closed."""
    found: list[Reservation] = []
    flags: set[str] = set()
    for value in reservations:
        for part in value.split(","):  # repeated headers arrive joined with commas
            if part.strip() in ("0", "1"):
                flags.add(part.strip())
            else:
                found.append(unparseable(f"http:{TDM_RESERVATION}", value, "must be 0 or 1"))
    policy = next((item.strip() for item in policies if item.strip()), "")
    if "1" in flags:
        note = f"TDM policy: {policy}" if policy else ""
        found.append(reservation(f"http:{TDM_RESERVATION}", "1", TDM_PURPOSES, note))
    elif policy and not flags and not found:
        # A policy with no reservation states conditions we do not read: a denial.
        note = "tdm-policy without tdm-reservation"
        found.append(reservation(f"http:{TDM_POLICY}", policy, TDM_PURPOSES, note))
    return found


def content_usage_reservations(value: str) -> list[Reservation]:
    """aipref preferences: `n` reserves; anything but `y` for a known label fails closed."""
    source = f"http:{CONTENT_USAGE}"
    try:
        parsed = http_sf.parse(value.encode("ascii"), tltype="dictionary")
    except (http_sf.StructuredFieldError, UnicodeEncodeError, ValueError) as error:
        return [unparseable(source, value, f"not a structured-field dictionary ({error})")]
    if not isinstance(parsed, dict):
        return [unparseable(source, value, "not a structured-field dictionary")]
    found: list[Reservation] = []
    for label, purposes in CONTENT_USAGE_PURPOSES.items():
        member: Any = parsed.get(label)
        if member is None:
            continue
        item = member[0]
        if isinstance(item, http_sf.Token) and str(item) == "y":
            continue
        is_no = isinstance(item, http_sf.Token) and str(item) == "n"
        note = "" if is_no else "unparseable: value is not the token y or n"
        found.append(reservation(source, http_sf.ser({label: member}), purposes, note))
    return found


# --- img2dataset ---------------------------------------------------------------------

# img2dataset itself writes no response headers into its .json sidecar (its metadata has
# url, key, status, error_message, sizes, exif and hashes, plus save_additional_columns).
# A downloader wrapper or fork that keeps them is expected to put them under "headers";
# columns named after the signal headers are read too (x_robots_tag, tdm-reservation, ...).
_SIDECAR_HEADER_KEYS = ("headers", "response_headers", "http_headers")


def headers_from_img2dataset_sidecar(sidecar: Mapping[str, object]) -> dict[str, HeaderValue]:
    """The signal headers an img2dataset-style sidecar kept; never raises.

    A sidecar whose headers are malformed yields the pseudo-header UNREADABLE_HEADERS, which
    read_headers turns into a denial: headers that were kept but cannot be read fail closed.
    """
    found: dict[str, list[str]] = {}
    for key in _SIDECAR_HEADER_KEYS:
        kept = sidecar.get(key)
        if kept is None:
            continue
        if not isinstance(kept, Mapping):
            return {UNREADABLE_HEADERS: f"sidecar {key!r} is not an object"}
        for name, value in kept.items():
            if not _add_header(found, name, value):
                return {UNREADABLE_HEADERS: f"sidecar header {name!r} is not text"}
    for column, value in sidecar.items():
        if value is not None and _canonical(column) and not _add_header(found, column, value):
            return {UNREADABLE_HEADERS: f"sidecar column {column!r} is not text"}
    return {name: values[0] if len(values) == 1 else values for name, values in found.items()}


def _canonical(name: object) -> str | None:
    if not isinstance(name, str):
        return None
    wanted = name.strip().lower().replace("_", "-")
    return next((header for header in SIGNAL_HEADERS if header.lower() == wanted), None)


def _add_header(found: dict[str, list[str]], name: object, value: object) -> bool:
    header = _canonical(name)
    if header is None:
        return True  # not a signal header: of no interest, and harmless
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # pandas keeps "tdm-reservation: 1" as a number
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        return False
    found.setdefault(header, []).extend(items)
    return True
