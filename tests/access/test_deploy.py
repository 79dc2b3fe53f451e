"""Production start-up and the probes: secrets come from the environment or nothing starts,
`check --deploy` has nothing to say, the probes answer the orchestrator, logs are JSON."""

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client, override_settings

from config.celery import app as celery_app
from config.logs import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]


def production_environment() -> dict[str, str]:
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "PATH": os.environ.get("PATH", ""),
        "CONSENTRY_ENV": "production",
        "DJANGO_SECRET_KEY": "a-test-secret-key-that-is-long-enough-and-random-4f9a8b7c6d5e4f3a",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/consentry",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "DJANGO_ALLOWED_HOSTS": "consentry.example",
        "CONSENTRY_RECEIPT_SIGNING_KEY": key.decode(),
        "CONSENTRY_VAR_DIR": "/nonexistent/var",
    }


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_deploy_check_passes_with_the_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_missing_secret_stops_start_up_naming_every_missing_variable():
    env = production_environment()
    del env["DJANGO_SECRET_KEY"]
    env["CONSENTRY_RECEIPT_SIGNING_KEY"] = "  "  # blank counts as missing
    result = manage("check", env=env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert "DJANGO_SECRET_KEY, CONSENTRY_RECEIPT_SIGNING_KEY" in last_line
    assert "DATABASE_URL" not in last_line


@pytest.mark.parametrize(
    "name",
    [
        "DJANGO_SECRET_KEY",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "DJANGO_ALLOWED_HOSTS",
        "CONSENTRY_RECEIPT_SIGNING_KEY",
    ],
)
def test_production_has_no_default_for_any_secret_or_service(name):
    env = production_environment()
    del env[name]
    result = manage("check", env=env)
    assert result.returncode != 0 and name in result.stderr.strip().splitlines()[-1]


def test_production_settings_are_secure():
    script = (
        "from django.conf import settings as s; import json; print(json.dumps(["
        "s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.LOG_FORMAT, "
        "s.STORAGES['staticfiles']['BACKEND'], "
        "s.MIDDLEWARE.index('whitenoise.middleware.WhiteNoiseMiddleware')]))"
    )
    result = manage("shell", "--no-imports", "-c", script, env=production_environment())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        False,
        True,
        True,
        True,
        31536000,
        ["HTTP_X_FORWARDED_PROTO", "https"],
        "json",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        2,  # right after SecurityMiddleware, before sessions: static files skip the rest
    ]


# --- The probes -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_liveness_answers_without_touching_anything(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readiness_reports_each_check_and_the_registry_version(alice, register_work):
    # transaction=True: the index syncs on a thread of its own, which sees committed rows only.
    register_work(alice, seed=1)
    # The first sync loads the index in the background: "loading" (503) until it is done.
    deadline = time.monotonic() + 60
    while (response := Client().get("/health/ready")).status_code == 503:
        assert response.json()["checks"]["index"]["detail"] == "the matching index is loading"
        assert time.monotonic() < deadline, response.content
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "index"}
    index = body["checks"]["index"]
    assert index["index_sequence"] == index["registry_sequence"] > 0


@pytest.mark.django_db
def test_readiness_answers_503_naming_the_broker_when_it_is_down(monkeypatch):
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:1//")
    assert celery_app.conf.broker_url.endswith(":1//")
    response = Client().get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["broker"]["ok"] and checks["database"]["ok"] and checks["index"]["ok"]


@pytest.mark.django_db
@override_settings(ALLOWED_HOSTS=["consentry.example"], SECURE_SSL_REDIRECT=True)
def test_probes_are_answered_over_plain_http_to_any_host():
    client = Client()
    assert client.get("/health/live", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/health/ready", HTTP_HOST="10.1.2.3:8000").status_code == 200
    # Everything else still validates the host and redirects to HTTPS.
    assert client.get("/api/v1/matching", HTTP_HOST="10.1.2.3:8000").status_code == 400
    redirect = client.get("/api/v1/matching", HTTP_HOST="consentry.example")
    assert redirect.status_code == 301 and redirect["Location"].startswith("https://")


# --- Structured logs ------------------------------------------------------------------------


def _record(name: str, message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, message, args or None, None)
    record.__dict__.update(extra)
    return record


def test_a_log_line_is_one_json_object_with_the_extra_fields():
    line = JsonFormatter().format(_record("registry.x", "chunk %s lost", 7, chunk_id=7))
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "registry.x"
    assert entry["message"] == "chunk 7 lost" and entry["chunk_id"] == 7
    assert entry["time"].endswith("+00:00") and "\n" not in line


def test_an_exception_is_logged_inside_the_json_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record("registry.x", "failed")
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["exception"].startswith("Traceback") and "ValueError: boom" in entry["exception"]


def test_a_gunicorn_access_line_has_fields_and_no_credentials():
    atoms = {
        "h": "10.0.0.1",
        "m": "POST",
        "U": "/api/v1/check",
        "q": "",
        "H": "HTTP/1.1",
        "s": "200",
        "B": 512,
        "a": "consentry-client/1",
        "D": 123456,
        "{authorization}i": "Api-Key secret",
    }
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(m)s %(U)s", (), None)
    record.args = atoms
    entry = json.loads(JsonFormatter().format(record))
    assert entry["method"] == "POST" and entry["path"] == "/api/v1/check"
    assert entry["status"] == 200 and entry["duration_ms"] == 123.5
    assert "secret" not in json.dumps(entry)


def test_secrets_may_come_from_files_as_docker_and_kubernetes_mount_them(tmp_path):
    env = production_environment()
    for name in ("DJANGO_SECRET_KEY", "CONSENTRY_RECEIPT_SIGNING_KEY"):
        secret = tmp_path / name.lower()
        secret.write_text(env.pop(name) + "\n")
        env[f"{name}_FILE"] = str(secret)
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr
    env["DJANGO_SECRET_KEY_FILE"] = str(tmp_path / "missing")
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY_FILE=" in result.stderr and "No such file" in result.stderr


def test_a_receipt_key_that_cannot_sign_stops_start_up():
    env = production_environment()
    env["CONSENTRY_RECEIPT_SIGNING_KEY"] = "-----BEGIN PRIVATE KEY-----\nnot a key\n"
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "CONSENTRY_RECEIPT_SIGNING_KEY is not a PEM private key" in result.stderr
