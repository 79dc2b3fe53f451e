"""The screening report: per screening of an organization in a period, its purpose, mode, counts
per decision and per reason, the registry version it read, and its signed receipt.

CSV and JSON carry the codes for machines; the printable page says the same in words."""

import base64
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from registry.exports.cells import batched, csv_line, json_array, json_object, json_text
from registry.exports.context import export_header
from registry.exports.labels import (
    decision_label,
    mode_label,
    purpose_label,
    reason_label,
    status_label,
)
from registry.exports.reasons import count_reasons
from registry.gatekeeper import Decision
from registry.models import Assurance, MinimumAssurance, Screening
from registry.receipts import canonical_json
from registry.selectors.compliance import (
    ExportScope,
    export_screenings,
    passed_count,
    reason_rows,
    receipt_url,
)
from registry.selectors.coverage import item_coverage

DECISIONS = tuple(Decision)
CSV_COLUMNS = [
    "screening_id",
    "organization",
    "created_at",
    "finished_at",
    "status",
    "purpose",
    "mode",
    "min_assurance",
    "items",
    *DECISIONS,
    "passed",
    "excluded",
    "reasons",
    "allowed_by_assurance",
    "registry_sequence",
    "registry_hash",
    "receipt_key_id",
    "receipt_decisions_digest",
    "receipt_url",
    "receipt",
    "receipt_signature",
    "listed_items",
    "counted_only",
]


def _reason_counts(screening: Screening) -> dict[str, int]:
    """Items per "decision: reason kind": the listed items' rows, plus the unlisted items
    (unregistered, invalid), counted per reason kind when their chunk was decided."""
    counts = Counter(count_reasons(reason_rows(screening)))
    counts.update({kind: int(items) for kind, items in screening.unlisted_reasons.items()})
    return dict(sorted(counts.items()))


def screening_summary(screening: Screening) -> dict[str, Any]:
    passed = passed_count(screening)
    return {
        "screening_id": str(screening.id),
        "created_at": screening.created_at.isoformat(),
        "finished_at": screening.finished_at.isoformat() if screening.finished_at else None,
        "status": screening.status,
        "purpose": screening.purpose,
        "mode": screening.mode,
        # The least assurance a permission needed, and what the allowed items relied on at worst.
        "min_assurance": screening.min_assurance,
        "items": screening.total_items,
        "counts": {decision: int(screening.counts.get(decision, 0)) for decision in DECISIONS},
        "passed": passed,
        "excluded": screening.done_items - passed,
        "reasons": _reason_counts(screening),
        "allowed_by_assurance": dict(sorted(screening.assurance_counts.items())),
        # Per-item reads (exports, the items API) list only these; the rest are counts.
        "coverage": item_coverage(screening),
        "registry_version": {
            "sequence": screening.registry_sequence,
            "hash": screening.registry_hash,
        },
        "matching": screening.matching,
        "receipt": (
            {"document": screening.receipt, "signature": screening.receipt_signature}
            if screening.receipt is not None
            else None
        ),
        "receipt_url": receipt_url(screening.id),
    }


class Totals:
    """Sums over the screenings streamed so far, for the end of a report."""

    def __init__(self) -> None:
        self.screenings = 0
        self.counts: Counter[str] = Counter()

    def add(self, summary: dict[str, Any]) -> dict[str, Any]:
        self.screenings += 1
        self.counts.update({"items": summary["items"], "passed": summary["passed"]})
        self.counts.update({"excluded": summary["excluded"], **summary["counts"]})
        self.counts.update({"listed_items": summary["coverage"]["listed_items"]})
        self.counts.update({f"reason {k}": v for k, v in summary["reasons"].items()})
        return summary

    def as_dict(self) -> dict[str, Any]:
        reasons = {k[7:]: v for k, v in sorted(self.counts.items()) if k.startswith("reason ")}
        plain = {k: v for k, v in self.counts.items() if not k.startswith("reason ")}
        return {"screenings": self.screenings, **plain, "reasons": reasons}


def _summaries(scope: ExportScope, totals: Totals) -> Iterator[dict[str, Any]]:
    for screening in export_screenings(scope).iterator(chunk_size=200):
        yield totals.add(screening_summary(screening))


def report_json(scope: ExportScope) -> Iterator[str]:
    totals = Totals()

    def fields() -> Iterator[tuple[str, Any]]:
        yield from export_header("consentry.screening-report", scope).items()
        yield "screenings", json_array(_summaries(scope, totals))
        # Read only after the screenings above were streamed and counted.
        yield "totals", totals.as_dict()

    return json_object(fields())


def report_csv(scope: ExportScope) -> Iterator[str]:
    yield csv_line(CSV_COLUMNS)
    organization = scope.organization.name
    for summary in _summaries(scope, Totals()):
        receipt = summary["receipt"] or {"document": {}, "signature": ""}
        yield csv_line(
            [
                summary["screening_id"],
                organization,
                summary["created_at"],
                summary["finished_at"],
                summary["status"],
                summary["purpose"],
                summary["mode"],
                summary["min_assurance"],
                summary["items"],
                *(summary["counts"][decision] for decision in DECISIONS),
                summary["passed"],
                summary["excluded"],
                json_text(summary["reasons"]),
                json_text(summary["allowed_by_assurance"]),
                summary["registry_version"]["sequence"],
                summary["registry_version"]["hash"],
                receipt["document"].get("key_id", ""),
                _decisions_digest(receipt["document"]),
                summary["receipt_url"],
                json_text(receipt["document"]) if summary["receipt"] else "",
                receipt["signature"],
                summary["coverage"]["listed_items"],
                json_text(summary["coverage"]["counted_only"]),
            ]
        )


# --- The printable report: a summary page, a table per screening, receipts as attachments ----

HTML_BATCH = 200


@dataclass(frozen=True)
class ReportRow:
    """One screening of the printable report, without its receipt (read again when printed)."""

    number: int
    summary: dict[str, Any]
    matching: str  # the configuration's letter in the report's appendix


def _when(moment: str | datetime | None) -> str:
    if moment is None:
        return ""
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _decisions_digest(document: dict[str, Any]) -> str:
    """What the receipt commits its decisions to: a digest (versions 1-2) or a Merkle root."""
    return str(document.get("decisions_root") or document.get("decisions_digest") or "")


def _digest(document: Any) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def _decision_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    reasons: dict[str, list[tuple[str, int]]] = {decision: [] for decision in DECISIONS}
    for key, count in summary["reasons"].items():
        decision, _, kind = key.partition(": ")
        reasons.setdefault(decision, []).append((reason_label(kind), count))
    return [
        {
            "code": decision,
            "label": decision_label(decision),
            "items": summary["counts"][decision],
            "reasons": reasons[decision],
        }
        for decision in DECISIONS
    ]


def _receipt_attachment(screening: Screening) -> dict[str, str] | None:
    """The signed receipt as the file `verify-receipt` reads, plus what to compare it with."""
    if screening.receipt is None:
        return None
    document = screening.receipt
    attachment = json_text({"document": document, "signature": screening.receipt_signature})
    return {
        "href": "data:application/json;base64," + base64.b64encode(attachment.encode()).decode(),
        "filename": f"receipt-{screening.id}.json",
        "key_id": document.get("key_id", ""),
        "decisions_digest": _decisions_digest(document),
        "document_sha256": _digest(document),
        "signature": screening.receipt_signature,
    }


def _rows(scope: ExportScope) -> tuple[list[ReportRow], dict[str, dict[str, Any]]]:
    """Every screening of the scope as a row, and the distinct matching configurations."""
    rows: list[ReportRow] = []
    configurations: dict[str, dict[str, Any]] = {}
    for number, screening in enumerate(export_screenings(scope).iterator(chunk_size=200), 1):
        summary = screening_summary(screening)
        summary.pop("receipt")
        matching = summary.pop("matching")
        digest = _digest(matching)
        if digest not in configurations:
            configurations[digest] = {
                "letter": chr(ord("A") + len(configurations) % 26)
                + (str(len(configurations) // 26) if len(configurations) >= 26 else ""),
                "sha256": digest,
                "settings": sorted((key, json_text(value)) for key, value in matching.items()),
                "screenings": [],
            }
        configurations[digest]["screenings"].append(number)
        rows.append(ReportRow(number, summary, configurations[digest]["letter"]))
    return rows, configurations


def _summary_row(row: ReportRow) -> dict[str, Any]:
    summary = row.summary
    return {
        "number": row.number,
        "id": summary["screening_id"],
        "started": _when(summary["created_at"]),
        "purpose": purpose_label(summary["purpose"]),
        "mode": mode_label(summary["mode"]),
        "min_assurance": MinimumAssurance(summary["min_assurance"]).label,
        "allowed_by_assurance": [
            (Assurance(level).label, count)
            for level, count in summary["allowed_by_assurance"].items()
            if level in Assurance.values
        ],
        "status": summary["status"],
        "status_label": status_label(summary["status"]),
        "items": summary["items"],
        "counts": [summary["counts"][decision] for decision in DECISIONS],
        "passed": summary["passed"],
        "excluded": summary["excluded"],
        "listed": summary["coverage"]["listed_items"],
        "counted_unregistered": summary["coverage"]["counted_only"]["unregistered"],
        "counted_invalid": summary["coverage"]["counted_only"]["invalid"],
    }


def _totals(rows: list[ReportRow]) -> dict[str, Any]:
    totals = Totals()
    for row in rows:
        totals.add(row.summary)
    summed = totals.as_dict()
    reasons = []
    for key, count in summed["reasons"].items():
        decision, _, kind = key.partition(": ")
        reasons.append(
            {"decision": decision_label(decision), "reason": reason_label(kind), "items": count}
        )
    return {
        "screenings": summed["screenings"],
        "items": summed.get("items", 0),
        "counts": [summed.get(decision, 0) for decision in DECISIONS],
        "passed": summed.get("passed", 0),
        "excluded": summed.get("excluded", 0),
        "reasons": reasons,
    }


def _html_sections(rows: list[ReportRow], total: int) -> Iterator[str]:
    for batch in batched(rows, HTML_BATCH):
        receipts = Screening.objects.only("id", "receipt", "receipt_signature").in_bulk(
            [row.summary["screening_id"] for row in batch]
        )
        for row in batch:
            summary = row.summary
            version = summary["registry_version"]
            screening = receipts[UUID(summary["screening_id"])]
            yield render_to_string(
                "registry/exports/screening_report_section.html",
                {
                    "row": _summary_row(row),
                    "total": total,
                    "finished": _when(summary["finished_at"]),
                    "version": version,
                    "matching": row.matching,
                    "decisions": _decision_rows(summary),
                    "receipt": _receipt_attachment(screening),
                },
            )


def _html(scope: ExportScope, language: str) -> Iterator[str]:
    with translation.override(language):
        header = export_header("consentry.screening-report", scope)
        rows, configurations = _rows(scope)
        period = header["period"]
        yield render_to_string(
            "registry/exports/screening_report_summary.html",
            {
                "language": language,
                "organization": scope.organization.name,
                "since": _when(period["since"]),
                "until": _when(period["until"]),
                "generated": _when(header["generated_at"]),
                "head": header["registry_version"],
                "receipt_key": header["receipt_key"],
                "verify": header["verify"]["receipts"],
                "decisions": [decision_label(decision) for decision in DECISIONS],
                "rows": [_summary_row(row) for row in rows],
                "totals": _totals(rows),
            },
        )
        yield from _html_sections(rows, len(rows))
        yield render_to_string(
            "registry/exports/screening_report_end.html",
            {"configurations": list(configurations.values())},
        )


def report_html(scope: ExportScope) -> Iterator[str]:
    """The printable report, in the language active now (the request's), for a regulator:
    a summary page, then one compact table per screening with its receipt attached as the
    JSON file that `verify-receipt` checks, and the matching configurations once at the end."""
    # The page is streamed after the view returns; the language is fixed here, while the
    # request's is still active.
    return _html(scope, translation.get_language() or settings.LANGUAGE_CODE)
