"""The export kinds and their formats: one table that the management command, the API and
the admin all read, so the three always offer the same exports."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from registry.exports.china_art7 import china_art7_csv, china_art7_jsonl
from registry.exports.croissant import croissant_jsonld
from registry.exports.eu_ai_act import eu_ai_act_json
from registry.exports.ledger import ledger_jsonl
from registry.exports.screening_report import report_csv, report_html, report_json
from registry.selectors.compliance import ExportScope, export_screenings

Render = Callable[[ExportScope], Iterator[str]]

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "jsonld": "application/ld+json",
}


@dataclass(frozen=True)
class ExportKind:
    name: str
    title: str
    renders: dict[str, Render]
    # Receipts exist only for finished screenings; evidence rests on nothing else.
    finished_only: bool = True

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(self.renders)

    @property
    def default_format(self) -> str:
        return next(iter(self.renders))


def _ledger(scope: ExportScope) -> Iterator[str]:
    return ledger_jsonl(until=scope.until, organization_id=scope.organization.pk)


KINDS = {
    kind.name: kind
    for kind in (
        ExportKind(
            "screening-report",
            "Screening report",
            {"json": report_json, "csv": report_csv, "html": report_html},
            finished_only=False,
        ),
        ExportKind("ledger", "Consent ledger with signed checkpoint", {"jsonl": _ledger}),
        ExportKind("eu-ai-act", "EU AI Act Art. 53(1)(c)-(d) evidence", {"json": eu_ai_act_json}),
        ExportKind(
            "china-art7",
            "China Interim Measures Art. 7 lawful-source record",
            {"jsonl": china_art7_jsonl, "csv": china_art7_csv},
        ),
        ExportKind("croissant", "Croissant 1.1 dataset", {"jsonld": croissant_jsonld}),
    )
}


class UnknownExport(ValueError):
    pass


@dataclass(frozen=True)
class PreparedExport:
    kind: ExportKind
    format: str
    scope: ExportScope

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def filename(self) -> str:
        extension = "ndjson" if self.format == "jsonl" else self.format
        return f"consentry-{self.kind.name}.{extension}"

    def chunks(self) -> Iterator[str]:
        return self.kind.renders[self.format](self.scope)


def prepare_export(kind_name: str, fmt: str | None, scope: ExportScope) -> PreparedExport:
    """Check the kind and format; the export runs only when its chunks are read."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise UnknownExport(f"Unknown export {kind_name!r}; use one of {', '.join(KINDS)}.")
    fmt = fmt or kind.default_format
    if fmt not in kind.renders:
        raise UnknownExport(
            f"The {kind.name} export comes as {', '.join(kind.formats)}, not {fmt!r}."
        )
    prepared = PreparedExport(kind, fmt, replace(scope, finished_only=kind.finished_only))
    if kind.name != "ledger":
        # Refuse another organization's screening before the first byte is streamed.
        export_screenings(prepared.scope)
    return prepared


def parse_moment(text: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC when it names no zone), as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UnknownExport(f"{text!r} is not an ISO date such as 2026-01-31.") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    # PostgreSQL refuses offsets beyond ±15:59, which Python reads up to ±23:59: the same
    # moment in UTC is one it takes.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise UnknownExport(f"{text!r} falls outside the years 1 to 9999 in UTC.") from None
