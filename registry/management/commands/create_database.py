from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from registry.services.database import DatabaseUnavailable, database_create


class Command(BaseCommand):
    help = (
        "Create the PostgreSQL database DATABASE_URL names, unless it exists "
        "(nothing to do on SQLite). `make run` runs it before migrating."
    )
    # The checks may read the database this command is about to create.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        settings_dict = connections["default"].settings_dict
        try:
            created = database_create(settings_dict=settings_dict)
        except DatabaseUnavailable as error:
            raise CommandError(str(error)) from None
        if created:
            self.stdout.write(f"Created the PostgreSQL database {settings_dict['NAME']!r}.")
