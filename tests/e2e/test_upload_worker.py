"""End to end: an artist's upload through the live API, the broker and a real worker process
(a Celery task): answered 202 at once, registered by the worker, read at the status URL."""

import pytest
import requests

from registry.demo_art import artwork_bytes
from registry.models import Work
from registry.services.tokens import artist_token_create
from tests.conftest import _SEED_BASE
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_upload_is_registered_by_the_worker_and_read_at_its_status_url(
    alice, bob, worker, live_server
):
    _token, secret = artist_token_create(artist=alice)
    _token, bob_secret = artist_token_create(artist=bob)
    files = [
        ("images", ("harbour.jpg", artwork_bytes(_SEED_BASE + 540), "image/jpeg")),
        ("images", ("torn.jpg", artwork_bytes(_SEED_BASE + 541)[:2000], "image/jpeg")),
    ]
    response = requests.post(
        f"{live_server.url}/api/v1/artist/works",
        files=files,
        headers={"Authorization": f"Token {secret}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    urls = {entry["file"]: entry["url"] for entry in response.json()}

    def status(name: str, token: str = secret) -> requests.Response:
        return requests.get(urls[name], headers={"Authorization": f"Token {token}"}, timeout=30)

    wait_for(
        lambda: all(status(name).json()["status"] != "processing" for name in urls),
        message="the worker to register both files",
    )
    harbour, torn = status("harbour.jpg").json(), status("torn.jpg").json()
    assert harbour["status"] == "registered"
    assert Work.objects.get(pk=harbour["work_id"]).title == "harbour"
    assert torn["status"] == "refused" and "could not be read" in torn["error"]
    assert status("harbour.jpg", bob_secret).status_code == 404
