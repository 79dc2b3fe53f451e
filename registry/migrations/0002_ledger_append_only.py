"""Make the consent ledger append-only at the database level.

The services only ever insert into it; the trigger makes sure nothing else, including a person
with SQL access through the application's role, can edit or delete an entry unnoticed.
TRUNCATE is not covered: it needs table ownership, and the ledger's hash chain and signed
checkpoints are what catch it.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

CREATE = """
CREATE OR REPLACE FUNCTION registry_consentevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The consent ledger is append-only: % of event % refused.', TG_OP, OLD.sequence
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER registry_consentevent_append_only
    BEFORE UPDATE OR DELETE ON registry_consentevent
    FOR EACH ROW EXECUTE FUNCTION registry_consentevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS registry_consentevent_append_only ON registry_consentevent;
DROP FUNCTION IF EXISTS registry_consentevent_append_only();
"""


# The embedded SQLite default gets the same guard, so development behaves like production.
SQLITE_CREATE = [
    f"""
    CREATE TRIGGER registry_consentevent_no_{operation.lower()}
        BEFORE {operation} ON registry_consentevent
    BEGIN
        SELECT RAISE(ABORT, 'The consent ledger is append-only: {operation} refused.');
    END;
    """
    for operation in ("UPDATE", "DELETE")
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS registry_consentevent_no_{operation}"
    for operation in ("update", "delete")
]


def create_trigger(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)


def drop_trigger(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(DROP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
