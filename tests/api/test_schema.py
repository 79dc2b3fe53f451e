"""The OpenAPI schema builds and describes every endpoint of the API."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from registry.api.urls import urlpatterns

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
