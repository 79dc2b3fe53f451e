"""The application's PostgreSQL role: it may read and write the registry's tables, but may only
insert into and read the consent ledger, and owns nothing (so it cannot alter, truncate or
switch off the ledger's trigger). Migrations run as the owner role, which runs this afterwards.
"""

from django.db import connection, transaction
from psycopg import sql

SCHEMA = "public"  # where Django's migrations create the tables
LEDGER_TABLE = "registry_consentevent"
# Tables written once and never changed by the application, like the ledger.
APPEND_ONLY_TABLES = (LEDGER_TABLE, "registry_ledgercheckpoint")


class RoleError(Exception):
    """The database cannot take the grants (not PostgreSQL, or no such role)."""


def _execute(statement: sql.Composable) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(cursor.connection))


def _role_exists(role: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        return cursor.fetchone() is not None


@transaction.atomic
def app_role_grant(*, role: str, create_with_password: str = "") -> None:
    """Give `role` what the application needs and no more; create it first when asked.

    Idempotent: run after every migration, so tables added since get their grants too.
    """
    if connection.vendor != "postgresql":
        raise RoleError("Separate database roles need PostgreSQL.")
    name = sql.Identifier(role)
    if not _role_exists(role):
        if not create_with_password:
            raise RoleError(f"No database role is named {role!r}.")
        _execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                name, sql.Literal(create_with_password)
            )
        )
    schema = sql.Identifier(SCHEMA)
    _execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, name))
    _execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(
            schema, name
        )
    )
    _execute(
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema, name)
    )
    for table in APPEND_ONLY_TABLES:
        _execute(
            sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON {} FROM {}").format(
                sql.Identifier(table), name
            )
        )
