from argparse import ArgumentParser
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand

from registry.fingerprints import FINGERPRINT_VERSION, ImageDecodeError
from registry.selectors.works import has_perceptual_fingerprints, works_fingerprinted_before
from registry.services.works import work_refingerprint

if TYPE_CHECKING:
    from registry.models import Work


class Command(BaseCommand):
    help = (
        "Fingerprint again, from their stored images, the works whose fingerprints an earlier "
        f"version made (this one is {FINGERPRINT_VERSION}). Run it after upgrading the "
        "matching; each work done is a ledger event, which running processes catch up with."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--limit", type=int, default=0, help="at most this many works (0: all of them)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stale = works_fingerprinted_before(FINGERPRINT_VERSION)
        ids = list(stale.values_list("pk", flat=True))
        if options["limit"] > 0:
            ids = ids[: options["limit"]]
        done = exact_only = failed = 0
        work: Work
        for work in stale.filter(pk__in=ids).iterator(chunk_size=100):
            try:
                changed = work_refingerprint(work=work)
            except (ImageDecodeError, OSError) as error:
                failed += 1
                self.stderr.write(f"work {work.pk}: kept its old fingerprints: {error}")
                continue
            done += changed
            exact_only += changed and not has_perceptual_fingerprints(work)
        self.stdout.write(
            f"{done} works fingerprinted at version {FINGERPRINT_VERSION} "
            f"({exact_only} too plain to match: exact copies only); {failed} failed; "
            f"{stale.count()} still at an earlier version."
        )
