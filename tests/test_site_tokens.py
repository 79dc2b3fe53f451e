"""Site verification by token: a Celery task fetches the token the artist serves
under the URL prefix they claim, from a local HTTP server here; a match makes the site and the
artist `site_verified`; a wrong token, a redirect to another host, or (in production) a private
address verifies nothing."""

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from registry import site_fetch
from registry.models import ArtistSite, Assurance, ConsentEvent, ConsentEventKind
from registry.services.site_tokens import site_token_check, site_token_issue
from registry.services.sites import site_register
from registry.site_fetch import VERIFICATION_FILE
from registry.tasks import check_site_token

SERVED: dict[str, str] = {}  # path -> body
REDIRECTS: dict[str, str] = {}  # path -> Location


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in REDIRECTS:
            self.send_response(302)
            self.send_header("Location", REDIRECTS[self.path])
            self.end_headers()
            return
        body = SERVED.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write((body or "not here").encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        SERVED.clear()
        REDIRECTS.clear()


def _site(artist, port: int, path: str) -> ArtistSite:
    site = site_register(artist=artist, url_prefix=f"http://127.0.0.1:{port}{path}")
    site_token_issue(site=site)
    return site


def test_a_served_token_verifies_the_site_and_the_artist(mallory, server):
    site = _site(mallory, server, "/mallory/")
    SERVED[f"/mallory/{VERIFICATION_FILE}"] = site.token + "\n"

    assert check_site_token.apply(args=[site.pk]).get() is True

    site.refresh_from_db()
    mallory.refresh_from_db()
    assert site.verified and mallory.assurance == Assurance.SITE_VERIFIED and mallory.verified
    event = ConsentEvent.objects.get(kind=ConsentEventKind.ASSURANCE_CHANGED, artist=mallory)
    assert event.payload["method"] == "site"
    assert event.payload["evidence"] == f"token served at {site.url_prefix}{VERIFICATION_FILE}"
    assert check_site_token.apply(args=[site.pk]).get() is True  # again: nothing new
    assert ConsentEvent.objects.filter(kind=ConsentEventKind.ASSURANCE_CHANGED).count() == 1


def test_a_site_check_never_lowers_an_operator_verified_artist(alice, server):
    site = _site(alice, server, "/alice/")
    SERVED[f"/alice/{VERIFICATION_FILE}"] = site.token

    assert site_token_check(site_id=site.pk).verified

    alice.refresh_from_db()
    assert alice.assurance == Assurance.OPERATOR_VERIFIED


def _refused(artist, site: ArtistSite, reason: str) -> None:
    check = site_token_check(site_id=site.pk)
    assert not check.verified and reason in check.reason
    site.refresh_from_db()
    artist.refresh_from_db()
    assert not site.verified and artist.assurance == Assurance.SELF_ASSERTED
    assert not ConsentEvent.objects.filter(kind=ConsentEventKind.ASSURANCE_CHANGED).exists()
    assert check_site_token.apply(args=[site.pk]).get() is False


def test_a_wrong_token_verifies_nothing(mallory, server):
    site = _site(mallory, server, "/mallory/")
    SERVED[f"/mallory/{VERIFICATION_FILE}"] = "someone-elses-token"

    _refused(mallory, site, "does not serve this site's token")


def test_a_missing_token_verifies_nothing(mallory, server):
    _refused(mallory, _site(mallory, server, "/mallory/"), "answered 404")


def test_a_redirect_to_another_host_verifies_nothing(mallory, server):
    site = _site(mallory, server, "/mallory/")
    elsewhere = f"http://localhost:{server}/other/{VERIFICATION_FILE}"
    REDIRECTS[f"/mallory/{VERIFICATION_FILE}"] = elsewhere
    SERVED[f"/other/{VERIFICATION_FILE}"] = site.token

    _refused(mallory, site, "redirects to another host")


def test_a_redirect_within_the_host_is_followed(mallory, server):
    site = _site(mallory, server, "/mallory/")
    REDIRECTS[f"/mallory/{VERIFICATION_FILE}"] = f"/mallory/v2/{VERIFICATION_FILE}"
    SERVED[f"/mallory/v2/{VERIFICATION_FILE}"] = site.token

    assert site_token_check(site_id=site.pk).verified


def test_a_private_address_is_refused_in_production(mallory, server, settings):
    settings.PRODUCTION = True
    site = _site(mallory, server, "/mallory/")
    SERVED[f"/mallory/{VERIFICATION_FILE}"] = site.token

    _refused(mallory, site, "a private address")


def test_a_public_name_resolving_to_a_private_address_is_refused(mallory, server, settings):
    settings.PRODUCTION = True
    site = site_register(artist=mallory, url_prefix="https://art.example/mallory/")
    site_token_issue(site=site)

    check = site_token_check(site_id=site.pk, resolver=lambda host: ["10.0.0.7"])

    assert not check.verified and "10.0.0.7, a private address" in check.reason


def test_the_token_is_fetched_from_the_address_the_system_prefers(monkeypatch) -> None:
    """A site with IPv6 and IPv4 addresses: the first address the system gives is the one
    connected to, so a worker without an IPv6 route is not sent to the IPv6 one."""
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0)),
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800:220:1::1", 0, 0, 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)
    assert site_fetch.resolve("example.org") == ["93.184.216.34", "2606:2800:220:1::1"]
