"""Artists' site-level reservations: does an item's source URL fall under a registered prefix?

Both sides are normalized the same way first (RFC 3986 section 6), so that case, default
ports, dot segments and needless percent-encoding neither hide a match nor fake one.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import SplitResult, unquote, urlsplit

_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]")
# A URL already in normal form (lower-case host without port or credentials, a path of
# unreserved characters without escapes or dot segments): most of a scraped list. Its key
# is read off directly, at a fraction of urlsplit's cost; anything else takes the long way.
_NORMAL_URL = re.compile(
    r"https?://([a-z0-9-]+(?:\.[a-z0-9-]+)*)((?:/[A-Za-z0-9\-_~][A-Za-z0-9\-._~]*)*/?)"
    r"(?:\?([^#\s]*))?(?:#\S*)?",
    re.ASCII,
)


class PrefixError(ValueError):
    """A URL prefix an artist cannot register."""


def split_prefix(prefix: str) -> tuple[str, str]:
    """(origin, path) of a registrable prefix, e.g. ("https://example.com", "/art/")."""
    parts = urlsplit(prefix.strip())
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        raise PrefixError(f"{prefix!r} is not an http(s) URL with a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise PrefixError(f"{prefix!r} may not carry credentials, a query or a fragment")
    return _origin(parts.scheme.lower(), parts.hostname, _port(parts)), _path(parts.path)


def normalize_prefix(prefix: str) -> str:
    origin, path = split_prefix(prefix)
    return origin + path


def url_key(url: str) -> str:
    """The form under which a work's source URL is stored and looked up: host, path and query
    normalized, the scheme and the fragment left out (an http and an https link to one file
    are the same source; a fragment never reaches the server)."""
    if normal := _NORMAL_URL.fullmatch(url):
        host, path, query = normal.groups()
        return host + (path or "/") + (f"?{query}" if query else "")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        raise PrefixError(f"{url!r} is not an http(s) URL with a host")
    origin = _without_scheme(_origin(parts.scheme.lower(), parts.hostname, _port(parts)))
    query = f"?{parts.query}" if parts.query else ""
    return origin + _path(parts.path) + query


def url_digest(url: str) -> bytes:
    """SHA-256 of `url_key(url)`: what the registry stores and the URL check probes."""
    return hashlib.sha256(url_key(url).encode()).digest()


def url_matches_prefix(url: str, prefix: str) -> bool:
    """True when `url` is the prefix itself or lies below it; http and https count alike."""
    try:
        origin, path = split_prefix(prefix)
        parts = urlsplit(url.strip())
        port = _port(parts)
    except ValueError:
        return False
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        return False
    url_origin = _origin(parts.scheme.lower(), parts.hostname, port)
    if _without_scheme(url_origin) != _without_scheme(origin):
        return False
    url_path = _path(parts.path)
    # "/user/abc" must not take in "/user/abcd", which may be another artist's page.
    return url_path == path or url_path.startswith(path if path.endswith("/") else path + "/")


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError as error:  # a port that is not a number in range
        raise PrefixError(str(error)) from error


def _origin(scheme: str, host: str, port: int | None) -> str:
    host = host.lower().rstrip(".")
    shown = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{shown}"


def _without_scheme(origin: str) -> str:
    host = origin.split("://", 1)[1]
    return host.removesuffix(":80").removesuffix(":443")


def _path(path: str) -> str:
    decoded = _ESCAPE.sub(_normalize_escape, path or "/")
    return _remove_dot_segments(decoded) or "/"


def _normalize_escape(match: re.Match[str]) -> str:
    char = unquote(match.group(0))
    return char if _UNRESERVED.fullmatch(char) else match.group(0).upper()


def _remove_dot_segments(path: str) -> str:
    output: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    ends_in_dir = path.endswith(("/.", "/..")) and output and output[-1] != ""
    return "/" + "/".join(output) + ("/" if ends_in_dir else "")
