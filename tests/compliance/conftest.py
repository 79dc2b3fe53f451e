"""A known fixture for the compliance exports and withdrawals: acme screens five items against
alice's and bob's works; a receiver on 127.0.0.1 records the webhooks it is sent."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from registry.models import Purpose, Screening
from registry.services.grants import grant_create
from tests.api.conftest import api_client, globex, item  # noqa: F401 - fixtures
from tests.api.conftest import run_pending as run_pending


@pytest.fixture
def works(works, alice, acme):
    """The shared works, with alice's licensed work 3 granted to acme."""
    grant = grant_create(
        artist=alice, organization=acme, purposes=[Purpose.AI_TRAINING], works=[works["licensed"]]
    )
    return {**works, "grant": grant}


SENT = [
    ("mine", 1),
    ("theirs", 2),
    ("licensed", 3),
    ("stranger", 40),
]


def screen(client, items, *, mode="consent_required", purpose="ai_training") -> Screening:
    response = client.post(
        "/api/v1/screenings", {"purpose": purpose, "mode": mode, "items": items}, format="json"
    )
    assert response.status_code == 202, response.content
    return Screening.objects.get(pk=response.json()["id"])


@pytest.fixture
def acme_client(acme):
    return api_client(acme)


@pytest.fixture
def screened(works, acme_client, run_pending) -> Screening:
    """acme's finished screening: mine, licensed allowed; theirs denied; stranger
    unregistered; broken invalid."""
    items = [item(item_id, seed) for item_id, seed in SENT]
    items.append(item("broken", 5, phash="zz"))  # every field, one malformed
    screening = screen(acme_client, items)
    run_pending()
    screening.refresh_from_db()
    assert screening.status == "finished"
    return screening


@dataclass
class Receiver:
    """What a local webhook receiver was sent, and the answers it gives in turn."""

    url: str
    answers: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"headers": dict(self.headers), "body": body})
            code = state.answers.pop(0) if state.answers else 200
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/consentry"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
