"""Requests the registry makes to addresses organizations choose (webhooks), in plain Python.

A host name is resolved once, every address it resolves to is checked, and the connection goes
to the checked address: a second lookup (as an HTTP library makes) could answer differently,
which is how a name is pointed at a private address after it passed a check (DNS rebinding).
TLS still verifies the certificate against the host name, and redirects are never followed.
"""

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses to connect to; tests inject their own.
Resolver = Callable[[str, int], Sequence[str]]


class UnsafeAddress(ValueError):
    """A URL whose host is, or resolves to, an address the registry must not connect to."""


class Unresolvable(UnsafeAddress):
    """A host name that resolves to nothing (now): nothing to connect to."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise Unresolvable(f"{host} does not resolve: {error}") from None
    return [str(info[4][0]) for info in infos]


def _address(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    # ::ffff:10.0.0.1 reaches 10.0.0.1; judge the IPv4 address it carries.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_refusal(address: IPAddress, *, allow_loopback: bool) -> str:
    """Why the registry must not connect to `address`; "" when it may."""
    if address.is_loopback:
        return "" if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if address.is_private:
        return "a private address"
    if not address.is_global or address.is_multicast:
        return "a reserved address"
    return ""


@dataclass(frozen=True)
class Target:
    """A URL's parts, with the one address the request will go to."""

    scheme: str
    host: str
    port: int
    address: str
    path: str
    # Every address the host resolved to is a loopback one.
    loopback: bool


def resolve_target(url: str, *, resolver: Resolver, allow_loopback: bool) -> Target:
    """Resolve the URL's host and check every address; raise UnsafeAddress naming the first
    refused one. A name with one bad address among good ones is refused as a whole."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in {"https", "http"}:
        raise UnsafeAddress("the URL must be an https:// URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeAddress("the URL's port is not a number up to 65535") from None
    try:
        addresses, verb = [_address(host)], "is"
    except ValueError:
        addresses, verb = [_address(text) for text in resolver(host, port)], "resolves to"
    if not addresses:
        raise Unresolvable(f"{host} does not resolve")
    for address in addresses:
        refusal = address_refusal(address, allow_loopback=allow_loopback)
        if refusal:
            named = "" if verb == "is" else f" {address},"
            raise UnsafeAddress(f"{host} {verb}{named} {refusal}")
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    loopback = all(address.is_loopback for address in addresses)
    return Target(parts.scheme, host, port, str(addresses[0]), path, loopback)


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


def _pool(
    target: Target, *, timeouts: tuple[float, float], ca_certs: str | None
) -> urllib3.HTTPConnectionPool:
    """A pool whose sockets go to the target's checked address, never to a new lookup."""
    timeout = urllib3.Timeout(connect=timeouts[0], read=timeouts[1])
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs or certifi.where(),
            # The certificate must name the host, though the socket goes to its address.
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False)


def post_to_checked_address(
    target: Target,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeouts: tuple[float, float],
    ca_certs: str | None = None,
) -> int:
    """POST to the target's checked address; the status code (a redirect is just answered,
    never followed). Raises urllib3.exceptions.HTTPError when no answer came."""
    with _pool(target, timeouts=timeouts, ca_certs=ca_certs) as pool:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": _host_header(target)},
            redirect=False,
            retries=False,
            preload_content=True,
        )
        return int(response.status)


REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Fetched:
    status: int
    location: str  # the Location header of a redirect, else ""
    body: bytes  # at most max_bytes + 1 bytes, so that a longer body shows as too long


def get_from_checked_address(
    target: Target,
    *,
    timeouts: tuple[float, float],
    max_bytes: int,
    ca_certs: str | None = None,
) -> Fetched:
    """GET from the target's checked address, reading at most max_bytes + 1 bytes of the
    body; a redirect is answered, never followed. Raises urllib3.exceptions.HTTPError when
    no answer came."""
    with _pool(target, timeouts=timeouts, ca_certs=ca_certs) as pool:
        response = pool.urlopen(
            "GET",
            target.path,
            headers={"Host": _host_header(target)},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        try:
            location = response.headers.get("Location", "") if response.status in REDIRECTS else ""
            body = b"" if location else response.read(max_bytes + 1, decode_content=True)
        finally:
            response.release_conn()
        return Fetched(int(response.status), location, bytes(body))
