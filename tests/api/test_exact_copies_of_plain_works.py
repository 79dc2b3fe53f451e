"""A plain work (too little line information for perceptual matching) is kept for exact copies
only, as its artist is told at registration: an exact copy of it is decided by the work, on
every wire, while any other copy of it stays too plain to judge."""

import io

import pytest
from PIL import Image

from registry.chunk_wire import HASHES_MEDIA_TYPE, encode_hashes
from registry.fingerprints import FINGERPRINT_VERSION, fingerprint_image
from registry.gatekeeper import ReasonCode
from registry.models import Purpose
from registry.services.works import work_register
from tests.api.conftest import all_decisions
from tests.api.test_upload_tasks import plain_png

CHUNKS = "/api/v1/screenings/{}/chunks"


def _screened(client, items, run_pending, *, binary):
    created = client.post(
        "/api/v1/screenings", {"purpose": "ai_training", "keep_open": True}, format="json"
    )
    assert created.status_code == 202, created.content
    screening_id = created.json()["id"]
    if binary:
        body = encode_hashes(0, FINGERPRINT_VERSION, items)
        sent = client.post(CHUNKS.format(screening_id), body, content_type=HASHES_MEDIA_TYPE)
        assert sent.json()["verification"]["needed"] == [], sent.content
    else:
        sent = client.post(
            CHUNKS.format(screening_id), {"number": 0, "items": items}, format="json"
        )
    assert sent.status_code == 202, sent.content
    assert client.post(f"/api/v1/screenings/{screening_id}/close").status_code == 202
    run_pending()
    return all_decisions(client, screening_id, [[entry["id"] for entry in items]])


def _items() -> list[dict]:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(plain_png())).convert("RGB").save(buffer, format="JPEG", quality=90)
    return [
        {"id": "copy", **fingerprint_image(plain_png()).to_wire()},
        {"id": "re-encoded", **fingerprint_image(buffer.getvalue()).to_wire()},
    ]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "two-phase"])
def test_an_exact_copy_of_a_plain_allowed_work_is_allowed_with_its_credit(
    acme_api, alice, run_pending, binary
):
    registered = work_register(
        artist=alice, data=plain_png(), title="Sky", allow=[Purpose.AI_TRAINING]
    )
    assert registered.notice  # "protected against exact copies only"

    decided = _screened(acme_api, _items(), run_pending, binary=binary)

    assert decided["copy"]["decision"] == "allowed"
    assert [credit["work_id"] for credit in decided["copy"]["credit"]] == [registered.work.pk]
    assert decided["copy"]["matches"][0]["algorithm"] == "sha256"
    assert decided["re-encoded"]["decision"] == "invalid"
    assert decided["re-encoded"]["reason"].startswith(ReasonCode.WEAK_IMAGE)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "two-phase"])
def test_an_exact_copy_of_a_plain_refused_work_is_denied(acme_api, alice, run_pending, binary):
    registered = work_register(artist=alice, data=plain_png(), title="Sky")

    decided = _screened(acme_api, _items()[:1], run_pending, binary=binary)

    assert decided["copy"]["decision"] == "denied"
    assert [match["work_id"] for match in decided["copy"]["matches"]] == [registered.work.pk]
