from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from registry.fingerprints import FINGERPRINT_VERSION, ImageDecodeError
from registry.selectors.works import has_perceptual_fingerprints, works_fingerprinted_before
from registry.services.works import work_refingerprint

_BATCH = 1000


class Command(BaseCommand):
    help = (
        "Fingerprint again, from their stored images, the works whose fingerprints an earlier "
        f"version made (this one is {FINGERPRINT_VERSION}). Run it after upgrading the "
        "matching; each work done is a ledger event, which running processes catch up with. "
        "Exits non-zero when a work could not be fingerprinted (it keeps its old rows)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--limit", type=int, default=0, help="at most this many works (0: all of them)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stale = works_fingerprinted_before(FINGERPRINT_VERSION)
        limit = options["limit"] if options["limit"] > 0 else None
        done, exact_only, failed = 0, [], []
        last, seen = 0, 0
        # Batches by primary key: no list of every stale work's id, and a failed work (still
        # stale) is passed over rather than met again.
        while limit is None or seen < limit:
            batch = list(stale.filter(pk__gt=last)[: min(_BATCH, (limit or _BATCH) - seen)])
            if not batch:
                break
            for work in batch:
                last, seen = work.pk, seen + 1
                try:
                    changed = work_refingerprint(work=work)
                except (ImageDecodeError, OSError) as error:
                    failed.append(work.pk)
                    self.stderr.write(f"work {work.pk}: kept its old fingerprints: {error}")
                    continue
                done += changed
                if changed and not has_perceptual_fingerprints(work):
                    exact_only.append(work.pk)
        self.stdout.write(
            f"{done} works fingerprinted at version {FINGERPRINT_VERSION}; "
            f"{len(failed)} failed; {stale.count()} still at an earlier version."
        )
        if exact_only:
            # Re-posts of these matched them before; now only exact copies do.
            self.stdout.write(
                f"{len(exact_only)} too plain to match re-posts, kept for exact copies only: "
                + ", ".join(map(str, exact_only))
            )
        if failed:
            raise CommandError(
                f"{len(failed)} works could not be fingerprinted: " + ", ".join(map(str, failed))
            )
