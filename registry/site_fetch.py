"""Fetching an artist's site-verification token: plain Python, with the checks that keep the
registry from being aimed at its own network (private addresses, redirects to another host)."""

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import requests

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
    return sorted({str(info[4][0]) for info in infos})


def token_url(url_prefix: str) -> str:
    return urljoin(url_prefix if url_prefix.endswith("/") else url_prefix + "/", VERIFICATION_FILE)


def _refuse_private(host: str, allow_private: bool, resolver: Resolver) -> None:
    for text in resolver(host):
        address = ipaddress.ip_address(text)
        if not allow_private and not address.is_global:
            raise SiteFetchError(f"{host} resolves to {address}, a private address.")


def fetch_token(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> str:
    """The text served at `url`, following redirects only within the same host.

    The address is checked before the request; a name that resolves differently between the
    check and the request (DNS rebinding) is a known limit, narrowed by the short timeouts.
    """
    host = (urlsplit(url).hostname or "").lower()
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SiteFetchError(f"{url} is not an http(s) URL.")
        if parts.hostname.lower() != host:
            raise SiteFetchError(f"{url} redirects to another host ({parts.hostname}).")
        _refuse_private(parts.hostname, allow_private, resolver)
        try:
            response = requests.get(url, timeout=TIMEOUTS, allow_redirects=False, stream=True)
        except requests.RequestException as error:
            raise SiteFetchError(f"{url} could not be fetched: {error}") from None
        with response:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("Location", ""))
                continue
            if response.status_code != 200:
                raise SiteFetchError(f"{url} answered {response.status_code}.")
            body = response.raw.read(MAX_TOKEN_BYTES + 1, decode_content=True)
        if len(body) > MAX_TOKEN_BYTES:
            raise SiteFetchError(f"{url} serves more than {MAX_TOKEN_BYTES} bytes.")
        return bytes(body).decode("utf-8", errors="replace").strip()
    raise SiteFetchError(f"{url}: more than {MAX_REDIRECTS} redirects.")
