from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from registry.selectors.accounts import artist_by_username
from registry.services.artists import artist_verify


class Command(BaseCommand):
    help = (
        "Record that staff checked an artist's evidence: their claims become operator_verified, "
        "with the evidence in the consent ledger."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", help="the artist's login name")
        # Only staff's own check is done by hand; sites and platforms verify through their flows.
        parser.add_argument("--method", choices=["operator"], required=True)
        parser.add_argument(
            "--evidence", required=True, help="what was checked, e.g. a call with the artist"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        artist = artist_by_username(options["username"])
        if artist is None:
            raise CommandError(f"No artist has the username {options['username']!r}.")
        try:
            changed = artist_verify(artist=artist, evidence=options["evidence"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if changed:
            self.stdout.write(f"{artist.display_name} is now {artist.assurance}.")
        else:
            self.stdout.write(f"{artist.display_name} was {artist.assurance} already.")
