from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from registry.selectors.accounts import artist_by_username
from registry.services.sites import site_register, site_verify


class Command(BaseCommand):
    help = (
        "Register a URL prefix where an artist publishes (e.g. https://example.com/portfolio/); "
        "with --verified, also record that staff checked the artist controls it. Only a "
        "verified prefix reserves the URLs under it."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", help="the artist's login name")
        parser.add_argument("prefix", help="an http(s) URL prefix, without query or fragment")
        parser.add_argument("--verified", action="store_true", help="staff checked control")

    def handle(self, *args: Any, **options: Any) -> None:
        artist = artist_by_username(options["username"])
        if artist is None:
            raise CommandError(f"No artist has the login name {options['username']!r}.")
        try:
            site = site_register(artist=artist, url_prefix=options["prefix"])
            if options["verified"]:
                site_verify(site=site)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        state = "verified" if site.verified else "not verified yet"
        self.stdout.write(f"{site.url_prefix} registered for {artist.display_name} ({state}).")
