"""Fetching an artist's site-verification token: plain Python, with the checks that keep the
registry from being aimed at its own network (private addresses, also after a rebinding
lookup, and redirects to another host)."""

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import urllib3

from registry.outbound import Target, get_from_checked_address

VERIFICATION_FILE = "consentry-site-verification.txt"
MAX_TOKEN_BYTES = 4096
MAX_REDIRECTS = 3
TIMEOUTS = (5, 10)  # connect, read (seconds)

Resolver = Callable[[str], list[str]]


class SiteFetchError(Exception):
    """Why the token could not be fetched; the message is shown to the artist."""


def resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise SiteFetchError(f"{host} does not resolve: {error}") from None
    # The system's order (RFC 6724: IPv4 first where the host has no IPv6 route); the fetch
    # connects to the first address, so sorting would put most IPv6 addresses ahead of it.
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def token_url(url_prefix: str) -> str:
    return urljoin(url_prefix if url_prefix.endswith("/") else url_prefix + "/", VERIFICATION_FILE)


def _checked_address(host: str, allow_private: bool, resolver: Resolver) -> tuple[str, bool]:
    """The address to connect to, once every address the host resolves to is checked, and
    whether all of them are loopback ones."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in resolver(host)]
    if not addresses:
        raise SiteFetchError(f"{host} does not resolve.")
    for address in addresses:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not allow_private and not address.is_global:
            raise SiteFetchError(f"{host} resolves to {address}, a private address.")
    return str(addresses[0]), all(address.is_loopback for address in addresses)


def _target(url: str, allow_private: bool, resolver: Resolver) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SiteFetchError(f"{url} is not an http(s) URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise SiteFetchError(f"{url} has a port that is not a number up to 65535.") from None
    host = parts.hostname.lower()
    address, loopback = _checked_address(host, allow_private, resolver)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, address, path, loopback)


def fetch_token(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> str:
    """The text served at `url`, following redirects only within the same host.

    Each hop's host is resolved once, every address checked, and the connection goes to the
    checked address: a second lookup (as an HTTP library makes) could answer a private address
    after the check saw a public one (DNS rebinding). TLS still verifies the host's certificate.
    """
    host = (urlsplit(url).hostname or "").lower()
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SiteFetchError(f"{url} is not an http(s) URL.")
        if parts.hostname.lower() != host:
            raise SiteFetchError(f"{url} redirects to another host ({parts.hostname}).")
        target = _target(url, allow_private, resolver)
        try:
            fetched = get_from_checked_address(target, timeouts=TIMEOUTS, max_bytes=MAX_TOKEN_BYTES)
        except urllib3.exceptions.HTTPError as error:
            raise SiteFetchError(f"{url} could not be fetched: {error}") from None
        if fetched.location:
            url = urljoin(url, fetched.location)
            continue
        if fetched.status != 200:
            raise SiteFetchError(f"{url} answered {fetched.status}.")
        if len(fetched.body) > MAX_TOKEN_BYTES:
            raise SiteFetchError(f"{url} serves more than {MAX_TOKEN_BYTES} bytes.")
        return fetched.body.decode("utf-8", errors="replace").strip()
    raise SiteFetchError(f"{url}: more than {MAX_REDIRECTS} redirects.")
