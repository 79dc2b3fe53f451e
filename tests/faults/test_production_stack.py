"""The image's commands with the production settings, on this machine: gunicorn, the worker and
beat start against PostgreSQL and Redis, pass their container health checks, serve the API
and the admin's static files behind a TLS proxy's headers, log JSON, and stop cleanly."""

import json
import re
import time

import psycopg
import pytest
import requests

from tests.faults.conftest import (
    assert_one_result_per_item,
    repost_item,
    start_screening,
    synthetic_items,
)
from tests.faults.stack import APP_ROLE, HOST, Stack, app_role_url, wait_for

pytestmark = pytest.mark.slow


def test_every_process_passes_its_container_health_check(deployments):
    stack = deployments["redis"].stack
    assert stack.healthcheck("web") == 0
    assert stack.healthcheck("worker") == 0
    # beat writes its schedule file when it starts and after every task it sends.
    wait_for(lambda: stack.healthcheck("beat") == 0, 90, "beat's schedule file")


def test_the_api_is_served_over_https_only_with_its_security_headers(deployments):
    stack = deployments["redis"].stack
    https = requests.get(
        stack.url("/api/v1/matching"),
        headers={"Host": HOST, "X-Forwarded-Proto": "https"},
        timeout=30,
    )
    assert https.status_code == 200
    assert https.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert https.headers["X-Content-Type-Options"] == "nosniff"
    assert https.headers["Referrer-Policy"] == "same-origin"
    plain = requests.get(
        stack.url("/api/v1/matching"), headers={"Host": HOST}, allow_redirects=False, timeout=30
    )
    assert plain.status_code == 301 and plain.headers["Location"].startswith(f"https://{HOST}/")
    stranger = requests.get(
        stack.url("/api/v1/matching"),
        headers={"Host": "evil.example", "X-Forwarded-Proto": "https"},
        timeout=30,
    )
    assert stranger.status_code == 400


def test_the_admin_and_its_static_files_are_served_by_gunicorn(deployments):
    stack = deployments["redis"].stack
    http = stack.session()
    login = http.get(stack.url("/admin/login/"), timeout=30)
    assert login.status_code == 200
    cookie = next(c for c in http.cookies if c.name == "csrftoken")
    assert cookie.secure
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.text)
    assert stylesheet, "the admin does not link a content-hashed stylesheet"
    css = http.get(stack.url(stylesheet.group(1)), headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert css.status_code == 200 and css.headers["Content-Encoding"] == "gzip"
    assert "immutable" in css.headers["Cache-Control"]


def test_a_screening_goes_through_the_worker_and_its_receipt_verifies(deployments):
    deployment = deployments["redis"]
    items = [repost_item("repost", 1), *synthetic_items(50, 7_000_000)]
    decisions = assert_one_result_per_item(deployment, start_screening(deployment, [items]), items)
    assert decisions["repost"] == "allowed"


def test_every_log_line_is_a_json_object(deployments):
    stack: Stack = deployments["redis"].stack
    for name in ("web", "worker", "beat"):
        lines = stack.log(name).read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        assert entries, name
        assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    access = [
        json.loads(line)
        for line in stack.log("web").read_text().splitlines()
        if '"gunicorn.access"' in line
    ]
    assert access and {"method", "path", "status", "duration_ms"} <= set(access[-1])


def test_the_processes_stop_cleanly_on_sigterm(deployments, postgres, redis_broker, faults_dir):
    """A separate stack on the same services, so the others keep running."""
    database_url = postgres.create_database("consentry_stop")
    stack = Stack(faults_dir / "stop", database_url=database_url, broker_url=redis_broker.url)
    stack.prepare()
    try:
        stack.start_all()
        time.sleep(2)
    finally:
        codes = stack.stop_all()
    assert codes == {"worker": 0, "beat": 0, "web": 0}


def test_the_processes_run_as_the_application_role_which_cannot_rewrite_the_ledger(deployments):
    """As compose runs them: migrations as the owner, everything else as consentry_app."""
    deployment = deployments["redis"]
    sent = [repost_item("role-probe", 1)]
    assert_one_result_per_item(deployment, start_screening(deployment, [sent]), sent)

    # Connections are kept for a minute (DATABASE_CONN_MAX_AGE): the web server's and the
    # worker's are still open, each under its role.
    roles = {
        row[0]
        for row in deployment.sql(
            "SELECT usename FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    }
    assert roles == {APP_ROLE}
    ((owner,),) = deployment.sql(
        "SELECT tableowner FROM pg_tables WHERE tablename = 'registry_consentevent'"
    )
    assert owner != APP_ROLE

    with psycopg.connect(app_role_url(deployment.database_url), autocommit=True) as app:
        for statement in (
            "UPDATE registry_consentevent SET payload = '{}'",
            "DELETE FROM registry_consentevent",
            "TRUNCATE registry_consentevent",
            "ALTER TABLE registry_consentevent DISABLE TRIGGER ALL",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
    deployment.stack.manage("verify_ledger")
