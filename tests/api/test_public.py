"""Public endpoints: the matching configuration, the receipt key, credits and artists' policies."""

from registry.fingerprints import FINGERPRINT_VERSION
from registry.matching.rules import DEFAULT_MATCHING
from registry.models import Permission, Purpose
from registry.receipts import load_public_key
from registry.services.terms import default_terms_set, terms_set
from registry.services.works import work_remove


def test_matching_publishes_the_version_thresholds_and_limits(db, client):
    published = client.get("/api/v1/matching").json()

    assert published["fingerprint_version"] == FINGERPRINT_VERSION
    assert published["thresholds"]["phash_radius"] == DEFAULT_MATCHING.phash_radius
    assert published["limits"]["max_items_per_request"] >= 10_000
    assert "original" in published["variants"]
    # Version 4's variants, and that a match through them can deny but never allow.
    assert {"content_box", "crop_centre_50_nw", "crop_centre_70_se"} <= set(published["variants"])
    assert set(published["thresholds"]["weak_variants"]) == set(DEFAULT_MATCHING.weak_variants)
    assert "content_box" in published["thresholds"]["weak_variants"]
    # Version 5's 16:9 windows deny only too, and a client can read the every-hash-agrees rule.
    assert {"crop_16x9_0", "crop_16x9_23"} <= set(published["thresholds"]["weak_variants"])
    assert published["thresholds"]["pdq_path_radius"] == 44


def test_the_receipt_key_is_a_usable_ed25519_public_key(db, client):
    published = client.get("/api/v1/receipts/key").json()

    load_public_key(published["public_key_pem"].encode())
    assert published["algorithm"] == "Ed25519" and len(published["key_id"]) == 16


def test_a_credit_record_names_the_work_and_its_terms_never_the_image(alice, client, register_work):
    work = register_work(alice, seed=1, title="Spring")
    terms_set(
        artist=alice,
        works=[work],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
    )

    record = client.get(f"/api/v1/credits/{work.pk}").json()

    assert record["title"] == "Spring" and record["artist"] == "Alice Liu"
    assert record["terms"]["ai_training"]["license"] == "CC-BY-4.0"
    assert record["terms"]["data_mining"]["permission"] == "not_allowed"
    assert "image" not in record and "thumbnail" not in record
    work_remove(work=work)
    assert client.get(f"/api/v1/credits/{work.pk}").status_code == 404


def test_an_artists_policy_shows_their_defaults(alice, client):
    default_terms_set(artist=alice, purpose=Purpose.DATA_MINING, permission=Permission.LICENSED)

    policy = client.get(f"/api/v1/artists/{alice.pk}/policy").json()

    assert policy["terms"]["data_mining"]["permission"] == "licensed"
    assert policy["terms"]["ai_training"]["permission"] == "not_allowed"
