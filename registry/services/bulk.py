"""Inserting many rows fast: COPY on PostgreSQL, executemany on the embedded SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert rows of plain values (JSON columns as JSON text) into the model's table.

    A screening writes one row per item, tens of thousands per chunk; building model
    instances and INSERT statements for them costs more than deciding the items.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - model's names
            cursor.executemany(sql, [_prepared(model, columns, row) for row in rows])


def _prepared(model: type[models.Model], columns: Sequence[str], row: Sequence[Any]) -> list[Any]:
    """Values as this database stores them (SQLite keeps a UUID as 32 hex digits, say).
    JSON columns arrive as JSON text already and are left alone."""
    fields = [_column_field(model, column) for column in columns]
    return [
        value if isinstance(field, models.JSONField) else field.get_db_prep_save(value, connection)
        for field, value in zip(fields, row, strict=True)
    ]


def _column_field(model: type[models.Model], column: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(column)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{column} is a relation, not a column")
    return field
