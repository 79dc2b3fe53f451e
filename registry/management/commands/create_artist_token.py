from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from registry.selectors.accounts import artist_by_username
from registry.services.tokens import artist_token_create


class Command(BaseCommand):
    help = (
        "Issue a personal API token to an artist. The token is printed once and stored as a "
        "digest; revoke it in the admin (Personal API tokens)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", help="the artist's user name")
        parser.add_argument("--name", default="", help="a label for the token")
        parser.add_argument(
            "--days", type=int, default=None, help="days it works (CONSENTRY_ARTIST_TOKEN_DAYS)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        artist = artist_by_username(options["username"])
        if artist is None:
            raise CommandError(f"No artist has the user name {options['username']!r}.")
        try:
            token, secret = artist_token_create(
                artist=artist, name=options["name"], days=options["days"]
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(
            f"Created token {secret} for {options['username']}, valid until "
            f"{token.expires_at:%Y-%m-%d %H:%M} UTC. It is shown only this once."
        )
