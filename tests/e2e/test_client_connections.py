"""The client lets go of the registry when a run ends: a kept-alive HTTP connection holds one of
the server's request threads, and that thread's database connection, until the socket closes."""

import gc
import time

from django.db import connection

from registry.client.api import Registry
from tests.e2e.test_client import acme_key  # noqa: F401 - the fixture

_ONE_URL = {"purpose": "ai_training", "mode": "consent_required", "urls": ["https://a.test/x.png"]}


def _sessions() -> set[int]:
    """The other sessions of the test database (earlier tests' threads may hold some)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


def _all_gone(sessions: set[int], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sessions & _sessions():
            return True
        time.sleep(0.1)
    return False


def test_a_registry_closed_at_the_end_of_a_run_leaves_no_server_connection_open(
    live_server,
    acme_key,  # noqa: F811
):
    gc.disable()  # the run's objects may live on in reference cycles; closing must not wait
    before = _sessions()
    try:
        with Registry(live_server.url, acme_key) as registry:
            # The answer is not kept: a response holds its socket open, as the client's don't.
            assert registry.post("urls/check", json=_ONE_URL)["results"][0]["decision"] == "unknown"
            # The request thread's session, kept as long as the HTTP connection is.
            opened = _sessions() - before
            assert opened

        assert _all_gone(opened), "the server still holds a database connection for the client"
        del registry
    finally:
        gc.enable()
