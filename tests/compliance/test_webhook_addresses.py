"""Webhook addresses are judged by what they resolve to, at registration and at every delivery,
and the delivery connects to the address that was checked (with a resolver the test controls)."""

import re
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any

import pytest
import trustme
import urllib3
from django.core.exceptions import ValidationError

from registry.models import ConsentEvent, WebhookAttempt, WebhookDelivery
from registry.outbound import post_to_checked_address, resolve_target
from registry.services import compliance as webhooks
from registry.services.compliance import webhook_endpoint_register
from registry.services.withdrawals import withdrawal_fan_out
from registry.services.works import work_remove

HOOK_HOST = "hooks.example.test"


class Resolver:
    """A DNS the test controls: answers what `answers` says, and counts the questions."""

    def __init__(self, *addresses: str) -> None:
        self.answers = list(addresses)
        self.questions: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.questions.append(host)
        return list(self.answers)


@pytest.mark.parametrize(
    ("host", "address", "named"),
    [
        ("metadata.google.internal", "169.254.169.254", "169.254.169.254"),
        ("intranet.example.test", "10.0.0.5", "10.0.0.5"),
        ("router.example.test", "192.168.1.1", "192.168.1.1"),
        ("v6.example.test", "fd00::1", "fd00::1"),
        ("mapped.example.test", "::ffff:172.16.0.9", "172.16.0.9"),
    ],
)
def test_a_name_resolving_to_an_internal_address_is_refused(acme, host, address, named):
    with pytest.raises(ValidationError, match=re.escape(f"resolves to {named}")):
        webhook_endpoint_register(
            organization=acme, url=f"https://{host}/hook", resolver=Resolver(address)
        )


def test_one_internal_address_among_public_ones_is_refused(acme):
    resolver = Resolver("93.184.215.14", "127.0.0.1", "10.1.2.3")
    with pytest.raises(ValidationError, match=re.escape("10.1.2.3")):
        webhook_endpoint_register(organization=acme, url=f"https://{HOOK_HOST}/", resolver=resolver)


def test_a_name_pointed_at_loopback_is_refused_in_production(acme, settings):
    settings.PRODUCTION = True
    with pytest.raises(ValidationError, match="loopback"):
        webhook_endpoint_register(
            organization=acme, url="https://attacker.example.test/", resolver=Resolver("127.0.0.1")
        )


def test_the_api_answers_400_naming_the_address(acme_client, monkeypatch):
    monkeypatch.setattr(webhooks, "system_resolver", Resolver("169.254.169.254"))
    response = acme_client.post(
        "/api/v1/webhooks", {"url": "https://metadata.google.internal/hook"}, format="json"
    )
    assert response.status_code == 400
    assert "webhook URL" in response.json()["detail"]
    assert "169.254.169.254" in response.json()["detail"]


def test_a_public_name_is_accepted(acme):
    endpoint = webhook_endpoint_register(
        organization=acme, url=f"https://{HOOK_HOST}/hook", resolver=Resolver("93.184.215.14")
    )
    assert endpoint.active


# --- Delivery ---------------------------------------------------------------------------------


@pytest.fixture
def delivery_to_name(screened, works, acme, receiver) -> tuple[WebhookDelivery, Resolver]:
    """acme's receiver registered under a name, which resolves (for now) to 127.0.0.1; then a
    withdrawal that acme must be told of."""
    resolver = Resolver("127.0.0.1")
    port = receiver.url.split(":")[2].split("/")[0]
    webhook_endpoint_register(
        organization=acme, url=f"http://{HOOK_HOST}:{port}/hooks/consentry", resolver=resolver
    )
    work_remove(work=works["allowed"])
    withdrawal_fan_out(event_id=ConsentEvent.objects.order_by("-sequence")[0].pk)
    return WebhookDelivery.objects.get(), resolver


def test_delivery_connects_to_the_checked_address_with_the_name_as_host(delivery_to_name, receiver):
    delivery, resolver = delivery_to_name
    resolver.questions.clear()

    # The name resolves nowhere but in the test's resolver: a second lookup would fail.
    outcome = webhooks.webhook_deliver(delivery_id=delivery.pk, resolver=resolver)

    assert outcome.delivered
    assert resolver.questions == [HOOK_HOST]
    (request,) = receiver.requests
    assert request["headers"]["Host"] == f"{HOOK_HOST}:{receiver.url.split(':')[2].split('/')[0]}"


def test_a_name_rebound_to_the_metadata_address_is_refused_at_delivery(delivery_to_name, receiver):
    delivery, resolver = delivery_to_name
    resolver.answers = ["169.254.169.254"]

    outcome = webhooks.webhook_deliver(delivery_id=delivery.pk, resolver=resolver)

    assert not outcome.delivered
    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert "169.254.169.254" in attempt.error and "link-local" in attempt.error


def test_a_name_rebound_to_loopback_is_refused_at_delivery_in_production(
    delivery_to_name, receiver, settings
):
    delivery, resolver = delivery_to_name
    settings.PRODUCTION = True

    outcome = webhooks.webhook_deliver(delivery_id=delivery.pk, resolver=resolver)

    assert not outcome.delivered
    assert receiver.requests == []
    assert "loopback" in WebhookAttempt.objects.get(delivery=delivery).error


@pytest.fixture
def redirecting() -> Iterator[dict[str, Any]]:
    """A receiver that answers 307 towards another one, which records what reaches it."""
    state: dict[str, Any] = {"reached": []}

    class Target(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state["reached"].append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    class Redirect(Target):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", state["target"])
            self.send_header("Content-Length", "0")
            self.end_headers()

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for handler in (Redirect, Target)]
    state["redirect_port"] = servers[0].server_address[1]
    state["target"] = f"http://127.0.0.1:{servers[1].server_address[1]}/internal"
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    for server in servers:
        server.shutdown()
        server.server_close()


def test_redirects_are_not_followed(screened, works, acme, redirecting):
    resolver = Resolver("127.0.0.1")
    url = f"http://{HOOK_HOST}:{redirecting['redirect_port']}/hook"
    webhook_endpoint_register(organization=acme, url=url, resolver=resolver)
    work_remove(work=works["allowed"])
    withdrawal_fan_out(event_id=ConsentEvent.objects.order_by("-sequence")[0].pk)

    outcome = webhooks.webhook_deliver(
        delivery_id=WebhookDelivery.objects.get().pk, resolver=resolver
    )

    assert not outcome.delivered
    assert redirecting["reached"] == []
    assert "redirects are not followed" in WebhookAttempt.objects.get().error


# --- TLS to the checked address ---------------------------------------------------------------


@pytest.fixture
def tls_receiver(tmp_path) -> Iterator[tuple[int, str, trustme.CA]]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names HOOK_HOST only."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOOK_HOST).configure_cert(context)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    yield server.server_address[1], str(bundle), ca
    server.shutdown()
    server.server_close()


def test_tls_is_verified_against_the_name_while_connecting_to_the_address(tls_receiver):
    port, bundle, _ = tls_receiver
    target = resolve_target(
        f"https://{HOOK_HOST}:{port}/hook", resolver=Resolver("127.0.0.1"), allow_loopback=True
    )

    status = post_to_checked_address(target, b"{}", {}, timeouts=(5, 5), ca_certs=bundle)

    assert status == 204


def test_a_certificate_for_another_name_is_refused(tls_receiver):
    port, bundle, _ = tls_receiver
    target = resolve_target(
        f"https://other.example.test:{port}/hook",
        resolver=Resolver("127.0.0.1"),
        allow_loopback=True,
    )

    with pytest.raises(urllib3.exceptions.SSLError):
        post_to_checked_address(target, b"{}", {}, timeouts=(5, 5), ca_certs=bundle)


def test_a_port_out_of_range_is_a_clear_400(acme_client):
    response = acme_client.post(
        "/api/v1/webhooks", {"url": "https://hooks.example.test:99999/hook"}, format="json"
    )
    assert response.status_code == 400
    assert "port" in response.json()["detail"]
