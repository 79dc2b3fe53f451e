from pathlib import Path
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.exports.kinds import CONTENT_TYPES, KINDS, UnknownExport, parse_moment, prepare_export
from registry.selectors.accounts import organization_by_name
from registry.selectors.compliance import ExportScope


class Command(BaseCommand):
    help = (
        "Write a compliance export for an organization: screening-report (csv, json, html), "
        "ledger (jsonl), eu-ai-act (json), china-art7 (jsonl, csv) or croissant (jsonld)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=list(KINDS))
        parser.add_argument("--organization", required=True, help="the organization's name")
        parser.add_argument("--since", help="screenings started on or after (ISO date)")
        parser.add_argument("--until", help="screenings started before (ISO date)")
        parser.add_argument(
            "--screening", action="append", default=[], help="a screening id (repeatable)"
        )
        parser.add_argument("--format", choices=list(CONTENT_TYPES), help="default: the kind's")
        parser.add_argument("--out", required=True, type=Path, help="the file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_name(options["organization"])
        if organization is None:
            raise CommandError(f"No organization is named {options['organization']!r}.")
        try:
            scope = ExportScope(
                organization=organization,
                since=parse_moment(options["since"]) if options["since"] else None,
                until=parse_moment(options["until"]) if options["until"] else None,
                screening_ids=tuple(options["screening"]),
            )
            prepared = prepare_export(options["kind"], options["format"], scope)
        except ObjectDoesNotExist:  # a screening that is not the organization's
            raise CommandError(f"{organization} has no such screening.") from None
        except UnknownExport as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        out = Path(options["out"])
        size = 0
        # Written as streamed; a failure leaves a partial file that a verifier would refuse.
        with out.open("w", encoding="utf-8", newline="") as file:
            for chunk in prepared.chunks():
                size += file.write(chunk)
        self.stdout.write(
            f"Wrote the {prepared.kind.name} export ({prepared.format}, {size} characters) "
            f"of {organization} to {out}."
        )
