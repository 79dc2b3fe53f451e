from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from registry.services.artists import artist_create


class Command(BaseCommand):
    help = "Create an artist who can log into the admin and manage their own works."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--display-name", default="")
        parser.add_argument("--credit-line", default="")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            artist = artist_create(
                username=options["username"],
                password=options["password"],
                display_name=options["display_name"],
                credit_line=options["credit_line"],
                email=options["email"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"Created artist {artist.display_name} (id {artist.pk}).")
