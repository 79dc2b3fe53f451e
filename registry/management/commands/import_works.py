import json
from argparse import ArgumentParser
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from registry.fingerprints import ImageDecodeError
from registry.optout.purposes import PURPOSES
from registry.selectors.accounts import artist_by_username
from registry.services.works import title_from_filename, work_register

if TYPE_CHECKING:
    from registry.models import Artist

# Inside folders only image files are taken, so sidecar files (.json, .txt) are not reported.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def image_paths(paths: list[str]) -> Iterator[Path]:
    """Named files as they are; folders walked in a stable order for their image files."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES:
                    yield child
        else:
            yield path


class Command(BaseCommand):
    help = (
        "Register every image under the paths as works of an artist. Prints one JSON line per "
        "file; a bad file is reported and skipped, the rest are imported."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--artist", required=True, help="the artist's username")
        parser.add_argument(
            "--allow",
            action="append",
            default=[],
            choices=PURPOSES,
            help="a purpose the works are allowed for (repeatable); others follow the defaults",
        )
        parser.add_argument("--license", default="", help="SPDX licence id, e.g. CC-BY-4.0")

    def handle(self, *args: Any, **options: Any) -> None:
        artist = artist_by_username(options["artist"])
        if artist is None:
            raise CommandError(f"No artist has the username {options['artist']!r}.")
        failures = 0
        for path in image_paths(options["paths"]):
            result = self._import_one(artist, path, options["allow"], options["license"])
            failures += "error" in result
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        if failures:
            self.stderr.write(f"{failures} file(s) were not imported.")

    def _import_one(
        self, artist: "Artist", path: Path, allow: list[str], license: str
    ) -> dict[str, Any]:
        try:
            data = path.read_bytes()
            registration = work_register(
                artist=artist,
                data=data,
                title=title_from_filename(path.name),
                allow=allow,
                license=license,
            )
        except OSError as error:
            return {"path": str(path), "error": f"cannot read the file: {error.strerror}"}
        except (ImageDecodeError, ValidationError) as error:
            message = (
                "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            )
            return {"path": str(path), "error": message}
        result: dict[str, Any] = {"path": str(path), "work_id": registration.work.pk}
        if registration.disputes:
            result["disputes"] = [dispute.pk for dispute in registration.disputes]
        if registration.notice:  # too plain to match re-posts: exact copies only
            result["notice"] = registration.notice
        return result
