"""The client's HTTP side: a registry answering 5xx is retried visibly, and for a bounded time."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from registry.client.api import Registry, RegistryUnreachable


class _Flaky(BaseHTTPRequestHandler):
    """503 for the first `failures` requests, then a JSON answer."""

    failures = 0
    seen = 0

    def do_GET(self) -> None:
        type(self).seen += 1
        ok = type(self).seen > type(self).failures
        body = b'{"ok": true}' if ok else b"<html>503 Service Unavailable</html>"
        self.send_response(200 if ok else 503)
        self.send_header("Content-Type", "application/json" if ok else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Handler", (_Flaky,), {"failures": 0, "seen": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_a_registry_answering_503_is_retried_and_each_retry_is_said(flaky):
    url, handler = flaky
    handler.failures = 2
    said: list[str] = []

    answer = Registry(url, "key", retry_for=30, say=said.append).get("matching")

    assert answer == {"ok": True}
    assert len(said) == 2
    assert all(f"{url}/api/v1/matching answered 503; retrying in" in line for line in said)


def test_the_retries_stop_after_the_window_with_one_clear_error(flaky):
    url, handler = flaky
    handler.failures = 1000
    said: list[str] = []

    with pytest.raises(RegistryUnreachable, match="answered 503; gave up after 2 s"):
        Registry(url, "key", retry_for=2, say=said.append).get("matching")
    assert said, "the retries were silent"
