from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from registry.selectors.works import held_works
from registry.services.works import HOLD_REVIEW_ERRORS, work_hold_review


class Command(BaseCommand):
    help = (
        "Check held works (registered while their check against other artists' works could "
        "not finish; they allow nothing) against every other artist's work registered before "
        "them, with no verification budget, and release them: with the disputes the check "
        "finds opened, as a registration would, or with none. Each release is a ledger event. "
        "Exits non-zero when a work could not be checked (it stays held)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--work", type=int, help="only this work (else every held work)")
        parser.add_argument(
            "--by", default="review_held_works", help="who reviewed, as the ledger records it"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        works = held_works()
        if options["work"] is not None:
            works = works.filter(pk=options["work"])
            if not works.exists():
                raise CommandError(f"work {options['work']} is not held")
        failed = []
        # Held works are few (a registration's check rarely runs out of its budget).
        for work in list(works):
            try:
                review = work_hold_review(work=work, reviewed_by=options["by"])
            except HOLD_REVIEW_ERRORS as error:
                failed.append(work.pk)
                self.stderr.write(f"work {work.pk}: still held: {_message(error)}")
                continue
            self.stdout.write(_outcome(work.pk, [d.pk for d in review.disputes]))
        if failed:
            raise CommandError(
                f"{len(failed)} works could not be checked: " + ", ".join(map(str, failed))
            )


def _message(error: Exception) -> str:
    return "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)


def _outcome(work_id: int, disputes: list[int]) -> str:
    if not disputes:
        return f"work {work_id}: released, no claim on another artist's work"
    return f"work {work_id}: released with disputes {', '.join(map(str, disputes))} opened"
