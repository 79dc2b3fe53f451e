from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from registry.fingerprints import FINGERPRINT_VERSION, ImageDecodeError
from registry.models import Work
from registry.services.works import work_refingerprint


class Command(BaseCommand):
    help = (
        "Fingerprint again, from their stored images, the works whose fingerprints an earlier "
        f"version made (this one is {FINGERPRINT_VERSION}). Run it after upgrading the "
        "matching, then restart the web and worker processes: each builds its candidate "
        "index from the fingerprints at its first query."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--limit", type=int, default=0, help="at most this many works (0: all of them)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stale = Work.objects.active().exclude(fingerprint_version=FINGERPRINT_VERSION)
        ids = list(stale.order_by("pk").values_list("pk", flat=True))
        if options["limit"] > 0:
            ids = ids[: options["limit"]]
        done = exact_only = failed = 0
        for work in Work.objects.filter(pk__in=ids).order_by("pk").iterator(chunk_size=100):
            try:
                changed = work_refingerprint(work=work)
            except (ImageDecodeError, OSError) as error:
                failed += 1
                self.stderr.write(f"work {work.pk}: kept its old fingerprints: {error}")
                continue
            done += changed
            exact_only += changed and not work.fingerprints.exists()
        self.stdout.write(
            f"{done} works fingerprinted at version {FINGERPRINT_VERSION} "
            f"({exact_only} too plain to match: exact copies only); {failed} failed; "
            f"{stale.count()} still at an earlier version."
        )
