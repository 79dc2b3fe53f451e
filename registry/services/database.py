"""The database `make run` needs, created when the server allows it.

SQLite creates its file on first use. PostgreSQL needs CREATE DATABASE, sent through the
server's `postgres` maintenance database, as Django's test runner does for its test database.
"""

from typing import Any


class DatabaseUnavailable(Exception):
    """The database is missing and cannot be created here; the message is one line."""


def _createdb_command(settings_dict: dict[str, Any]) -> str:
    options = [
        f"{flag} {settings_dict[key]}"
        for flag, key in (("-h", "HOST"), ("-p", "PORT"), ("-U", "USER"))
        if settings_dict.get(key)
    ]
    return " ".join(["createdb", *options, settings_dict["NAME"]])


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def database_create(*, settings_dict: dict[str, Any]) -> bool:
    """Create the PostgreSQL database named in settings_dict unless it exists. True if it was
    created; DatabaseUnavailable, naming the command that creates it, if it cannot be."""
    if settings_dict["ENGINE"] != "django.db.backends.postgresql":
        return False
    import psycopg
    from psycopg import sql

    name = settings_dict["NAME"]
    credentials = {
        key: settings_dict[setting]
        for key, setting in (
            ("user", "USER"),
            ("password", "PASSWORD"),
            ("host", "HOST"),
            ("port", "PORT"),
        )
        if settings_dict.get(setting)
    }
    try:
        with psycopg.connect(dbname=name, connect_timeout=10, **credentials):
            return False
    except psycopg.OperationalError as error:
        unreachable = error
    try:
        server = psycopg.connect(
            dbname="postgres", autocommit=True, connect_timeout=10, **credentials
        )
    except psycopg.OperationalError:
        # Down, or refusing these credentials: what the first attempt said tells which.
        raise DatabaseUnavailable(
            f"PostgreSQL: {_first_line(unreachable)} (is the server up? `make services` "
            f"starts it; or create the database with: {_createdb_command(settings_dict)})"
        ) from None
    with server:
        if server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            # It exists, so the first attempt failed for another reason (credentials, access).
            raise DatabaseUnavailable(f"PostgreSQL: {_first_line(unreachable)}")
        try:
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege:
            user = settings_dict.get("USER") or "this user"
            raise DatabaseUnavailable(
                f"Database {name!r} does not exist and {user} may not create it; "
                f"create it with: {_createdb_command(settings_dict)}"
            ) from None
    return True
