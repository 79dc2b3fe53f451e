from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from registry.selectors.accounts import organization_by_name
from registry.services.organizations import api_key_create


class Command(BaseCommand):
    help = "Issue an API key to an organization. The key is printed once and stored hashed."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--organization", required=True, help="the organization's name")
        parser.add_argument("--name", default="", help="a label for the key")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_name(options["organization"])
        if organization is None:
            raise CommandError(f"No organization is named {options['organization']!r}.")
        _, secret = api_key_create(organization=organization, name=options["name"])
        self.stdout.write(secret)
