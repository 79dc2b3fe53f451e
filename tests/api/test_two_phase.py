"""Chunks in two phases on the wire: MessagePack hashes first, then the verification payloads of
only the items the registry finds candidates for. Decided exactly as the same items in JSON."""

import random
import struct
from datetime import timedelta

import msgpack
import pytest
from django.utils import timezone

from registry.chunk_wire import (
    HASHES_MEDIA_TYPE,
    VERIFICATION_MEDIA_TYPE,
    content_digest,
    encode_hashes,
    encode_verification,
)
from registry.fingerprints import FINGERPRINT_VERSION
from registry.matching.rules import DEFAULT_MATCHING
from registry.models import Permission, Purpose, Screening, ScreeningChunk
from registry.services.screenings import stalled_chunk_ids
from registry.services.sites import site_register, site_verify
from registry.services.terms import default_terms_set
from tests.api.conftest import all_decisions, item
from tests.api.test_regions_wire import turned_item

CHUNKS = "/api/v1/screenings/{}/chunks"
VERIFY = "/api/v1/screenings/{}/chunks/{}/verification"
# The weak-image gate's limit: items a hair either side of it must send their payloads.
WEAK_LIMIT = DEFAULT_MATCHING.min_information


def _open_screening(client, purpose="ai_training", mode="consent_required"):
    response = client.post(
        "/api/v1/screenings",
        {"purpose": purpose, "mode": mode, "keep_open": True},
        format="json",
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _hashes(client, screening_id, items, number=0):
    body = encode_hashes(number, FINGERPRINT_VERSION, items)
    return client.post(CHUNKS.format(screening_id), body, content_type=HASHES_MEDIA_TYPE)


def _verify(client, screening_id, items, positions, number=0):
    body = encode_verification(
        content_digest(items), {position: items[position] for position in positions}
    )
    return client.post(
        VERIFY.format(screening_id, number), body, content_type=VERIFICATION_MEDIA_TYPE
    )


def _decided(client, screening_id, items):
    """Every item's decision, listed or counted, for a screening of one chunk of `items`."""
    found = all_decisions(client, screening_id, [[entry["id"] for entry in items]])
    return {
        item_id: (entry["decision"], entry["reason"], entry["matches"], entry["credit"])
        for item_id, entry in found.items()
    }


def _close(client, screening_id):
    assert client.post(f"/api/v1/screenings/{screening_id}/close").status_code == 202


@pytest.fixture
def mixed(alice, works):
    """Copies of registered works (allowed, refused, licensed), strangers, items opted out by
    their signals, weak, malformed and unreadable ones, and two at the weak-image limit."""
    site_verify(site=site_register(artist=alice, url_prefix="https://alice.example/art/"))
    return [
        item("mine", 1),
        item("theirs", 2),
        item("licensed", 3),
        item("stranger", 40),
        item("stranger-2", 41),
        item("noai-header", 42, headers={"X-Robots-Tag": "noai"}),
        item("from-alice-site", 43, url="https://alice.example/art/cat.jpg"),
        item("odd-embedded", 44, embedded={"iptc_data_mining": 42}),
        item("weak", 45, information=1.5),
        item("negative", 46, information=-1.0),
        item("just-strong", 47, information=WEAK_LIMIT + 1e-9),
        item("just-weak", 48, information=WEAK_LIMIT - 1e-9),
        item("copy-bad-descriptor", 1, descriptor="00" * 10),
        item("copy-bad-quality", 2, pdq_quality=101),
        # Found through its upright region's dHash alone (test_regions_wire).
        turned_item("turned-theirs", 2),
        *MALFORMED_STRANGERS,
        {"id": "unreadable", "unreadable": "cannot identify image file"},
    ]


# Strangers (no registered work is a candidate) whose fields phase 1 leaves out are malformed.
MALFORMED_STRANGERS = [
    item("stranger-bad-descriptor", 49, descriptor="00" * 10),
    item("stranger-width-0", 52, width=0),
    item("stranger-bad-quality", 53, pdq_quality=101),
    item("stranger-short-pdq", 54, pdq="00" * 4),
]
MALFORMED_STRANGER_IDS = {entry["id"] for entry in MALFORMED_STRANGERS}


@pytest.mark.parametrize("mode", ["consent_required", "respect_opt_outs"])
def test_two_phase_items_are_decided_exactly_as_json_ones(acme_api, mixed, run_pending, mode):
    one_phase = acme_api.post(
        "/api/v1/screenings",
        {"purpose": "ai_training", "mode": mode, "items": mixed},
        format="json",
    ).json()["id"]
    run_pending()
    two_phase = _open_screening(acme_api, mode=mode)

    first = _hashes(acme_api, two_phase, mixed)
    needed = first.json()["verification"]["needed"]
    second = _verify(acme_api, two_phase, mixed, needed)
    _close(acme_api, two_phase)
    run_pending()

    assert first.status_code == 202 and second.status_code == 202
    asked = {mixed[position]["id"] for position in needed}
    if mode == "respect_opt_outs":
        # `unregistered` passes: phase 1 cannot show the fields it leaves out are well-formed,
        # so every readable item sends its payload, and is decided on its whole fingerprint.
        assert asked == {entry["id"] for entry in mixed} - {"unreadable"}
    else:
        # Only the copies of registered works, and the item whose float32 information cannot
        # say which side of the weak-image limit it is, send their verification payload.
        assert asked == {
            "mine",
            "theirs",
            "licensed",
            "copy-bad-descriptor",
            "copy-bad-quality",
            "turned-theirs",
            "just-strong",
            "just-weak",
        }
    assert second.json()["verification"]["needed"] == []
    expected = _decided(acme_api, one_phase, mixed)
    got = _decided(acme_api, two_phase, mixed)
    assert {key: value[0] for key, value in expected.items()} == {
        "mine": "allowed",
        "theirs": "denied",
        "licensed": "denied",
        "stranger": "unregistered",
        "stranger-2": "unregistered",
        "noai-header": "denied",
        "from-alice-site": "denied",
        "odd-embedded": "denied",
        "weak": "invalid",
        "negative": "invalid",
        "just-strong": "unregistered",
        "just-weak": "invalid",
        "copy-bad-descriptor": "invalid",
        "copy-bad-quality": "invalid",
        "turned-theirs": "denied",
        **{name: "invalid" for name in MALFORMED_STRANGER_IDS},
        "unreadable": "invalid",
    }
    if mode == "consent_required":
        # A client that follows the layout never sends these as hashes (it checks each item
        # with the registry's parser, test_chunk_sender); sent anyway, the registry cannot see
        # the malformed fields and counts them `unregistered`, which does not pass here.
        assert {name: got.pop(name)[0] for name in MALFORMED_STRANGER_IDS} == dict.fromkeys(
            MALFORMED_STRANGER_IDS, "unregistered"
        )
        assert {name: expected.pop(name)[0] for name in MALFORMED_STRANGER_IDS} == dict.fromkeys(
            MALFORMED_STRANGER_IDS, "invalid"
        )
        assert got == expected
        return
    assert got == expected
    receipts = [Screening.objects.get(pk=pk).receipt for pk in (one_phase, two_phase)]
    assert receipts[0] is not None and receipts[1] is not None
    assert receipts[0]["counts"] == receipts[1]["counts"]
    assert receipts[0]["chunks"][0][2] == receipts[1]["chunks"][0][2]  # the same decisions digest


@pytest.mark.parametrize(
    ("mode", "needed", "stranger"),
    [
        ("consent_required", [0], "unregistered"),
        # There `unregistered` passes: the stranger's whole fingerprint is needed too.
        ("respect_opt_outs", [0, 1], "invalid"),
    ],
)
def test_an_item_whose_payload_never_comes_is_invalid_never_allowed(
    acme_api, works, run_pending, mode, needed, stranger
):
    screening_id = _open_screening(acme_api, mode=mode)
    items = [item("mine", 1), item("stranger", 40)]

    answer = _hashes(acme_api, screening_id, items).json()
    _close(acme_api, screening_id)
    run_pending()  # as the stalled-chunk sweep does once the payload is late

    assert answer["verification"]["needed"] == needed
    decided = _decided(acme_api, screening_id, items)
    assert decided["mine"][0] == "invalid"
    assert decided["mine"][1].startswith("verification payload never came: sent as hashes alone")
    assert decided["stranger"][0] == stranger
    assert Screening.objects.get(pk=screening_id).status == "finished"


def test_a_client_cannot_skip_verification_by_sending_payloads_for_other_items(
    acme_api, works, run_pending
):
    screening_id = _open_screening(acme_api)
    items = [item("mine", 1), item("stranger", 40)]

    _hashes(acme_api, screening_id, items)
    answer = _verify(acme_api, screening_id, items, [1])  # says: only the stranger matters

    assert answer.json()["verification"]["needed"] == [0]
    run_pending()
    assert _decided(acme_api, screening_id, items)["mine"][0] == "invalid"


def test_a_chunk_waits_for_its_payloads_before_going_to_the_worker(
    acme_api, works, django_capture_on_commit_callbacks
):
    screening_id = _open_screening(acme_api)
    items = [item("mine", 1), item("stranger", 40)]

    with django_capture_on_commit_callbacks() as after_hashes:
        _hashes(acme_api, screening_id, items)
    with django_capture_on_commit_callbacks() as after_payloads:
        _verify(acme_api, screening_id, items, [0])
    with django_capture_on_commit_callbacks() as unmatched_chunk:
        _hashes(acme_api, screening_id, [item("stranger-2", 41)], number=1)

    assert (len(after_hashes), len(after_payloads), len(unmatched_chunk)) == (0, 1, 1)


def test_a_work_registered_between_the_phases_is_verified_or_fails_closed(
    alice, acme_api, works, register_work, run_pending
):
    default_terms_set(artist=alice, purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED)
    # Consent required: only candidates need their payload (with opt-outs respected, all do).
    screening_id = _open_screening(acme_api)
    items = [item("mine", 1), item("new-a", 50), item("new-b", 51)]

    first = _hashes(acme_api, screening_id, items).json()["verification"]["needed"]
    register_work(alice, seed=50)  # registered after phase 1 answered, before phase 2
    second = _verify(acme_api, screening_id, items, first).json()["verification"]["needed"]
    third = _verify(acme_api, screening_id, items, second).json()["verification"]["needed"]
    register_work(alice, seed=51)  # registered after the chunk went to the worker
    _close(acme_api, screening_id)
    run_pending()

    assert (first, second, third) == ([0], [1], [])
    decided = _decided(acme_api, screening_id, items)
    assert decided["mine"][0] == "allowed" and decided["new-a"][0] == "allowed"
    # Told no payload was needed, then a work it copies was registered: never let through.
    assert decided["new-b"][0] == "invalid"


def test_resending_either_phase_changes_nothing_and_says_what_is_still_needed(
    acme_api, works, run_pending
):
    screening_id = _open_screening(acme_api)
    items = [item("mine", 1), item("stranger", 40), item("theirs", 2)]

    first = _hashes(acme_api, screening_id, items)
    again = _hashes(acme_api, screening_id, items)
    partial = _verify(acme_api, screening_id, items, [0])
    resumed = _hashes(acme_api, screening_id, items)  # a client restarted mid-chunk
    done = _verify(acme_api, screening_id, items, [2])
    repeated = _verify(acme_api, screening_id, items, [0, 2])
    _close(acme_api, screening_id)
    run_pending()
    late = _verify(acme_api, screening_id, items, [0, 2])

    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["verification"]["needed"] == [0, 2]
    assert again.json()["verification"]["needed"] == [0, 2]
    assert partial.status_code == 202 and partial.json()["verification"]["needed"] == [2]
    assert resumed.status_code == 200 and resumed.json()["verification"]["needed"] == [2]
    assert done.json()["verification"]["needed"] == []
    assert repeated.status_code == 200 and late.status_code == 200
    assert again.json()["progress"]["total"] == 3
    assert {key: value[0] for key, value in _decided(acme_api, screening_id, items).items()} == {
        "mine": "allowed",
        "stranger": "unregistered",
        "theirs": "denied",
    }


def test_a_chunk_number_resent_with_other_items_is_a_conflict(acme_api, works):
    screening_id = _open_screening(acme_api)
    _hashes(acme_api, screening_id, [item("a", 40)])

    response = _hashes(acme_api, screening_id, [item("a", 40), item("b", 41)])

    assert response.status_code == 409


def test_another_organization_cannot_send_either_phase(acme_api, globex_api, works, client):
    screening_id = _open_screening(acme_api)
    items = [item("mine", 1)]
    _hashes(acme_api, screening_id, items)

    assert _hashes(globex_api, screening_id, items, number=1).status_code == 404
    assert _verify(globex_api, screening_id, items, [0]).status_code == 404
    assert _hashes(client, screening_id, items, number=1).status_code == 401
    assert _verify(client, screening_id, items, [0]).status_code == 401
    assert Screening.objects.get(pk=screening_id).total_items == 1
    assert _verify(acme_api, screening_id, items, [0]).status_code == 202


def test_a_json_item_cannot_pose_as_one_awaiting_verification(acme_api, works):
    sent = {**item("mine", 1), "awaiting_verification": True}

    response = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "items": [sent]}, format="json"
    )

    assert response.status_code == 400
    assert "awaiting_verification" in response.json()["detail"]


def _body(**fields):
    base = {
        "layout": 3,
        "number": 0,
        "version": FINGERPRINT_VERSION,
        "ids": ["a", "b"],
        "hashes": bytes(96),
        "information": bytes(4),
    }
    return msgpack.packb({**base, **fields}, use_bin_type=True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x93\x01", "not one MessagePack value"),
        (b"\xc1", "not one MessagePack value"),
        (msgpack.packb([1, 2]), "must be a MessagePack map"),
        (_body(ids="ab"), "'ids' must be an array"),
        (_body(ids=[]), "at least one item"),
        (_body(ids=["a", 7]), "id 1 must be a string"),
        (_body(ids=["a", "a"]), "appears twice"),
        (_body(ids=["a", ""]), "needs an 'id'"),
        (_body(hashes="00" * 96), "'hashes' must be binary"),
        (_body(hashes=bytes(95)), "'hashes' holds 95 bytes; 2 items need 96"),
        (_body(information=bytes(9)), "'information' holds 9 bytes; 2 items need 4"),
        (_body(region_counts=b"\x01\x00"), "no 'region_phashes'"),
        (_body(region_counts=b"\x01", region_phashes=bytes(8)), "'region_counts' holds 1 bytes"),
        (_body(region_counts=b"\x09\x00", region_phashes=bytes(72)), "at most 8"),
        (_body(region_counts=b"\x01\x01", region_phashes=bytes(8)), "2 regions need 16"),
        (_body(region_counts=b"\x21\x00", region_phashes=bytes(8)), "names region 1 of position 0"),
        (_body(region_counts=b"\x11\x00", region_phashes=bytes(8)), "1 upright regions need 8"),
        (
            _body(region_counts=b"\x11\x00", region_phashes=bytes(8), upright_dhashes="00" * 8),
            "'upright_dhashes' must be binary",
        ),
        (_body(upright_dhashes=bytes(8)), "no 'region_counts'"),
        (_body(regions={0: bytes(24)}), "layout 3 does not have"),
        (_body(layout=None), "no 'layout'"),
        (_body(number="0"), "'number' must be an integer"),
        (_body(number=-1), "number"),
        (_body(number=2**31), "number"),
        (_body(version=True), "'version' must be an integer"),
        (_body(extra={5: {"url": "https://x.example/"}}), "position 5, outside 0 to 1"),
        (_body(extra={0: {"phash": "00"}}), "it may hold url"),
        (_body(extra={0: {"url": b"https://x.example/"}}), "nothing binary"),
        (_body(extra={0: {"unreadable": 3}}), "'unreadable' of position 0 must be a string"),
        (_body(extra={0: {"url": "a\x00b"}}), "NUL"),
    ],
)
def test_a_bad_hashes_body_gets_a_clear_400(acme_api, body, message):
    screening_id = _open_screening(acme_api)

    response = acme_api.post(CHUNKS.format(screening_id), body, content_type=HASHES_MEDIA_TYPE)

    assert response.status_code == 400, response.content
    assert message in str(response.json())
    assert Screening.objects.get(pk=screening_id).total_items == 0


def _layout_1(**fields):
    """A hashes body as a client of layout 1 encoded it."""
    body = {
        "number": 0,
        "version": FINGERPRINT_VERSION,
        "ids": ["a", "b"],
        "hashes": bytes(96),
        "information": struct.pack(">2f", 9.0, 9.0),
        **fields,
    }
    return msgpack.packb(body, use_bin_type=True)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (_layout_1(), "follows layout 1"),
        (_layout_1(regions={0: bytes(24)}), "follows layout 1"),
        (_body(layout=2), "follows layout 2 (no upright region"),
        (_body(layout=4), "names layout '4'"),
        (_body(layout=True), "names layout 'True'"),
    ],
)
def test_a_hashes_body_of_another_layout_is_refused_never_misread(acme_api, body, named):
    """An older client's body (layout 1: 4-byte information, regions with boxes and dHashes;
    layout 2: no upright region) is never read as this layout: 415, which registry.client
    answers by sending JSON, and a message saying what to do."""
    screening_id = _open_screening(acme_api)

    response = acme_api.post(CHUNKS.format(screening_id), body, content_type=HASHES_MEDIA_TYPE)

    assert response.status_code == 415, response.content
    detail = response.json()["detail"]
    assert named in detail and "reads layout 3 only" in detail
    assert "Update the Consentry client" in detail and "send the chunk as JSON" in detail
    assert Screening.objects.get(pk=screening_id).total_items == 0


def _rows(*rows, digest=None):
    named = content_digest([item("mine", 1)]) if digest is None else digest
    return msgpack.packb({"digest": bytes.fromhex(named), "items": list(rows)}, use_bin_type=True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x81\xa5items", "not one MessagePack value"),
        (msgpack.packb({"rows": []}), "no 'digest'"),
        (msgpack.packb({"digest": bytes(32), "rows": []}, use_bin_type=True), "no 'items'"),
        (msgpack.packb({"digest": bytes(31), "items": []}, use_bin_type=True), "holds 31 bytes"),
        (_rows(), "at least one item"),
        (_rows([0, 9.0, 1, 1, bytes(32)]), "must be an array of 7 values"),
        (_rows([0, 9.0, 1, 1, "00" * 32, 50, bytes(963)]), "pdq must be binary"),
        (_rows([0, "9", 1, 1, bytes(32), 50, bytes(963)]), "information must be a number"),
        (_rows([True, 9.0, 1, 1, bytes(32), 50, bytes(963)]), "position must be an integer"),
        (_rows([7, 9.0, 1, 1, bytes(32), 50, bytes(963)]), "position 7 is outside chunk 0"),
        (
            _rows([0, 9.0, 1, 1, bytes(32), 50, bytes(963)], [0, 9.0, 1, 1, bytes(32), 50, b""]),
            "position 0 appears twice",
        ),
    ],
)
def test_a_bad_verification_body_gets_a_clear_400(acme_api, works, body, message):
    screening_id = _open_screening(acme_api)
    _hashes(acme_api, screening_id, [item("mine", 1)])

    response = acme_api.post(
        VERIFY.format(screening_id, 0), body, content_type=VERIFICATION_MEDIA_TYPE
    )

    assert response.status_code == 400, response.content
    assert message in str(response.json())


def test_payloads_for_a_chunk_never_sent_are_a_conflict(acme_api, works):
    screening_id = _open_screening(acme_api)

    response = _verify(acme_api, screening_id, [item("mine", 1)], [0], number=3)

    assert response.status_code == 409 and "send its hashes first" in response.json()["detail"]


def test_too_many_items_or_bytes_answer_413(acme_api, settings):
    settings.CONSENTRY_MAX_ITEMS_PER_REQUEST = 2
    screening_id = _open_screening(acme_api)
    items = [item(f"i{n}", 40) for n in range(3)]

    too_many = _hashes(acme_api, screening_id, items)
    settings.CONSENTRY_MAX_REQUEST_BYTES = 100
    too_big = _hashes(acme_api, screening_id, items[:2])

    assert too_many.status_code == 413 and "more than the 2" in too_many.json()["detail"]
    assert too_big.status_code == 413


def test_truncated_or_corrupted_bodies_never_answer_a_server_error(acme_api, works):
    screening_id = _open_screening(acme_api)
    items = [item("mine", 1), item("stranger", 40, url="https://x.example/a.jpg")]
    hashes = encode_hashes(0, FINGERPRINT_VERSION, items)
    payloads = encode_verification(content_digest(items), {0: items[0]})
    rng = random.Random(18)
    bodies = [hashes[:cut] for cut in range(0, len(hashes), 7)]
    for _ in range(60):
        corrupted = bytearray(hashes)
        for _ in range(3):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        bodies.append(bytes(corrupted))

    statuses = {
        acme_api.post(CHUNKS.format(screening_id), body, content_type=HASHES_MEDIA_TYPE).status_code
        for body in bodies
    }
    statuses |= {
        acme_api.post(
            VERIFY.format(screening_id, 0), payloads[:cut], content_type=VERIFICATION_MEDIA_TYPE
        ).status_code
        for cut in range(0, len(payloads), 97)
    }

    # 415: a corrupted `layout` names another layout.
    assert statuses <= {200, 202, 400, 409, 413, 415}


def test_the_schema_documents_both_bodies(acme_api, client, db):
    schema = client.get("/api/v1/schema", {"format": "json"}).json()
    chunks = schema["paths"]["/api/v1/screenings/{screening_id}/chunks"]["post"]
    verification = schema["paths"][
        "/api/v1/screenings/{screening_id}/chunks/{number}/verification"
    ]["post"]

    assert chunks["requestBody"]["content"][HASHES_MEDIA_TYPE]["schema"]["format"] == "binary"
    assert "48 bytes an item" in chunks["description"]
    content = verification["requestBody"]["content"]
    assert content[VERIFICATION_MEDIA_TYPE]["schema"]["format"] == "binary"
    assert "descriptor (bin, 963 bytes)" in verification["description"]


def test_a_chunk_whose_payloads_are_late_is_picked_up_by_the_stalled_chunk_sweep(acme_api, works):
    screening_id = _open_screening(acme_api)
    _hashes(acme_api, screening_id, [item("mine", 1)])
    chunk = ScreeningChunk.objects.get(screening_id=screening_id)

    waiting = stalled_chunk_ids(older_than=timedelta(minutes=2))
    ScreeningChunk.objects.filter(pk=chunk.pk).update(
        received_at=timezone.now() - timedelta(minutes=3)
    )

    assert chunk.pk not in waiting
    assert chunk.pk in stalled_chunk_ids(older_than=timedelta(minutes=2))


def test_a_resumed_chunk_with_other_items_cannot_borrow_its_verification(
    acme_api, works, run_pending
):
    # Phase 1 of a refused work's copy; then a "resumed" client whose inputs changed sends
    # other items under the same number and count, and the payload of one of them.
    screening_id = _open_screening(acme_api, mode="respect_opt_outs")
    sent = [item("theirs-copy", 2), item("stranger", 40)]
    other = [item("other-a", 41), item("other-b", 42)]

    first = _hashes(acme_api, screening_id, sent)
    resent = _hashes(acme_api, screening_id, other)
    spliced = _verify(acme_api, screening_id, other, [0])
    as_json = acme_api.post(
        CHUNKS.format(screening_id), {"number": 0, "items": other}, format="json"
    )
    honest = _verify(acme_api, screening_id, sent, first.json()["verification"]["needed"])
    _close(acme_api, screening_id)
    run_pending()

    assert first.status_code == 202
    assert resent.status_code == 409 and "other items" in resent.json()["detail"]
    assert as_json.status_code == 409 and "other items" in as_json.json()["detail"]
    assert spliced.status_code == 409 and "content digest" in spliced.json()["detail"]
    assert honest.status_code == 202
    decided = _decided(acme_api, screening_id, sent)
    assert decided["theirs-copy"][0] == "denied" and decided["stranger"][0] == "unregistered"
    assert Screening.objects.get(pk=screening_id).total_items == 2


def test_a_json_chunk_resent_with_other_items_of_the_same_count_is_a_conflict(acme_api, works):
    screening_id = _open_screening(acme_api)
    post = acme_api.post
    first = post(
        CHUNKS.format(screening_id), {"number": 0, "items": [item("a", 40)]}, format="json"
    )
    same = post(CHUNKS.format(screening_id), {"number": 0, "items": [item("a", 40)]}, format="json")
    other = post(
        CHUNKS.format(screening_id), {"number": 0, "items": [item("a", 41)]}, format="json"
    )

    assert (first.status_code, same.status_code, other.status_code) == (202, 200, 409)


def test_payloads_must_name_their_chunks_content(acme_api, works):
    screening_id = _open_screening(acme_api)
    items = [item("mine", 1)]
    _hashes(acme_api, screening_id, items)

    body = msgpack.packb({"items": [[0, 9.0, 1, 1, bytes(32), 50, bytes(963)]]}, use_bin_type=True)
    unnamed = acme_api.post(
        VERIFY.format(screening_id, 0), body, content_type=VERIFICATION_MEDIA_TYPE
    )

    assert unnamed.status_code == 400 and "no 'digest'" in unnamed.json()["detail"]


def _age(screening_id, seconds):
    ScreeningChunk.objects.filter(screening_id=screening_id).update(
        received_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_a_chunk_awaiting_its_payloads_waits_longer_than_a_stalled_one(acme_api, works):
    waiting_id, plain_id = _open_screening(acme_api), _open_screening(acme_api)
    _hashes(acme_api, waiting_id, [item("mine", 1)])  # a candidate: waits for phase 2
    acme_api.post(CHUNKS.format(plain_id), {"number": 0, "items": [item("a", 40)]}, format="json")
    _age(waiting_id, 600)
    _age(plain_id, 600)
    waiting = ScreeningChunk.objects.get(screening_id=waiting_id).pk
    plain = ScreeningChunk.objects.get(screening_id=plain_id).pk

    within = stalled_chunk_ids(
        older_than=timedelta(minutes=2), awaiting_older_than=timedelta(hours=1)
    )
    _age(waiting_id, 3700)
    after = stalled_chunk_ids(
        older_than=timedelta(minutes=2), awaiting_older_than=timedelta(hours=1)
    )

    assert plain in within and waiting not in within
    assert waiting in after


def test_the_sweep_waits_for_payloads_as_long_as_the_setting_says(acme_api, works, settings):
    from registry.tasks import requeue_stalled_chunks

    settings.CONSENTRY_VERIFICATION_WAIT_SECONDS = 3600
    screening_id = _open_screening(acme_api)
    _hashes(acme_api, screening_id, [item("mine", 1)])
    _age(screening_id, 600)  # an interrupted client, restarted ten minutes later

    assert requeue_stalled_chunks() == 0
    settings.CONSENTRY_VERIFICATION_WAIT_SECONDS = 300
    assert requeue_stalled_chunks() == 1


def test_payloads_that_come_after_the_chunk_was_decided_without_them_are_told_expired(
    acme_api, works, run_pending
):
    screening_id = _open_screening(acme_api)
    items = [item("stranger", 40), item("mine", 1), item("theirs", 2)]
    first = _hashes(acme_api, screening_id, items)
    run_pending()  # the sweep, once the wait is over, decides the chunk without its payloads

    late = _verify(acme_api, screening_id, items, first.json()["verification"]["needed"])
    resumed = _hashes(acme_api, screening_id, items)

    assert first.json()["verification"] == {**first.json()["verification"], "expired": []}
    for answer in (late, resumed):
        assert answer.status_code == 200
        assert answer.json()["verification"]["needed"] == []
        assert answer.json()["verification"]["expired"] == [1, 2]


def test_a_chunk_decided_after_its_payloads_came_has_nothing_expired(acme_api, works, run_pending):
    screening_id = _open_screening(acme_api)
    items = [item("mine", 1)]
    _hashes(acme_api, screening_id, items)
    _verify(acme_api, screening_id, items, [0])
    run_pending()

    again = _verify(acme_api, screening_id, items, [0])

    assert again.status_code == 200 and again.json()["verification"]["expired"] == []


def test_a_resent_chunk_is_answered_without_searching_the_index_again(acme_api, works, monkeypatch):
    from registry.selectors import decisions

    screening_id = _open_screening(acme_api)
    items = [item("mine", 1), item("stranger", 40)]
    first = _hashes(acme_api, screening_id, items)
    searches = []
    search = decisions.has_candidates

    def counted(queries):
        searches.append(len(queries))
        return search(queries)

    monkeypatch.setattr(decisions, "has_candidates", counted)
    again = _hashes(acme_api, screening_id, items)
    _close(acme_api, screening_id)
    closed = _hashes(acme_api, screening_id, [item("late", 41)], number=1)

    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["verification"]["needed"] == first.json()["verification"]["needed"]
    assert closed.status_code == 409
    assert searches == []  # neither the resent chunk nor the closed screening's searched


def test_payloads_are_kept_as_bytes_beside_the_items_and_dropped_once_decided(
    acme_api, works, run_pending
):
    """Phase 2 does not write the chunk's items again: their JSON stays as phase 1 stored it
    and the payloads go beside it in binary (their descriptors half the size of hex); both
    are dropped once the chunk is decided, and decisions are those of the JSON path."""
    screening_id = _open_screening(acme_api)
    items = [item("mine", 1), item("stranger", 40), item("theirs", 2)]

    _hashes(acme_api, screening_id, items)
    stored = ScreeningChunk.objects.get(screening_id=screening_id)
    _verify(acme_api, screening_id, items, [0])
    partial = ScreeningChunk.objects.get(pk=stored.pk)
    _verify(acme_api, screening_id, items, [2])
    complete = ScreeningChunk.objects.get(pk=stored.pk)
    _close(acme_api, screening_id)
    run_pending()
    decided = ScreeningChunk.objects.get(pk=stored.pk)

    assert partial.payload == complete.payload == stored.payload
    assert bytes(stored.verification) == b""
    assert 0 < len(bytes(partial.verification)) < len(bytes(complete.verification))
    hex_payloads = sum(
        len(items[p]["descriptor"])
        + len(items[p]["pdq"])
        + sum(len(region["descriptor"]) for region in items[p].get("regions", []))
        for p in (0, 2)
    )
    assert len(bytes(complete.verification)) < 0.6 * hex_payloads
    assert (decided.payload, bytes(decided.verification)) == ("", b"")
    assert {key: value[0] for key, value in _decided(acme_api, screening_id, items).items()} == {
        "mine": "allowed",
        "stranger": "unregistered",
        "theirs": "denied",
    }


def test_the_worker_does_not_parse_again_an_item_phase_1_found_without_candidate(
    acme_api, works, run_pending, monkeypatch
):
    """Found well-formed, not weak and without a candidate at the registry's current version,
    a stranger is decided `unregistered` without its hashes being read again; the items that
    phase 1 found a candidate for, or weak, are parsed and decided as always."""
    from registry.selectors import decisions

    screening_id = _open_screening(acme_api)
    items = [item("mine", 1), item("stranger", 40), item("weak", 45, information=1.5)]
    _hashes(acme_api, screening_id, items)
    _verify(acme_api, screening_id, items, [0])
    parsed: list[str] = []
    original = decisions._parse

    def counted(raw, query=None):
        parsed.append(raw["id"])
        return original(raw, query)

    monkeypatch.setattr(decisions, "_parse", counted)
    _close(acme_api, screening_id)
    run_pending()

    assert sorted(parsed) == ["mine", "weak"]
    assert {key: value[0] for key, value in _decided(acme_api, screening_id, items).items()} == {
        "mine": "allowed",
        "stranger": "unregistered",
        "weak": "invalid",
    }


def test_phase_one_refuses_an_index_that_filters_by_the_regions_missing_dhash(monkeypatch):
    """Fail closed: phase 1 carries no region dHash, so an index whose pHash search is filtered
    by the dHash too (joint limits) would drop a region's true candidates, and the item would be
    decided unregistered without being verified. Such an index is refused outright."""
    from typing import cast

    from registry.chunk_wire import HashedQuery
    from registry.matching.matcher import CandidateIndex, JointLimits
    from registry.selectors.matching import RegistryIndex, has_candidates

    index = RegistryIndex(DEFAULT_MATCHING)
    index._index = CandidateIndex(DEFAULT_MATCHING, JointLimits((16,), (16,)))
    monkeypatch.setattr(index, "sync", lambda: None)
    with pytest.raises(RuntimeError, match="joint limits"):
        has_candidates([cast(HashedQuery, None)], index=index)
