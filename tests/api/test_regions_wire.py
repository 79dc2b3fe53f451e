"""Matching version 3 on every wire: a query's regions (a registered picture inside a
screenshot) are searched and verified whether its chunk comes as JSON or in two phases, and an
item over its verification budget is `invalid`, never allowed."""

import hashlib
import io
import json
from typing import Any

import msgpack
import pytest
from PIL import Image, ImageDraw

from registry.chunk_wire import (
    HASHES_MEDIA_TYPE,
    REGION_FIELDS,
    VERIFICATION_MEDIA_TYPE,
    WireFormatError,
    complete_item,
    content_digest,
    decode_hashes,
    decode_verification,
    encode_hashes,
    encode_verification,
    hashed_query,
    pack_payloads,
    unpack,
    unpack_payloads,
)
from registry.client.chunks import hashes_version
from registry.demo_art import artwork, artwork_bytes
from registry.fingerprints import (
    FINGERPRINT_VERSION,
    FingerprintFormatError,
    ImageFingerprint,
    fingerprint_image,
)
from registry.fingerprints.hashing import to_unsigned64
from registry.gatekeeper import ReasonCode
from registry.matching import rules
from registry.matching.rules import MatchingConfig
from registry.models import Permission, Purpose
from registry.selectors import matching
from registry.selectors.matching import RegistryIndex
from registry.services.terms import terms_set
from registry.services.works import work_register
from tests.api.conftest import (
    all_decisions,
    image_bytes,
    item,
    post_with_thumbnail_bytes,
    screenshot_bytes,
    screenshot_item,
)
from tests.conftest import _SEED_BASE
from tests.fingerprints.test_rectify import only_upright_dhash

CHUNKS = "/api/v1/screenings/{}/chunks"
VERIFY = "/api/v1/screenings/{}/chunks/{}/verification"


def _screening(client, items=None):
    data = {"purpose": "ai_training", "keep_open": True}
    response = client.post("/api/v1/screenings", data, format="json")
    assert response.status_code == 202, response.content
    screening_id = response.json()["id"]
    if items is not None:
        chunk = {"number": 0, "items": items}
        answer = client.post(CHUNKS.format(screening_id), chunk, format="json")
        assert answer.status_code == 202, answer.content
    return screening_id


def _hashes(client, screening_id, items):
    body = encode_hashes(0, FINGERPRINT_VERSION, items)
    return client.post(CHUNKS.format(screening_id), body, content_type=HASHES_MEDIA_TYPE)


def _verify(client, screening_id, items, positions):
    payloads = {position: items[position] for position in positions}
    body = encode_verification(content_digest(items), payloads)
    return client.post(VERIFY.format(screening_id, 0), body, content_type=VERIFICATION_MEDIA_TYPE)


def _decided(client, screening_id, items, run_pending):
    assert client.post(f"/api/v1/screenings/{screening_id}/close").status_code == 202
    run_pending()
    return all_decisions(client, screening_id, [[entry["id"] for entry in items]])


def _without_regions(entry):
    return {key: value for key, value in entry.items() if key != "regions"}


def test_a_screenshot_of_a_registered_work_is_matched_through_its_region_as_json(
    acme_api, works, run_pending
):
    shot = screenshot_item("shot", 1)
    assert shot["regions"]
    items = [shot, {**_without_regions(shot), "id": "shot-whole-only"}]

    decided = _decided(acme_api, _screening(acme_api, items), items, run_pending)

    # The region finds the allowed work, but the app frame around it is content nobody
    # consented to: in consent_required the screenshot does not pass, the work is named.
    assert decided["shot"]["decision"] == "unregistered"
    assert ReasonCode.INSIDE_LARGER_PICTURE in decided["shot"]["reason"]
    assert [match["work_id"] for match in decided["shot"]["matches"]] == [works["allowed"].pk]
    # Recorded as found through the region that holds the post's picture, with its box.
    (match,) = decided["shot"]["matches"]
    assert match["algorithm"] == "region+phash+verify"
    assert match["region"] in [region["box"] for region in shot["regions"]]
    assert match["region"] != [0, 0, 1000, 1000]
    # The whole frame alone does not match: the region is what finds the work.
    assert decided["shot-whole-only"]["decision"] == "unregistered"
    assert decided["shot-whole-only"]["matches"] == []


def test_a_screenshot_of_a_registered_work_is_matched_through_both_phases(
    acme_api, works, run_pending
):
    """Phase 1 carries the regions' hashes, so the registry finds the work as a candidate and
    asks for the payload; phase 2 brings the regions' descriptors that verify it."""
    items = [item("stranger", 40), screenshot_item("shot", 1), screenshot_item("refused", 2)]
    screening_id = _screening(acme_api)

    first = _hashes(acme_api, screening_id, items)
    assert first.status_code == 202, first.content
    needed = first.json()["verification"]["needed"]
    assert needed == [1, 2]
    second = _verify(acme_api, screening_id, items, needed)
    assert second.status_code == 202, second.content
    decided = _decided(acme_api, screening_id, items, run_pending)

    assert decided["shot"]["decision"] == "unregistered"
    assert ReasonCode.INSIDE_LARGER_PICTURE in decided["shot"]["reason"]
    assert [match["work_id"] for match in decided["shot"]["matches"]] == [works["allowed"].pk]
    assert decided["refused"]["decision"] == "denied"
    assert decided["stranger"]["decision"] == "unregistered"


def _check(client, items, mode):
    body = {"purpose": "ai_training", "mode": mode, "items": items}
    response = client.post("/api/v1/check", body, format="json")
    assert response.status_code == 200, response.content
    return {entry["id"]: entry for entry in response.json()["items"]}


def test_an_allowed_work_inside_a_larger_picture_does_not_let_the_rest_through(
    acme_api, works, run_pending
):
    """A post showing alice's allowed work, with a small thumbnail of bob's refused work under
    it: the thumbnail is too small to be searched, so only alice's work is found. Her consent
    covers her work, not the rest of the picture."""
    post = {"id": "post", **fingerprint_image(post_with_thumbnail_bytes(1, 2)).to_wire()}
    items = [post]

    as_json = _decided(acme_api, _screening(acme_api, items), items, run_pending)["post"]
    screening_id = _screening(acme_api)
    needed = _hashes(acme_api, screening_id, items).json()["verification"]["needed"]
    assert _verify(acme_api, screening_id, items, needed).status_code == 202
    two_phases = _decided(acme_api, screening_id, items, run_pending)["post"]
    checked = _check(acme_api, items, "consent_required")["post"]

    for decided in (as_json, two_phases, checked):
        assert decided["decision"] == "unregistered"
        assert ReasonCode.INSIDE_LARGER_PICTURE in decided["reason"]
        assert [match["work_id"] for match in decided["matches"]] == [works["allowed"].pk]
    assert checked["passes"] is False


def test_respecting_opt_outs_an_allowed_work_inside_a_larger_picture_passes_credited(
    acme_api, works
):
    """It passes as unregistered content does there, credited, without being called consent:
    the artist consented to the work, not to the rest of the picture."""
    post = {"id": "post", **fingerprint_image(post_with_thumbnail_bytes(1, 2)).to_wire()}

    checked = _check(acme_api, [post], "respect_opt_outs")["post"]

    assert checked["decision"] == "unregistered"
    assert checked["passes"] is True
    assert [credit["work_id"] for credit in checked["credit"]] == [works["allowed"].pk]


@pytest.mark.parametrize("mode", ["consent_required", "respect_opt_outs"])
def test_a_refused_works_thumbnail_beside_an_allowed_post_denies_it(acme_api, works, mode):
    """The same post with bob's refused work as a thumbnail of about 4% of the frame: big
    enough to be a region of its own, so his refusal is found and stands."""
    post = {"id": "post", **fingerprint_image(post_with_thumbnail_bytes(1, 2, 0.3)).to_wire()}

    decided = _check(acme_api, [post], mode)["post"]

    assert decided["decision"] == "denied" and decided["passes"] is False
    assert works["refused"].pk in [match["work_id"] for match in decided["matches"]]


@pytest.mark.parametrize("mode", ["consent_required", "respect_opt_outs"])
def test_a_refused_work_inside_a_larger_picture_denies_it(acme_api, works, mode):
    decided = _check(acme_api, [screenshot_item("refused", 2)], mode)["refused"]

    assert decided["decision"] == "denied"
    assert [match["work_id"] for match in decided["matches"]] == [works["refused"].pk]


def test_a_payload_without_the_regions_its_hashes_carried_is_refused(acme_api, works):
    items = [screenshot_item("shot", 1)]
    screening_id = _screening(acme_api)
    assert _hashes(acme_api, screening_id, items).json()["verification"]["needed"] == [0]

    bare = encode_verification(content_digest(items), {0: _without_regions(items[0])})
    answer = acme_api.post(
        VERIFY.format(screening_id, 0), bare, content_type=VERIFICATION_MEDIA_TYPE
    )

    assert answer.status_code == 400
    assert f"carried {len(items[0]['regions'])} regions" in answer.json()["detail"]
    assert _verify(acme_api, screening_id, items, [0]).status_code == 202  # the whole one is


def test_regions_bind_the_chunks_content(acme_api, works):
    """Hashes sent again with other regions are other content: refused, never spliced."""
    items = [screenshot_item("shot", 1)]
    screening_id = _screening(acme_api)
    assert _hashes(acme_api, screening_id, items).status_code == 202

    moved = [{**items[0], "regions": items[0]["regions"][:1]}]
    again = _hashes(acme_api, screening_id, moved)

    assert again.status_code == 409
    assert content_digest(moved) != content_digest(items)


def test_malformed_regions_in_phase_1_are_refused_naming_the_field(acme_api):
    items = [item("stranger", 40)]
    body = msgpack.unpackb(encode_hashes(0, FINGERPRINT_VERSION, items))
    body["region_counts"], body["region_phashes"] = b"\x01", b"\x00" * 7

    answer = acme_api.post(
        CHUNKS.format(_screening(acme_api)),
        msgpack.packb(body, use_bin_type=True),
        content_type=HASHES_MEDIA_TYPE,
    )

    assert answer.status_code == 400
    assert "'region_phashes' holds 7 bytes; 1 regions need 8" in answer.json()["detail"]


@pytest.fixture
def shared_twice(alice, bob):
    """One picture registered by two artists, both allowing AI training: two candidate
    works for each of its copies."""
    data = artwork_bytes(_SEED_BASE + 7)
    for artist in (alice, bob):
        work = work_register(artist=artist, data=data, title="Shared").work
        terms_set(
            artist=artist, works=[work], purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED
        )


@pytest.mark.parametrize("wire", ["json", "two_phase"])
def test_an_item_over_its_verification_budget_is_invalid_never_allowed(
    acme_api, shared_twice, run_pending, monkeypatch, wire
):
    items = [item("copy", 7)]

    def screen(budget):
        index = RegistryIndex(MatchingConfig(max_verifications=budget))
        monkeypatch.setattr(matching, "_shared_index", index)
        if wire == "json":
            screening_id = _screening(acme_api, items)
        else:
            screening_id = _screening(acme_api)
            assert _hashes(acme_api, screening_id, items).json()["verification"]["needed"] == [0]
            assert _verify(acme_api, screening_id, items, [0]).status_code == 202
        return _decided(acme_api, screening_id, items, run_pending)["copy"]

    tight, roomy = screen(1), screen(8)

    assert (tight["decision"], tight["reason"]) == ("invalid", ReasonCode.OVER_BUDGET)
    # Within the budget both works are verified and the item is decided on them.
    assert roomy["decision"] != "invalid" and len(roomy["matches"]) == 2


@pytest.mark.parametrize("path", ["json", "two_phase", "check"])
@pytest.mark.parametrize("shown", ["copy", "screenshot"])
def test_an_item_over_its_budget_is_invalid_whatever_path_found_its_candidates(
    acme_api, shared_twice, run_pending, monkeypatch, path, shown
):
    """Candidates found by the whole picture or by a region of it (a screenshot of the
    post), screened as JSON, in two phases or by the synchronous check: over the budget the
    item is `invalid`, never decided on what was verified."""
    entry = item("it", 7) if shown == "copy" else screenshot_item("it", 7)
    items = [entry]

    def screen(budget):
        monkeypatch.setattr(
            matching, "_shared_index", RegistryIndex(MatchingConfig(max_verifications=budget))
        )
        if path == "check":
            return _check(acme_api, items, "respect_opt_outs")["it"]
        if path == "json":
            screening_id = _screening(acme_api, items)
        else:
            screening_id = _screening(acme_api)
            assert _hashes(acme_api, screening_id, items).json()["verification"]["needed"] == [0]
            assert _verify(acme_api, screening_id, items, [0]).status_code == 202
        return _decided(acme_api, screening_id, items, run_pending)["it"]

    tight, roomy = screen(1), screen(64)

    assert (tight["decision"], tight["reason"]) == ("invalid", ReasonCode.OVER_BUDGET)
    assert tight.get("passes", False) is False
    assert roomy["decision"] != "invalid" and len(roomy["matches"]) == 2


def test_no_path_compares_an_item_more_often_than_its_budget(works, monkeypatch):
    """Every descriptor comparison made for an item counts against its budget, including
    those that look for a whole-picture match of a work first found in a part of it: a
    pathological item cannot cost more than MatchingConfig.max_verifications."""
    calls = []
    original = rules.verify

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(rules, "verify", counted)
    monkeypatch.setattr(matching, "verify", counted, raising=False)
    shot = fingerprint_image(screenshot_bytes(1))
    for budget in (1, 2, 3, 64):
        index = RegistryIndex(MatchingConfig(max_verifications=budget))
        calls.clear()
        (found,) = matching.match_items([shot], index=index)
        assert len(calls) <= budget, (budget, len(calls))
        if not found.over_budget:  # the post's picture is found, inside the screenshot
            assert [match.work_id for match in found.matches] == [works["allowed"].pk]
            assert found.matches[0].region is not None


def test_regions_cross_both_phases_exactly_and_an_item_without_keeps_its_digest():
    items = [screenshot_item("shot", 1), item("stranger", 40)]
    decoded = decode_hashes(unpack(encode_hashes(0, FINGERPRINT_VERSION, items)), max_items=9).items
    digest, payloads = decode_verification(
        unpack(encode_verification(content_digest(items), dict(enumerate(items)))), max_items=9
    )

    assert [len(entry.get("regions", [])) for entry in decoded] == [len(items[0]["regions"]), 0]
    assert len(items[0]["regions"]) >= 2  # the untrimmed frame and the post's picture at least
    # Phase 1 carries a region's pHash alone; its box and dHash come in phase 2.
    assert decoded[0]["regions"] == [{"phash": region["phash"]} for region in items[0]["regions"]]
    # The untrimmed frame carries its PDQ across phase 2 too (and the others none).
    assert [("pdq" in region) for region in items[0]["regions"]][:2] == [True, False]
    assert digest == content_digest(decoded) == content_digest(items)
    for entry, payload, sent in zip(decoded, payloads.values(), items, strict=True):
        complete_item(entry, payload)
        assert ImageFingerprint.from_wire(entry) == ImageFingerprint.from_wire(sent)
    # The digest an item without regions had before regions existed.
    stranger = items[1]
    rows = [["stranger", False, stranger["sha256"], stranger["phash"], stranger["dhash"]]]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    assert content_digest([stranger]) == hashlib.sha256(text.encode()).hexdigest()


def test_phase_1_reads_the_binary_arrays_as_the_parser_reads_the_items():
    """What phase 1 builds straight from the binary arrays is what parsing the stored item
    gives (`from_wire_hashes`, the regions' pHashes); an item the parser would refuse is left
    to it."""
    items = [
        screenshot_item("shot", 1),
        item("stranger", 40),
        item("weak", 45, information=1.5),
        item("negative", 46, information=-1.0),
    ]
    decoded = decode_hashes(unpack(encode_hashes(0, FINGERPRINT_VERSION, items)), max_items=9)

    for entry, query in zip(decoded.items[:3], decoded.queries[:3], strict=True):
        assert query == hashed_query(entry)
    assert len(hashed_query(decoded.items[0]).region_phashes) == len(items[0]["regions"])
    assert decoded.queries[3] is None
    with pytest.raises(FingerprintFormatError, match="must not be negative"):
        hashed_query(decoded.items[3])
    other = decode_hashes(unpack(encode_hashes(0, FINGERPRINT_VERSION - 1, items)), max_items=9)
    assert other.queries == [None] * 4


def test_payloads_kept_between_the_phases_keep_the_regions_pdqs():
    items = [screenshot_item("shot", 1), item("stranger", 40)]
    _, payloads = decode_verification(
        unpack(encode_verification(content_digest(items), dict(enumerate(items)))), max_items=9
    )
    assert "pdq" in payloads[0][REGION_FIELDS][0]
    assert unpack_payloads(pack_payloads(payloads)) == payloads


def test_payloads_kept_before_layout_2_complete_their_items():
    """Payloads a registry of layout 1 kept (the regions' descriptors and PDQs apart; their
    boxes and dHashes came in phase 1) complete their items as they did."""
    shot = screenshot_item("shot", 1)
    stored = {k: v for k, v in shot.items() if k != "regions"}
    stored["regions"] = [
        {key: region[key] for key in ("box", "phash", "dhash")} for region in shot["regions"]
    ]
    row = [
        shot["information"],
        shot["width"],
        shot["height"],
        bytes.fromhex(shot["pdq"]),
        shot["pdq_quality"],
        bytes.fromhex(shot["descriptor"]),
        [bytes.fromhex(region["descriptor"]) for region in shot["regions"]],
        [
            [bytes.fromhex(region["pdq"]), region["pdq_quality"]] if "pdq" in region else None
            for region in shot["regions"]
        ],
    ]

    (payload,) = unpack_payloads(msgpack.packb({0: row}, use_bin_type=True)).values()
    complete_item(stored, payload)

    assert ImageFingerprint.from_wire(stored) == ImageFingerprint.from_wire(shot)


def test_malformed_regions_in_phase_2_are_refused_naming_the_item():
    shot = screenshot_item("shot", 1)
    row = msgpack.unpackb(encode_verification(content_digest([shot]), {0: shot}))["items"][0]
    assert len(row) == 8  # the regions: box, dHash, descriptor, and PDQ where there is one
    regions = row[7]
    assert [len(region) for region in regions][:2] == [5, 3]
    layout_1 = [bytes.fromhex(region["descriptor"]) for region in shot["regions"]]
    for broken in (
        [],
        "none",
        layout_1,
        [[*regions[0][:4], True], *regions[1:]],
        [regions[0][:4], *regions[1:]],
        [[[0, 0, 1000], *regions[0][1:]], *regions[1:]],
        [[regions[0][0], regions[0][1].hex(), *regions[0][2:]], *regions[1:]],
    ):
        body = msgpack.packb(
            {"digest": bytes(32), "items": [[*row[:7], broken]]}, use_bin_type=True
        )
        with pytest.raises(WireFormatError, match=r"item 0: (each of )?its regions"):
            decode_verification(unpack(body), max_items=9)
    nine = msgpack.packb({"digest": bytes(32), "items": [[*row, []]]}, use_bin_type=True)
    with pytest.raises(WireFormatError, match="update the Consentry client"):
        decode_verification(unpack(nine), max_items=9)
    entry = decode_hashes(unpack(encode_hashes(0, FINGERPRINT_VERSION, [shot])), max_items=9).items[
        0
    ]
    _, payloads = decode_verification(
        unpack(
            msgpack.packb(
                {"digest": bytes(32), "items": [[*row[:7], regions[:1]]]}, use_bin_type=True
            )
        ),
        max_items=9,
    )
    with pytest.raises(WireFormatError, match="brings 1 regions"):
        complete_item(entry, payloads[0])


def test_the_client_sends_as_json_regions_the_binary_layout_would_not_carry_exactly():
    shot = screenshot_item("shot", 1)
    upper = [{**shot["regions"][0], "phash": shot["regions"][0]["phash"].upper()}]

    assert hashes_version([shot]) == FINGERPRINT_VERSION
    assert hashes_version([{**shot, "regions": upper}]) is None
    assert hashes_version([{**shot, "regions": "none"}]) is None


@pytest.mark.parametrize("mode", ["consent_required", "respect_opt_outs"])
def test_an_item_is_not_let_through_past_a_refused_candidate_its_budget_left_unverified(
    acme_api, works, monkeypatch, mode
):
    """Every registered work is a dHash candidate here; the nearest, the allowed original, is
    verified and matches, and the budget leaves the refused and licensed works unverified:
    one of them might be in the picture too, so the item does not pass on what was verified."""

    def check(budget):
        config = MatchingConfig(phash_radius=0, dhash_radius=64, max_verifications=budget)
        monkeypatch.setattr(matching, "_shared_index", RegistryIndex(config))
        return _check(acme_api, [item("copy", 1)], mode)["copy"]

    tight, roomy = check(1), check(64)

    assert tight["decision"] == "invalid"
    assert tight["reason"].startswith(ReasonCode.OVER_BUDGET)
    assert tight["passes"] is False
    # Verified, the other works are not in the picture: the copy is its allowed work's.
    assert roomy["decision"] == "allowed"
    assert [match["work_id"] for match in roomy["matches"]] == [works["allowed"].pk]
    assert "region" not in roomy["matches"][0]  # a copy of the whole picture


def _stickered_item(
    item_id: str, seed: int, radius: float, centre: tuple[float, float]
) -> dict[str, Any]:
    """Artwork `seed` re-posted with a yellow disc stuck inside it: `radius` a share of its
    shorter side, `centre` in shares of its width and height."""
    art = Image.open(io.BytesIO(image_bytes(seed))).convert("RGB")
    side = radius * min(art.size)
    x, y = centre[0] * art.width, centre[1] * art.height
    ImageDraw.Draw(art).ellipse((x - side, y - side, x + side, y + side), fill=(255, 205, 40))
    out = io.BytesIO()
    art.save(out, "JPEG", quality=90)
    return {"id": item_id, **fingerprint_image(out.getvalue()).to_wire()}


def test_a_loose_match_to_an_allowed_work_names_it_but_does_not_allow(acme_api, works):
    """A sticker inside the picture is what another tile of the same template looks like too:
    such a match may deny an item, but the artist's consent covers only a close copy."""
    decided = _check(
        acme_api,
        [_stickered_item("stickered", 1, 0.14, (0.62, 0.4)), item("copy", 1)],
        "consent_required",
    )

    assert decided["copy"]["decision"] == "allowed"
    assert decided["stickered"]["decision"] == "unregistered"
    assert ReasonCode.LOOSE_MATCH in decided["stickered"]["reason"]
    assert [match["work_id"] for match in decided["stickered"]["matches"]] == [works["allowed"].pk]


@pytest.mark.parametrize("mode", ["consent_required", "respect_opt_outs"])
def test_a_loose_match_to_a_refused_work_denies(acme_api, works, mode):
    decided = _check(acme_api, [_stickered_item("stickered", 2, 0.08, (0.3, 0.3))], mode)[
        "stickered"
    ]

    assert decided["decision"] == "denied"
    assert [match["work_id"] for match in decided["matches"]] == [works["refused"].pk]


@pytest.mark.parametrize(
    "malformed",
    [
        None,
        "none",
        {},
        [{"box": [0, 0, 1000]}],
        [{"box": [0, 0, 500, 500], "phash": "0" * 16, "dhash": "0" * 16, "descriptor": "00"}],
        [{"box": [500, 0, 400, 500], "phash": "0" * 16, "dhash": "0" * 16}],
        [None],
    ],
)
def test_a_version_3_item_with_malformed_regions_is_invalid_not_searched_whole(
    acme_api, works, malformed
):
    """A copy of alice's allowed work would pass on its whole picture; with its regions
    malformed it is not judged on the rest as if it had none: `invalid`, naming them."""
    sent = {**item("copy", 1), "regions": malformed}
    body = {"purpose": "ai_training", "mode": "respect_opt_outs", "items": [sent]}

    answer = acme_api.post("/api/v1/check", json.dumps(body), content_type="application/json")

    assert answer.status_code in (200, 400), answer.content
    if answer.status_code == 200:
        (decided,) = answer.json()["items"]
        assert decided["decision"] == "invalid" and decided["passes"] is False
        assert decided["reason"].startswith(ReasonCode.MALFORMED)
        assert "region" in decided["reason"]


def _with_region_near(entry, work, *, by):
    """`entry` with one region whose pHash (`by="phash"`) or dHash (`by="dhash"`) is the
    registered original variant's of `work`, and whose other hash is as far as it can be."""
    registered = work.fingerprints.get(variant="original")
    phash, dhash = to_unsigned64(registered.phash), to_unsigned64(registered.dhash)
    far = 2**64 - 1
    region = {
        "box": [100, 100, 900, 900],
        "phash": f"{phash if by == 'phash' else phash ^ far:016x}",
        "dhash": f"{dhash if by == 'dhash' else dhash ^ far:016x}",
        "descriptor": entry["descriptor"],
    }
    return {**entry, "regions": [region]}


def test_a_region_near_a_registered_work_by_its_dhash_only_needs_no_payload(
    acme_api, works, run_pending
):
    """A region matches as a near copy, found by its pHash: its dHash-only candidates are
    never verified, so phase 1 does not ask for the payload of an item that has no other
    candidate, and the item is decided as its JSON is."""
    by_dhash = _with_region_near(item("by-dhash", 40), works["allowed"], by="dhash")
    by_phash = _with_region_near(item("by-phash", 41), works["allowed"], by="phash")
    items = [by_dhash, by_phash]

    screening_id = _screening(acme_api)
    first = _hashes(acme_api, screening_id, items)
    assert first.status_code == 202, first.content
    assert first.json()["verification"]["needed"] == [1]
    assert _verify(acme_api, screening_id, items, [1]).status_code == 202
    two_phases = _decided(acme_api, screening_id, items, run_pending)
    as_json = _decided(acme_api, _screening(acme_api, items), items, run_pending)

    for decided in (two_phases, as_json):
        assert decided["by-dhash"]["decision"] == "unregistered"
        assert decided["by-dhash"]["matches"] == []
    assert two_phases == as_json


# -- the upright region: its dHash is searched, on every wire ----------------------------------


def turned_item(item_id: str, seed: int, page: str = "white") -> dict[str, Any]:
    """Artwork `seed` turned 10 degrees on a page, every searched hash but its upright region's
    dHash moved far from the work's (as a warped flat sprite's pHash bits flip): found, if at
    all, through that dHash alone."""
    art = artwork(_SEED_BASE + seed)
    turned = art.rotate(10, Image.Resampling.BICUBIC, expand=True, fillcolor=page)
    buffer = io.BytesIO()
    turned.save(buffer, format="JPEG", quality=85)
    fingerprint = fingerprint_image(buffer.getvalue())
    return {"id": item_id, **only_upright_dhash(fingerprint).to_wire()}


def _upright_box(entry: dict[str, Any]) -> list[int]:
    (box,) = [region["box"] for region in entry["regions"] if region.get("upright")]
    return box


def test_a_turned_repost_found_only_by_its_upright_dhash_is_decided_alike_on_every_wire(
    acme_api, works, run_pending
):
    """Phase 1 carries the upright region's dHash, so the registry finds the work as a
    candidate and asks for the payload; JSON, two phases and the synchronous check decide
    alike: the refused work denies, the allowed one is named but does not allow (weak)."""
    items = [
        turned_item("refused", 2),
        turned_item("allowed", 1, page="#e8c878"),
        item("stranger", 40),
    ]
    as_json = _decided(acme_api, _screening(acme_api, items), items, run_pending)
    screening_id = _screening(acme_api)
    first = _hashes(acme_api, screening_id, items)
    assert first.json()["verification"]["needed"] == [0, 1]
    assert _verify(acme_api, screening_id, items, [0, 1]).status_code == 202
    two_phases = _decided(acme_api, screening_id, items, run_pending)
    checked = _check(acme_api, items, "consent_required")

    for decided in (as_json, two_phases, checked):
        assert decided["refused"]["decision"] == "denied"
        assert [match["work_id"] for match in decided["refused"]["matches"]] == [
            works["refused"].pk
        ]
        assert decided["refused"]["matches"][0]["region"] == _upright_box(items[0])
        assert decided["allowed"]["decision"] == "unregistered"
        assert [match["work_id"] for match in decided["allowed"]["matches"]] == [
            works["allowed"].pk
        ]
        assert decided["stranger"]["decision"] == "unregistered"
    assert checked["allowed"]["passes"] is False
    for name in ("refused", "allowed", "stranger"):
        assert as_json[name]["decision"] == two_phases[name]["decision"]
        assert as_json[name]["matches"] == two_phases[name]["matches"]


def test_without_the_upright_mark_its_dhash_finds_nothing(acme_api, works):
    """The same item with its upright region unmarked is a cut piece: its dHash is not
    searched, and nothing is found."""
    entry = turned_item("refused", 2)
    for region in entry["regions"]:
        region.pop("upright", None)

    decided = _check(acme_api, [entry], "consent_required")["refused"]

    assert decided["decision"] == "unregistered" and decided["matches"] == []


def test_the_upright_region_crosses_both_phases_exactly():
    items = [turned_item("turned", 2), screenshot_item("shot", 1), item("stranger", 40)]
    decoded = decode_hashes(unpack(encode_hashes(0, FINGERPRINT_VERSION, items)), max_items=9)
    place = next(n for n, region in enumerate(items[0]["regions"]) if region.get("upright"))
    dhash = items[0]["regions"][place]["dhash"]

    # Phase 1 carries the upright region's dHash and mark beside every region's pHash.
    assert decoded.items[0]["regions"][place] == {
        "phash": items[0]["regions"][place]["phash"],
        "dhash": dhash,
        "upright": True,
    }
    assert decoded.queries[0] is not None
    assert decoded.queries[0].upright == (place, int(dhash, 16))
    assert decoded.queries[1] is not None and decoded.queries[1].upright is None
    for entry, query in zip(decoded.items, decoded.queries, strict=True):
        assert query == hashed_query(entry)
    digest, payloads = decode_verification(
        unpack(encode_verification(content_digest(items), dict(enumerate(items)))), max_items=9
    )
    assert digest == content_digest(decoded.items) == content_digest(items)
    for entry, payload, sent in zip(decoded.items, payloads.values(), items, strict=True):
        complete_item(entry, payload)
        assert ImageFingerprint.from_wire(entry) == ImageFingerprint.from_wire(sent)
    # The mark and the dHash bind the chunk's content.
    unmarked = [{**items[0], "regions": [_unmarked(r) for r in items[0]["regions"]]}]
    assert content_digest(unmarked) != content_digest(items[:1])


def _unmarked(region: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in region.items() if key != "upright"}


def test_a_payload_bringing_another_upright_dhash_is_refused():
    items = [turned_item("turned", 2)]
    (entry,) = decode_hashes(
        unpack(encode_hashes(0, FINGERPRINT_VERSION, items)), max_items=9
    ).items
    place = next(n for n, region in enumerate(items[0]["regions"]) if region.get("upright"))
    other = [dict(region) for region in items[0]["regions"]]
    other[place]["dhash"] = f"{int(other[place]['dhash'], 16) ^ 1:016x}"
    _, payloads = decode_verification(
        unpack(encode_verification(content_digest(items), {0: {**items[0], "regions": other}})),
        max_items=9,
    )

    with pytest.raises(WireFormatError, match=f"region {place} another dhash"):
        complete_item(entry, payloads[0])


def test_an_item_with_two_upright_regions_is_refused_with_a_clear_error(acme_api, works):
    entry = screenshot_item("twice", 2)
    assert len(entry["regions"]) >= 2
    for region in entry["regions"][:2]:
        region["upright"] = True

    with pytest.raises(FingerprintFormatError, match="regions 0 and 1 are both marked 'upright'"):
        ImageFingerprint.from_wire(entry)
    with pytest.raises(WireFormatError, match="more than one upright region"):
        encode_hashes(0, FINGERPRINT_VERSION, [entry])
    assert hashes_version([entry]) is None  # the client sends it as JSON, where it is invalid
    decided = _check(acme_api, [entry], "respect_opt_outs")["twice"]
    assert decided["decision"] == "invalid" and decided["passes"] is False
    assert "both marked 'upright'" in decided["reason"]
    entry["regions"][1]["upright"] = "yes"
    with pytest.raises(FingerprintFormatError, match="'upright' must be true or false"):
        ImageFingerprint.from_wire(entry)
