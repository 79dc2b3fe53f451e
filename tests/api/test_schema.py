"""The OpenAPI schema builds and describes every endpoint of the API."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from registry.api.urls import urlpatterns
from tests.api.conftest import item

UNDESCRIBED = {"schema", "docs"}  # the schema and its viewer describe the rest
CATCH_ALL = "api-not-found"  # the JSON 404 for every path that matched no route


def _api_paths():
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern | URLResolver)
        route = str(pattern.pattern)
        if route not in UNDESCRIBED and getattr(pattern, "name", None) != CATCH_ALL:
            yield "/api/v1/" + route.replace("<uuid:", "{").replace("<int:", "{").replace(">", "}")


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_builds_without_warnings(db, client):
    response = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_every_endpoint_is_described_with_its_methods_and_responses(schema):
    described = schema["paths"]
    for path in _api_paths():
        assert path in described, path
        for method, operation in described[path].items():
            assert operation.get("summary") or operation.get("description"), (path, method)
            assert operation["responses"], (path, method)


def test_the_docs_page_is_served(db, client):
    assert client.get("/api/v1/docs").status_code == 200


def test_api_key_authentication_is_declared(schema):
    schemes = schema["components"]["securitySchemes"]
    assert any(
        s.get("name") == "Authorization" and s.get("in") == "header" for s in schemes.values()
    )


def test_resolver_knows_every_path():
    resolver = get_resolver()
    for path in _api_paths():
        concrete = path.replace("{screening_id}", "00000000-0000-0000-0000-000000000000")
        resolver.resolve(re.sub(r"\{\w+_id\}", "1", concrete))


def test_the_schema_generator_reports_no_warning(db, tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "s.yaml"))


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_error_an_operation_can_answer_is_documented_with_the_error_body(schema):
    """What the framework answers, not the view, is in the schema too (schemathesis checks)."""
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        public = {} in operation.get("security", [{}])
        if not public:
            assert {"401", "403"} <= responses.keys(), (path, method)
        if "{" in path:
            assert "404" in responses, (path, method)
        if "requestBody" in operation:
            assert "400" in responses, (path, method)
        for code, response in responses.items():
            if code.startswith("4"):
                body = response["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorOut"}, (path, method, code)


def test_paged_lists_are_documented_as_pages_with_their_cursor(schema):
    for path in ("/api/v1/screenings", "/api/v1/artist/works"):
        operation = schema["paths"][path]["get"]
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        name = page.rsplit("/", 1)[-1]
        assert "results" in schema["components"]["schemas"][name]["properties"], path
        assert "cursor" in [p["name"] for p in operation["parameters"]], path


@pytest.mark.parametrize("path", ["screenings/not-a-uuid/close", "artists/1%0A2/policy"])
def test_an_unknown_api_path_answers_the_json_404_whatever_the_method(db, client, path):
    for method in (client.get, client.post, client.delete):
        response = method(f"/api/v1/{path}")
        assert response.status_code == 404, method
        assert response.json() == {"detail": "Not found."}


def test_a_chunk_number_beyond_the_column_is_refused(acme_api):
    screening = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "keep_open": True}, format="json"
    ).json()

    response = acme_api.post(
        f"/api/v1/screenings/{screening['id']}/chunks",
        {"number": 2**31, "items": [{"id": "a"}]},
        format="json",
    )

    assert response.status_code == 400 and "number" in response.json()


def test_a_string_field_refuses_a_number(alice_api):
    response = alice_api.post(
        "/api/v1/artist/defaults",
        {"purpose": "ai_training", "permission": "allowed", "attribution": 0},
        format="json",
    )

    assert response.status_code == 400 and "attribution" in response.json()


@pytest.mark.parametrize("query", ["?until=", "?format=", "?until=9999-12-31T23:00:00-05:00"])
def test_an_export_parameter_that_is_given_must_be_valid(acme_api, query):
    response = acme_api.get("/api/v1/exports/screening-report" + query)

    assert response.status_code == 400 and response.json()


def test_a_moment_with_an_offset_postgresql_refuses_is_read_in_utc(acme_api):
    response = acme_api.get("/api/v1/exports/ledger?until=2030-07-16T12:00:00%2B20:30")

    assert response.status_code == 200
    assert b"".join(response.streaming_content)


@pytest.mark.parametrize("page_size", ["0", "-1", "many", ""])
@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_a_page_size_below_the_documented_minimum_is_refused(acme_api, page_size, fmt):
    screening = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "items": []}, format="json"
    ).json()
    url = f"/api/v1/screenings/{screening['id']}/items?format={fmt}&page_size={page_size}"

    response = acme_api.get(url)

    assert response.status_code == 400 and b"page_size" in response.content


def test_images_sent_as_form_fields_are_refused(acme_api):
    response = acme_api.post(
        "/api/v1/screenings",
        {"purpose": "ai_training", "images": "https://example.org/a.jpg"},
        format="multipart",
    )

    assert response.status_code == 400 and "images" in response.json()


@pytest.mark.parametrize("keep_open", [0, 1, "yes"])
def test_a_boolean_field_takes_only_true_or_false(acme_api, keep_open):
    response = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "keep_open": keep_open}, format="json"
    )

    assert response.status_code == 400 and "keep_open" in response.json()


def test_an_empty_filter_is_refused_not_ignored(acme_api):
    screening = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "items": []}, format="json"
    ).json()

    response = acme_api.get(f"/api/v1/screenings/{screening['id']}/items?decision=")

    assert response.status_code == 400 and "decision" in response.json()


@pytest.mark.parametrize(
    "item",
    [
        {"id": "a\x00b"},
        {"id": "a", "url": "https://x.example/\ud800"},
        {"id": "a", "k": [{"\x00": 1}]},
    ],
)
def test_an_item_with_text_postgresql_cannot_store_is_refused_up_front(acme_api, item):
    """Taken, it would make the worker fail to store the decided item, and nobody answer."""
    body = json.dumps({"purpose": "ai_training", "items": [item]})  # \ud800 as an escape

    response = acme_api.post("/api/v1/screenings", body, content_type="application/json")

    assert response.status_code == 400 and "NUL" in response.json()["detail"]


def test_text_that_only_spells_an_escape_is_stored_and_answered(acme_api, works, run_pending):
    """A backslash followed by "u0000" is ordinary text: refusing it would lose the item (a
    re-post of alice's work 1, so that it is listed with its id and URL)."""
    spelled = item("a\\u0000b", 1, url="https://x.example/\\u0000")

    screening = acme_api.post(
        "/api/v1/screenings", {"purpose": "ai_training", "items": [spelled]}, format="json"
    )
    assert screening.status_code == 202, screening.content
    run_pending()

    items = acme_api.get(f"/api/v1/screenings/{screening.json()['id']}/items").json()["results"]
    assert [(item["id"], item["url"]) for item in items] == [(spelled["id"], spelled["url"])]


@pytest.mark.parametrize("path", ["/api/v1/screenings", "/api/v1/check"])
def test_items_nested_past_the_parser_limit_are_refused_clearly(acme_api, path):
    nested = "[" * 50_000 + "]" * 50_000
    body = f'{{"purpose": "ai_training", "items": [{{"id": "a", "k": {nested}}}]}}'

    response = acme_api.post(path, body, content_type="application/json")

    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/screenings", "/api/v1/check"])
def test_an_item_nested_deeper_than_any_honest_one_is_refused(acme_api, path):
    nested: list = []
    for _ in range(40):
        nested = [nested]
    body = {"purpose": "ai_training", "items": [{"id": "a", "k": nested}]}

    response = acme_api.post(path, body, format="json")

    assert response.status_code == 400 and "levels deep" in response.json()["detail"]


def test_an_empty_upload_is_refused_on_its_own_in_the_results(alice_api):
    empty = SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg")

    response = alice_api.post("/api/v1/artist/works", {"images": [empty]}, format="multipart")

    assert response.status_code == 202
    (result,) = response.json()
    assert result["file"] == "empty.jpg" and result["status"] == "refused"
    assert result["problem"] == "empty" and "is empty" in result["error"]


def test_an_upload_with_a_bad_licence_is_refused_before_any_file(alice_api):
    image = SimpleUploadedFile("a.jpg", b"not read", content_type="image/jpeg")

    response = alice_api.post(
        "/api/v1/artist/works", {"images": [image], "license": "not a licence!"}, format="multipart"
    )

    assert response.status_code == 400 and "license" in response.json()
