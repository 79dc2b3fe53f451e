"""The API docs come from this site only, and the admin and the docs send a content security
policy."""

import re

import pytest
from django.test import Client

from tests.admin.conftest import client_for

pytestmark = pytest.mark.django_db

_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def _policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in directives}


def test_the_docs_page_names_no_host_but_the_projects_own(client: Client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "//" not in html.replace("<!DOCTYPE html>", ""), "an absolute URL in the page"
    resources = _URL.findall(html)
    assert any(url.endswith("swagger-ui-bundle.js") for url in resources)
    for url in resources:
        assert url.startswith("/"), url
        assert client.get(url).status_code == 200, url


def test_the_docs_start_up_script_is_a_file_of_this_site(client: Client):
    html = client.get("/api/v1/docs").content.decode()
    # No inline script: every <script> has a src, so the policy can forbid inline scripts.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    script = client.get("/api/v1/docs?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema" in script.content.decode()
    assert not re.search(r"https?://", script.content.decode())


@pytest.mark.parametrize("path", ["/api/v1/docs", "/admin/login/"])
def test_the_docs_and_the_login_page_send_a_content_security_policy(client: Client, path):
    policy = _policy(client.get(path))
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_admin_pages_send_a_content_security_policy(alice):
    client = client_for(alice.user)
    for path in ["/admin/", "/admin/registry/work/", "/admin/registry/work/upload/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert _policy(response)["script-src"] == ["'self'"], path
