import os
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from registry.services.database_roles import RoleError, app_role_grant


class Command(BaseCommand):
    help = (
        "Run as the owner role after `migrate`: give the application's PostgreSQL role read and "
        "write access to the registry, insert-only access to the consent ledger, and no ownership."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("role", help="the role the application connects as")
        parser.add_argument(
            "--create-with-password-env",
            metavar="VARIABLE",
            default="",
            help="create the role if missing, with the password in this environment variable",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        variable = options["create_with_password_env"]
        password = os.environ.get(variable, "") if variable else ""
        if variable and not password:
            raise CommandError(f"The environment variable {variable} holds no password.")
        try:
            app_role_grant(role=options["role"], create_with_password=password)
        except RoleError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{options['role']} may use the registry; the ledger is insert-only.")
