"""End to end: the client, the API on a live server, the broker, a worker process, PostgreSQL."""

import json
import random

import msgpack
import pytest
import requests
from django.core.management import call_command

from registry.client.cli import main as client_main
from registry.demo_art import artwork
from registry.models import Permission, Purpose, Screening, ScreeningChunk, ScreeningItem
from registry.optout import write_data_mining
from registry.services.organizations import api_key_create, organization_create
from registry.services.screenings import screening_add_chunk, screening_close, screening_create
from registry.services.terms import terms_set
from registry.tasks import requeue_stalled_chunks
from tests.conftest import _SEED_BASE
from tests.e2e.conftest import wait_for
from tests.factories import ArtistFactory

PROHIBITED = "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"


def _save(path, seed, scale=1.0, quality=80):
    image = artwork(_SEED_BASE + seed)
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    image.save(path, format="JPEG", quality=quality)


@pytest.fixture
def folder(tmp_path, register_work):
    """alice's allowed work 1 and refused work 2 as re-posts, a stranger, a broken file, and
    an img2dataset shard with its sidecar."""
    alice = ArtistFactory.create(
        user__username="alice", display_name="Alice Liu", verified_with="e2e: staff saw her ID"
    )
    allowed, refused = register_work(alice, seed=1), register_work(alice, seed=2)
    terms_set(
        artist=alice,
        works=[allowed],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
    )
    images = tmp_path / "scraped"
    (images / "00000").mkdir(parents=True)
    _save(images / "repost.jpg", 1, scale=0.6, quality=70)
    _save(images / "refused.jpg", 2, scale=0.8)
    _save(images / "stranger.jpg", 77)
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    _save(images / "reserved.jpg", 78)
    reserved = (images / "reserved.jpg").read_bytes()
    (images / "reserved.jpg").write_bytes(write_data_mining(reserved, PROHIBITED))
    _save(images / "00000" / "000000001.jpg", 1, scale=0.5)
    (images / "00000" / "000000001.json").write_text(
        json.dumps({"key": "000000001", "url": "https://example.org/cat.jpg", "status": "success"})
    )
    return {"path": images, "allowed": allowed, "refused": refused}


@pytest.fixture
def screen_command(folder, live_server, tmp_path):
    """The client's command line for the folder, as Acme AI, in chunks of two."""
    _, key = api_key_create(organization=organization_create(name="Acme AI"))
    out = tmp_path / "results.jsonl"
    arguments = ["screen", str(folder["path"]), "--api", live_server.url, "--key", key,
                 "--purpose", "ai_training", "--out", str(out), "--chunk-size", "2",
                 "--quiet", "--wait", "120"]  # fmt: skip
    return arguments, out


def test_a_folder_is_screened_end_to_end_through_the_client(
    folder, worker, live_server, screen_command
):
    arguments, out = screen_command

    code = client_main(arguments)

    assert code == 0
    results = {line["id"]: line for line in map(json.loads, out.read_text().splitlines())}
    by_name = {line["path"].rsplit("/", 1)[-1]: line for line in results.values()}
    assert {name: line["decision"] for name, line in by_name.items()} == {
        "repost.jpg": "allowed",
        "refused.jpg": "denied",
        "stranger.jpg": "unregistered",
        "broken.jpg": "invalid",
        "000000001.jpg": "allowed",
        "reserved.jpg": "denied",  # unregistered, but its XMP reserves AI training
    }
    assert "plus:DataMining" in by_name["reserved.jpg"]["reason"]
    assert "000000001" in results  # img2dataset's key is the item's id
    assert by_name["repost.jpg"]["credit"][0]["license"] == "CC-BY-4.0"
    assert by_name["repost.jpg"]["matches"][0]["work_id"] == folder["allowed"].pk
    manifest = [json.loads(line) for line in out.with_name("results.manifest.jsonl").open()]
    assert sorted(entry["id"].rsplit("/", 1)[-1] for entry in manifest) == [
        "000000001",
        "repost.jpg",
    ]
    assert {entry["url"] for entry in manifest} == {None, "https://example.org/cat.jpg"}
    (screening,) = Screening.objects.all()
    assert screening.status == "finished" and screening.chunks.count() == 3

    receipt = out.with_name("results.receipt.json")
    key_url = f"{live_server.url}/api/v1/receipts/key"
    assert client_main(["verify-receipt", str(receipt), "--key-url", key_url]) == 0
    # Every results line, the unreadable file's too, matches the decisions the receipt binds.
    assert (
        client_main(["verify-receipt", str(receipt), "--key-url", key_url, "--results", str(out)])
        == 0
    )
    tampered = json.loads(receipt.read_text())
    tampered["document"]["counts"]["allowed"] += 1
    receipt.write_text(json.dumps(tampered))
    assert client_main(["verify-receipt", str(receipt), "--key-url", key_url]) == 1


def test_an_interrupted_client_run_resumes_without_resending_chunks(
    worker, screen_command, monkeypatch, capsys
):
    arguments, out = screen_command
    chunk_posts = []
    dropped: list[int] = []
    real_request = requests.Session.request

    def request(session, method, url, *args, **kwargs):
        if url.endswith("/chunks"):
            number = _chunk_number(kwargs)
            chunk_posts.append(number)
            # The network drops while the second chunk is sent (the third may be in flight
            # beside it: the client keeps two chunks going, so this request's own number
            # decides, not the last one appended).
            if number == 1 and not dropped:
                dropped.append(1)
                raise requests.ConnectionError("connection reset")
        return real_request(session, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)

    assert client_main([*arguments, "--retry-for", "0"]) == 1  # no retrying: the run stops
    chunk_posts.clear()
    capsys.readouterr()
    assert client_main(arguments) == 0

    # Chunk 0 was not sent again; chunk 1 failed, and chunk 2 (sent or not beside it) was not
    # recorded, so both go again.
    assert sorted(chunk_posts) == [1, 2]
    assert "1 of 3 chunks were sent already" in capsys.readouterr().err
    screening = Screening.objects.get()
    assert screening.status == "finished"
    assert _decided_once(screening) == 6
    assert len(out.read_text().splitlines()) == 6


def _chunk_number(request_options) -> int:
    """The number of the chunk a request sends, as JSON or as the binary hashes body."""
    body, media = request_options["data"], request_options["headers"]["Content-Type"]
    return (
        msgpack.unpackb(body, strict_map_key=False) if "msgpack" in media else json.loads(body)
    )["number"]


def _decided_once(screening) -> int:
    """Items decided, each exactly once: a row per listed item at a distinct position, plus
    the items each chunk counted without a row."""
    items = ScreeningItem.objects.filter(screening=screening)
    assert items.values("chunk", "position").distinct().count() == items.count()
    unlisted = sum(
        chunk.unregistered_items + chunk.invalid_items
        for chunk in ScreeningChunk.objects.filter(screening=screening)
    )
    return items.count() + unlisted


def _synthetic_items(count, start):
    rng = random.Random(start)
    return [
        {
            "id": f"item-{start + n}",
            "version": 1,
            "sha256": f"{rng.getrandbits(256):064x}",
            "width": 512,
            "height": 512,
            "information": 50.0,
            "phash": f"{rng.getrandbits(64):016x}",
            "dhash": f"{rng.getrandbits(64):016x}",
            "pdq": f"{rng.getrandbits(256):064x}",
            "pdq_quality": 100,
            "descriptor": "",
        }
        for n in range(count)
    ]


def test_a_worker_killed_mid_screening_still_finishes_with_one_result_per_item(worker, settings):
    organization = organization_create(name="Acme AI")
    chunks, size = 12, 1500
    screening = screening_create(organization=organization, purpose="ai_training", keep_open=True)
    for number in range(chunks):
        screening_add_chunk(
            screening=screening, number=number, items=_synthetic_items(size, number * size)
        )
    screening_close(screening=screening)
    decided = ScreeningChunk.objects.filter(screening=screening, decided_at__isnull=False)
    wait_for(lambda: decided.count() >= 1, message="the first chunk to be decided")

    worker.kill()
    assert decided.count() < chunks, "the worker finished before it could be killed"
    worker.start()
    # A message the killed worker had taken but not acknowledged goes back to a Redis queue only
    # after the broker's visibility timeout (an hour); beat's stalled-chunk sweep is what re-sends
    # its chunk sooner in production, so it runs here too (deciding twice changes nothing).
    settings.CONSENTRY_STALLED_CHUNK_SECONDS = 0
    requeue_stalled_chunks.apply()

    wait_for(
        lambda: Screening.objects.get(pk=screening.pk).status == "finished",
        timeout=180,
        message="the screening to finish",
    )
    screening.refresh_from_db()
    assert _decided_once(screening) == chunks * size == screening.done_items
    assert screening.total_items == chunks * size
    assert sum(screening.counts.values()) == chunks * size
    assert screening.receipt is not None and screening.receipt["items"] == chunks * size


def test_laundered_consent_is_denied_through_the_client_until_staff_verify(
    worker, live_server, register_work, tmp_path
):
    """Assurance: an unverified account registers someone's picture and allows it; the AI team's
    client run gets `denied` (consent_unverified), and `allowed` once staff verified her."""
    mallory = ArtistFactory.create(user__username="mallory", display_name="Mallory")
    work = register_work(mallory, seed=1, allow=["ai_training"], license="CC-BY-4.0")
    images = tmp_path / "scraped"
    images.mkdir()
    _save(images / "copy.jpg", 1, scale=0.6, quality=70)
    _, key = api_key_create(organization=organization_create(name="Acme AI"))

    def decided(out_name):
        out = tmp_path / out_name
        arguments = ["screen", str(images), "--api", live_server.url, "--key", key,
                     "--purpose", "ai_training", "--out", str(out), "--quiet",
                     "--wait", "120"]  # fmt: skip
        assert client_main(arguments) == 0
        (line,) = map(json.loads, out.read_text().splitlines())
        return line

    before = decided("before.jsonl")
    assert before["decision"] == "denied"
    assert f"work {work.pk}: consent_unverified" in before["reason"]

    call_command("verify_artist", "mallory", "--method", "operator", "--evidence", "ID seen")

    after = decided("after.jsonl")
    assert after["decision"] == "allowed"
    assert after["credit"][0]["assurance"] == "operator_verified"
