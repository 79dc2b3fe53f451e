"""Uploads handled by Celery tasks: the request stores the files and
answers at once; no web worker decodes an image. An artist's file has a status URL of its own;
a screened file is fingerprinted when the worker decides its chunk."""

import base64
import io
from datetime import timedelta

import numpy as np
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from registry.demo_art import artwork_bytes
from registry.matching.rules import MatchingConfig
from registry.models import Dispute, Fingerprint, PendingUpload, ScreeningChunk, Work
from registry.selectors import matching
from registry.selectors.matching import RegistryIndex
from registry.services import pending_uploads
from registry.services.pending_uploads import CLAIM_EXPIRY, pending_upload_register
from registry.services.screening_uploads import UPLOAD_FIELD
from registry.tasks import register_pending_upload, requeue_stalled_uploads
from tests.api.conftest import all_decisions
from tests.conftest import _SEED_BASE

pytestmark = pytest.mark.django_db

WORKS = "/api/v1/artist/works"


@pytest.fixture(autouse=True)
def _fresh_budgets():
    cache.clear()
    yield
    cache.clear()


def _art(name: str, seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, artwork_bytes(seed), "image/jpeg")


def _reposted(seed: int) -> bytes:
    """Artwork `seed` as a re-poster shares it: smaller and re-encoded (not its exact bytes)."""
    with Image.open(io.BytesIO(artwork_bytes(_SEED_BASE + seed))) as original:
        image = original.resize((original.width * 3 // 5, original.height * 3 // 5))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def plain_png() -> bytes:
    """A smooth colour gradient: no line or edge for the weak-image gate to see."""
    ramp = np.linspace(40, 220, 400, dtype=np.float64)
    pixels = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 128.0), axis=-1)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here until monkeypatch.undo(), fingerprinting or decoding an image fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an image was decoded in the request")

    monkeypatch.setattr("registry.services.works.fingerprint_work", refuse)
    monkeypatch.setattr("registry.services.screening_uploads.fingerprint_image", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)


def test_the_api_answers_202_before_any_image_is_decoded(
    alice, alice_api, monkeypatch, run_uploads
):
    image = _art("dawn.jpg", 501)
    forbid_decoding(monkeypatch)
    response = alice_api.post(WORKS, {"images": [image]}, format="multipart")

    assert response.status_code == 202
    (accepted,) = response.json()
    assert accepted["status"] == "processing" and accepted["work_id"] is None
    assert accepted["url"].endswith(f"/api/v1/artist/uploads/{accepted['id']}")
    assert alice_api.get(accepted["url"]).json()["status"] == "processing"
    assert not Work.objects.exists()

    monkeypatch.undo()  # the worker decodes
    run_uploads()
    done = alice_api.get(accepted["url"]).json()
    assert done["status"] == "registered" and done["problem"] == "" and done["error"] is None
    assert Work.objects.get(pk=done["work_id"]).artist == alice
    assert Work.objects.get(pk=done["work_id"]).title == "dawn"


def test_an_upload_status_is_its_artists_only(alice, bob, alice_api, bob_api, client):
    response = alice_api.post(WORKS, {"images": [_art("mine.jpg", 502)]}, format="multipart")
    (accepted,) = response.json()
    url = f"/api/v1/artist/uploads/{accepted['id']}"

    assert alice_api.get(url).status_code == 200
    assert bob_api.get(url).status_code == 404
    assert bob_api.get("/api/v1/artist/uploads/999999").status_code == 404
    assert client.get(url).status_code == 401


def test_a_resemblance_to_another_artists_work_is_reported_with_its_dispute(
    alice, bob, bob_api, register_work, run_uploads
):
    register_work(alice, seed=503, title="Original")
    copy = SimpleUploadedFile("copy.jpg", artwork_bytes(_SEED_BASE + 503), "image/jpeg")
    response = bob_api.post(WORKS, {"images": [copy]}, format="multipart")
    (accepted,) = response.json()
    run_uploads()
    done = bob_api.get(accepted["url"]).json()
    assert done["status"] == "registered"
    assert done["disputes"] == list(Dispute.objects.values_list("pk", flat=True))
    assert len(done["disputes"]) == 1


def test_registering_is_idempotent_and_drops_the_bytes(alice, alice_api):
    alice_api.post(WORKS, {"images": [_art("once.jpg", 504)]}, format="multipart")
    upload = PendingUpload.objects.get()
    assert len(bytes(upload.data)) > 1000

    assert register_pending_upload.apply(args=[upload.pk]).get() is True
    # A duplicate message (redelivery, the sweep) finds the file finished and does nothing.
    assert register_pending_upload.apply(args=[upload.pk]).get() is False
    upload.refresh_from_db()
    assert upload.status == "registered" and bytes(upload.data) == b""
    assert upload.finished_at is not None
    assert Work.objects.filter(artist=alice).count() == 1


def test_a_file_claimed_by_a_live_task_is_left_alone_and_a_dead_ones_is_taken(alice, alice_api):
    alice_api.post(WORKS, {"images": [_art("claimed.jpg", 505)]}, format="multipart")
    upload = PendingUpload.objects.get()
    PendingUpload.objects.filter(pk=upload.pk).update(claimed_at=timezone.now())
    assert pending_upload_register(upload_id=upload.pk) is False
    assert not Work.objects.exists()

    dead = timezone.now() - CLAIM_EXPIRY - timedelta(seconds=1)
    PendingUpload.objects.filter(pk=upload.pk).update(claimed_at=dead)
    assert pending_upload_register(upload_id=upload.pk) is True
    assert Work.objects.filter(artist=alice).count() == 1


def test_the_task_has_time_limits_and_a_slow_file_is_refused_saying_so(
    alice, alice_api, monkeypatch, run_uploads
):
    assert register_pending_upload.soft_time_limit == pending_uploads.SOFT_TIME_LIMIT
    assert register_pending_upload.time_limit == pending_uploads.TIME_LIMIT
    assert pending_uploads.SOFT_TIME_LIMIT < pending_uploads.TIME_LIMIT

    def slow(data):
        raise SoftTimeLimitExceeded

    monkeypatch.setattr("registry.services.works.fingerprint_work", slow)
    response = alice_api.post(WORKS, {"images": [_art("slow.jpg", 506)]}, format="multipart")
    run_uploads()
    done = alice_api.get(response.json()[0]["url"]).json()
    assert done["status"] == "refused" and done["problem"] == "too_slow"
    assert "took too long" in done["error"]
    assert not Work.objects.exists()


def test_an_error_on_our_side_refuses_the_file_and_keeps_the_others(
    alice, alice_api, monkeypatch, run_uploads
):
    real = pending_uploads.work_register

    def failing_once(**kwargs):
        if kwargs["title"] == "bad":
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(pending_uploads, "work_register", failing_once)
    files = [_art("bad.jpg", 507), _art("good.jpg", 508)]
    response = alice_api.post(WORKS, {"images": files}, format="multipart")
    run_uploads()
    bad, good = (alice_api.get(entry["url"]).json() for entry in response.json())
    assert bad["status"] == "refused" and bad["problem"] == "internal"
    assert "error on our side" in bad["error"] and "disk full" not in bad["error"]
    assert good["status"] == "registered"


def test_the_task_is_sent_once_the_upload_is_committed(
    alice, alice_api, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr(register_pending_upload, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        alice_api.post(WORKS, {"images": [_art("later.jpg", 509)]}, format="multipart")
        assert sent == []  # nothing is sent before the files are committed
    for callback in callbacks:
        callback()
    assert sent == [PendingUpload.objects.get().pk]


def test_a_file_whose_message_was_lost_is_sent_again_by_the_sweep(alice, alice_api, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(register_pending_upload, "delay", sent.append)
    alice_api.post(WORKS, {"images": [_art("lost.jpg", 510)]}, format="multipart")
    upload = PendingUpload.objects.get()
    assert requeue_stalled_uploads() == 0  # not stalled yet
    PendingUpload.objects.filter(pk=upload.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    assert requeue_stalled_uploads() == 1
    assert sent == [upload.pk]


def test_an_empty_or_oversized_file_is_refused_at_once_and_never_stored(
    alice, alice_api, monkeypatch
):
    monkeypatch.setattr(pending_uploads, "MAX_IMAGE_BYTES", 1000)
    files = [
        SimpleUploadedFile("empty.png", b"", "image/png"),
        _art("big.jpg", 511),
    ]
    response = alice_api.post(WORKS, {"images": files}, format="multipart")
    empty, big = response.json()
    assert (empty["status"], empty["problem"]) == ("refused", "empty")
    assert (big["status"], big["problem"]) == ("refused", "too_large")
    assert all(bytes(upload.data) == b"" for upload in PendingUpload.objects.all())


def _decisions(api, screening_id: str, chunks: list[list[str]]) -> dict[str, dict]:
    """Every item's decision: listed rows, and the counted rest by chunk and position."""
    return all_decisions(api, screening_id, chunks)


def test_an_image_screening_answers_before_any_image_is_decoded(
    alice, acme_api, register_work, monkeypatch, run_pending
):
    register_work(alice, seed=520)  # consent first: not allowed for training
    files = [
        SimpleUploadedFile("theirs.jpg", artwork_bytes(_SEED_BASE + 520), "image/jpeg"),
        SimpleUploadedFile("broken.jpg", b"\xff\xd8\xff not really", "image/jpeg"),
    ]
    forbid_decoding(monkeypatch)
    response = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "images": files}, format="multipart"
    )
    assert response.status_code == 202, response.content
    assert response.json()["progress"] == {"done": 0, "total": 2}

    monkeypatch.undo()  # the worker decodes when it decides the chunk
    run_pending()
    decided = _decisions(acme_api, response.json()["id"], [["theirs.jpg", "broken.jpg"]])
    assert decided["theirs.jpg"]["decision"] == "denied"
    assert decided["broken.jpg"]["decision"] == "invalid"
    assert "could not be read" in decided["broken.jpg"]["reason"]
    # The chunk keeps the decisions, not the files' bytes.
    assert all(chunk.payload == "" for chunk in ScreeningChunk.objects.all())


def test_an_image_chunk_of_an_open_screening_is_fingerprinted_by_the_worker(
    acme_api, monkeypatch, run_pending
):
    created = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "keep_open": True}, format="json"
    ).json()
    image = SimpleUploadedFile("new.jpg", artwork_bytes(_SEED_BASE + 521), "image/jpeg")
    forbid_decoding(monkeypatch)
    chunk = acme_api.post(
        f"/api/v1/screenings/{created['id']}/chunks",
        {"number": 1, "images": [image]},
        format="multipart",
    )
    assert chunk.status_code == 202, chunk.content
    monkeypatch.undo()
    run_pending()
    decided = _decisions(acme_api, created["id"], [[], ["new.jpg"]])
    assert decided["new.jpg"]["decision"] == "unregistered"


def test_a_clients_item_may_not_carry_an_uploaded_files_bytes(acme_api):
    """Else a client could make the worker decode an image past the upload bounds."""
    item = {"id": "sneaky", UPLOAD_FIELD: base64.b64encode(artwork_bytes(522)).decode()}
    response = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "items": [item]}, format="json"
    )
    assert response.status_code == 400
    assert UPLOAD_FIELD in str(response.json())
    assert not ScreeningChunk.objects.exists()


def test_a_screened_file_that_breaks_the_reader_is_invalid_and_the_chunk_decided(
    acme_api, monkeypatch, run_pending
):
    def broken_reader(data: bytes) -> None:
        raise RuntimeError("a reader bug")

    monkeypatch.setattr("registry.services.screening_uploads.embedded_to_wire", broken_reader)
    image = SimpleUploadedFile("odd.jpg", artwork_bytes(_SEED_BASE + 523), "image/jpeg")
    response = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "images": [image]}, format="multipart"
    )
    assert run_pending() == 1
    (decided,) = _decisions(acme_api, response.json()["id"], [["odd.jpg"]]).values()
    assert decided["decision"] == "invalid" and "error on our side" in decided["reason"]


def test_an_artist_lists_their_uploads_by_batch_and_never_anothers(
    alice, bob, alice_api, bob_api, run_uploads
):
    first = alice_api.post(WORKS, {"images": [_art("a.jpg", 530)]}, format="multipart").json()
    second = alice_api.post(
        WORKS, {"images": [_art("b.jpg", 531), _art("c.jpg", 532)]}, format="multipart"
    ).json()
    bob_api.post(WORKS, {"images": [_art("bob.jpg", 533)]}, format="multipart")
    run_uploads()

    listed = alice_api.get("/api/v1/artist/uploads").json()["results"]
    assert sorted(entry["file"] for entry in listed) == ["a.jpg", "b.jpg", "c.jpg"]
    batch = second[0]["batch"]
    assert second[1]["batch"] == batch != first[0]["batch"]
    in_batch = alice_api.get(f"/api/v1/artist/uploads?batch={batch}").json()["results"]
    assert sorted(entry["file"] for entry in in_batch) == ["b.jpg", "c.jpg"]
    assert {entry["status"] for entry in in_batch} == {"registered"}
    # bob's list holds only his file, even when he names alice's batch.
    assert [e["file"] for e in bob_api.get("/api/v1/artist/uploads").json()["results"]] == [
        "bob.jpg"
    ]
    assert bob_api.get(f"/api/v1/artist/uploads?batch={batch}").json()["results"] == []
    refused = alice_api.get("/api/v1/artist/uploads?batch=nope")
    assert refused.status_code == 400 and "batch" in refused.json()


def test_a_work_too_plain_to_recognise_is_registered_and_its_upload_says_exact_copies_only(
    alice, alice_api, run_uploads
):
    plain = SimpleUploadedFile("sky.png", plain_png(), "image/png")
    posted = alice_api.post(
        WORKS, {"images": [plain, _art("dawn.jpg", 540)]}, format="multipart"
    ).json()
    assert [entry["notice"] for entry in posted] == [None, None]  # not registered yet
    run_uploads()

    sky, dawn = (alice_api.get(entry["url"]).json() for entry in posted)
    assert sky["status"] == dawn["status"] == "registered"
    assert "exact copies only" in sky["notice"]
    assert dawn["notice"] is None
    # What the notice says: the plain work has no perceptual fingerprints, the other has.
    assert not Fingerprint.objects.filter(work_id=sky["work_id"]).exists()
    assert Fingerprint.objects.filter(work_id=dawn["work_id"]).exists()
    listed = alice_api.get(f"/api/v1/artist/uploads?batch={sky['batch']}").json()["results"]
    assert {entry["file"]: entry["notice"] for entry in listed} == {
        "sky.png": sky["notice"],
        "dawn.jpg": None,
    }
    in_chinese = alice_api.get(posted[0]["url"], HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    assert "完全相同的副本" in in_chinese["notice"]


def test_a_copy_the_registry_could_not_check_in_its_budget_is_held_saying_why(
    alice, bob, mallory, alice_api, bob_api, client, register_work, run_uploads, monkeypatch
):
    """mallory's works, registered before alice's, are compared first and exhaust the
    budget: bob's upload of alice's picture is registered held, and his upload's status and
    work say why, in his language. Only he sees it; nothing in his API clears it."""
    for seed in (520, 521):
        register_work(mallory, seed=seed)
    register_work(alice, seed=522, title="Original")
    config = MatchingConfig(
        phash_radius=64, dhash_radius=-1, max_verifications=20, registration_max_verifications=20
    )
    monkeypatch.setattr(matching, "_shared_index", RegistryIndex(config))
    copy = SimpleUploadedFile("copy.jpg", _reposted(522), "image/jpeg")

    (accepted,) = bob_api.post(
        WORKS, {"images": [copy], "allow": ["ai_training"]}, format="multipart"
    ).json()
    run_uploads()

    done = bob_api.get(accepted["url"]).json()
    assert done["status"] == "registered" and done["problem"] == "" and done["error"] is None
    assert "could not be checked against all other artists' works" in done["notice"]
    assert "an operator will review it" in done["notice"]
    work_url = f"{WORKS}/{done['work_id']}"
    work = bob_api.get(work_url).json()
    assert work["hold"] == "unchecked" and work["held_because"] == done["notice"]
    listed = bob_api.get(WORKS).json()["results"]
    assert [entry["hold"] for entry in listed] == ["unchecked"]
    in_chinese = bob_api.get(accepted["url"], HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    assert "未能与其他艺术家的全部作品核对" in in_chinese["notice"]
    assert (
        "运营人员将进行审核"
        in bob_api.get(work_url, HTTP_ACCEPT_LANGUAGE="zh-CN").json()["held_because"]
    )
    # alice sees neither bob's work nor its hold; alice's own work is not held. Its public
    # credit record is not published while its terms are not in force.
    assert alice_api.get(work_url).status_code == 404
    assert client.get(f"/api/v1/credits/{done['work_id']}").status_code == 404
    assert [entry["hold"] for entry in alice_api.get(WORKS).json()["results"]] == [""]
    # No artist call clears a hold: the work's URL takes no write, and terms change nothing.
    for method in (bob_api.post, bob_api.put, bob_api.patch, bob_api.delete):
        assert method(work_url, {"hold": ""}, format="json").status_code == 405
    changed = bob_api.post(
        "/api/v1/artist/terms",
        {"work_ids": [done["work_id"]], "purpose": "ai_training", "permission": "allowed"},
        format="json",
    )
    assert changed.status_code == 200
    assert Work.objects.get(pk=done["work_id"]).hold == "unchecked"


def test_an_image_uploaded_twice_is_refused_naming_the_work_in_the_readers_language(
    alice, alice_api, run_uploads
):
    first = alice_api.post(WORKS, {"images": [_art("a.jpg", 560)]}, format="multipart").json()
    run_uploads()
    work_id = alice_api.get(first[0]["url"]).json()["work_id"]
    (again,) = alice_api.post(WORKS, {"images": [_art("b.jpg", 560)]}, format="multipart").json()
    run_uploads()

    refused = alice_api.get(again["url"]).json()
    assert (refused["status"], refused["problem"]) == ("refused", "already_registered")
    assert refused["error"] == (
        f"“b.jpg” was not registered: this image is registered already as work {work_id}."
    )
    in_chinese = alice_api.get(again["url"], HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    assert in_chinese["error"].startswith("“b.jpg”未能登记")
    assert f"此图像已登记为作品 {work_id}" in in_chinese["error"]
