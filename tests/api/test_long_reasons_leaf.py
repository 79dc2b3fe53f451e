"""A chunk's Merkle root commits to what the client is served: an item whose reasons run past
what a row keeps (many loose matches of template siblings) still adds up to its chunk's root."""

import registry.services.screenings as screenings
from registry.client.collect import leaf_of
from registry.fingerprints import fingerprint_image
from registry.gatekeeper import Credit, MatchedWork, WorkPermit, decide
from registry.merkle import root_of_leaves
from tests.api.conftest import image_bytes


def test_an_item_with_long_reasons_adds_up_to_its_chunks_root(
    acme_api, run_pending, monkeypatch, alice, register_work
):
    ids = [register_work(alice, seed=10 + n, title=f"Sibling {n}").pk for n in range(7)]
    permits = {w: WorkPermit(True, "allowed", "CC-BY-4.0", "operator_verified") for w in ids}
    credits = {w: Credit("A", "A", "T", w, "", "CC-BY-4.0", "") for w in ids}
    loose = decide([MatchedWork(w, "original", {"phash": 4}) for w in ids], permits, credits)
    assert loose.decision == "unregistered" and len(loose.reason) > 500
    monkeypatch.setattr(screenings, "decide_items", lambda **kw: [loose] * len(kw["items"]))
    wire = {"id": "x", **fingerprint_image(image_bytes(5, scale=0.7, quality=75)).to_wire()}
    body = {"purpose": "ai_training", "items": [wire]}
    created = acme_api.post("/api/v1/screenings", body, format="json").json()
    run_pending()

    listed = acme_api.get(f"/api/v1/screenings/{created['id']}/items").json()["results"]
    chunk = acme_api.get(f"/api/v1/screenings/{created['id']}/decisions").json()["results"][0]

    assert (
        root_of_leaves([leaf_of({**listed[0], "id": "x"}, str(wire["sha256"]))])
        == chunk["merkle_root"]
    )
