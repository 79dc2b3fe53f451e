"""Store screening chunks' payloads uncompressed on PostgreSQL.

A chunk of 10,000 items is about 22 MB of JSON that lives only until a worker decides it
(the payload is emptied then). PostgreSQL's default pglz compression of that text took 0.8 s
of each 10,000-item request; stored EXTERNAL (out of line, not compressed) it takes 0.2 s.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def _set_storage(schema_editor: BaseDatabaseSchemaEditor, storage: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE registry_screeningchunk ALTER COLUMN payload SET STORAGE {storage}",
            params=None,
        )


def uncompressed(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _set_storage(schema_editor, "EXTERNAL")


def compressed(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _set_storage(schema_editor, "EXTENDED")


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_ledger_append_only")]

    operations = [migrations.RunPython(uncompressed, compressed)]
