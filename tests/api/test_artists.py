"""Artists' endpoints: their own works only; another artist's work answers 404."""

from django.core.files.uploadedfile import SimpleUploadedFile

from registry.demo_art import artwork_bytes
from registry.models import ConsentEvent, Work


def test_an_artist_lists_only_their_own_works(alice, bob, alice_api, register_work):
    mine = register_work(alice, seed=1)
    register_work(bob, seed=2)

    listed = alice_api.get("/api/v1/artist/works").json()["results"]

    assert [work["id"] for work in listed] == [mine.pk]
    assert listed[0]["terms"]["ai_training"]["permission"] == "not_allowed"


def test_another_artists_work_answers_404_everywhere(alice, bob, bob_api, register_work):
    work = register_work(alice, seed=1)

    assert bob_api.get(f"/api/v1/artist/works/{work.pk}").status_code == 404
    assert bob_api.get(f"/api/v1/artist/works/{work.pk}/screenings").status_code == 404
    changed = bob_api.post(
        "/api/v1/artist/terms",
        {"work_ids": [work.pk], "purpose": "ai_training", "permission": "allowed"},
        format="json",
    )
    assert changed.status_code == 404
    assert not ConsentEvent.objects.filter(kind="terms_changed").exists()


def test_an_artist_sets_terms_in_bulk_and_defaults(alice, alice_api, register_work):
    works = [register_work(alice, seed=seed) for seed in (1, 2)]

    response = alice_api.post(
        "/api/v1/artist/terms",
        {
            "work_ids": [w.pk for w in works],
            "purpose": "ai_training",
            "permission": "allowed",
            "license": "CC-BY-4.0",
        },
        format="json",
    )
    default = alice_api.post(
        "/api/v1/artist/defaults",
        {"purpose": "data_mining", "permission": "licensed"},
        format="json",
    )

    assert response.json() == {"changed": 2} and default.json() == {"changed": True}
    detail = alice_api.get(f"/api/v1/artist/works/{works[0].pk}").json()
    assert detail["terms"]["ai_training"] == {
        "permission": "allowed",
        "license": "CC-BY-4.0",
        "attribution": "",
        "source": "work",
    }
    assert detail["terms"]["data_mining"]["source"] == "default"


def test_an_artist_uploads_many_images_and_gets_a_result_per_file(alice, alice_api, run_uploads):
    files = [
        SimpleUploadedFile("one.jpg", artwork_bytes(601)),
        SimpleUploadedFile("broken.png", b"\x89PNG\r\n\x1a\n broken"),
        SimpleUploadedFile("two.jpg", artwork_bytes(602)),
    ]

    response = alice_api.post(
        "/api/v1/artist/works", {"images": files, "allow": ["ai_training"]}, format="multipart"
    )

    # Accepted, each file processing with its status URL; the worker registers them.
    assert response.status_code == 202
    accepted = response.json()
    assert [entry["status"] for entry in accepted] == ["processing"] * 3
    assert not Work.objects.exists()
    assert run_uploads() == 3
    results = {}
    for entry in accepted:
        answer = alice_api.get(entry["url"])
        assert answer.status_code == 200
        results[entry["file"]] = answer.json()
    assert results["one.jpg"]["status"] == results["two.jpg"]["status"] == "registered"
    assert results["one.jpg"]["work_id"] and results["two.jpg"]["work_id"]
    assert results["broken.png"]["status"] == "refused"
    assert results["broken.png"]["work_id"] is None
    assert results["broken.png"]["problem"] == "not_an_image"
    assert "“broken.png” is not an image in an accepted format" in results["broken.png"]["error"]
    assert Work.objects.filter(artist=alice).count() == 2


def test_organizations_and_anonymous_callers_cannot_use_artist_endpoints(db, alice, client):
    from tests.api.conftest import api_client
    from tests.factories import OrganizationFactory

    organization_api = api_client(OrganizationFactory.create())

    assert client.get("/api/v1/artist/works").status_code in (401, 403)
    assert organization_api.get("/api/v1/artist/works").status_code in (401, 403)
