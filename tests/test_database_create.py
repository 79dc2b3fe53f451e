"""`make run` on PostgreSQL creates the database DATABASE_URL names, or says in one line which
command does. Each test works on a database or role of its own, dropped afterwards."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from registry.services.database import DatabaseUnavailable, database_create

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def _drop_database(name: str) -> None:
    with psycopg.connect(SERVER, autocommit=True) as server:
        server.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(name)
            )
        )


def _exists(name: str) -> bool:
    with psycopg.connect(SERVER, autocommit=True) as server:
        found = server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def throwaway() -> Iterator[dict[str, Any]]:
    """The project's database settings, naming a database that does not exist yet."""
    name = f"{connection.settings_dict['NAME']}_made_by_make_run"
    _drop_database(name)
    yield {**connection.settings_dict, "NAME": name}
    _drop_database(name)


def test_a_missing_database_is_created_once(throwaway):
    assert not _exists(throwaway["NAME"])

    assert database_create(settings_dict=throwaway) is True
    assert _exists(throwaway["NAME"])
    assert database_create(settings_dict=throwaway) is False


def test_a_user_who_may_not_create_databases_is_told_the_command(throwaway):
    role = f"{throwaway['NAME']}_nocreate"
    with psycopg.connect(SERVER, autocommit=True) as server:
        server.execute(
            psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg.sql.Identifier(role))
        )
        server.execute(
            psycopg.sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(psycopg.sql.Identifier(role))
        )
    try:
        with pytest.raises(DatabaseUnavailable) as refused:
            database_create(settings_dict={**throwaway, "USER": role})
    finally:
        with psycopg.connect(SERVER, autocommit=True) as server:
            server.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(role)))

    message = str(refused.value)
    assert "\n" not in message
    assert f"{role} may not create it" in message
    assert f"createdb -h 127.0.0.1 -p 5432 -U {role} {throwaway['NAME']}" in message
    assert not _exists(throwaway["NAME"])


def test_sqlite_needs_nothing(tmp_path):
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "x.sqlite3")}
    assert database_create(settings_dict=sqlite) is False


def test_the_command_says_in_one_line_when_the_server_does_not_answer(tmp_path):
    port = _free_port()
    completed = subprocess.run(
        [sys.executable, "manage.py", "create_database"],
        cwd=ROOT,
        env={
            **os.environ,
            "CONSENTRY_ENV": "development",
            "CONSENTRY_VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/consentry",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 1
    (line,) = completed.stderr.strip().splitlines()
    assert f"port {port} failed" in line and "make services" in line
    assert f"createdb -h 127.0.0.1 -p {port} -U postgres consentry" in line
