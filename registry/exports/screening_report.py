"""The screening report: per screening of an organization in a period, its purpose, mode, counts
per decision and per reason, the registry version it read, and its signed receipt."""

from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.utils import timezone
from django.utils.html import escape

from registry.exports.cells import csv_line, json_array, json_object, json_text
from registry.exports.context import export_header
from registry.models import Screening
from registry.selectors.compliance import (
    ExportScope,
    export_screenings,
    passed_count,
    reason_counts,
    receipt_url,
)

DECISIONS = ("allowed", "denied", "unregistered", "invalid")
CSV_COLUMNS = [
    "screening_id",
    "organization",
    "created_at",
    "finished_at",
    "status",
    "purpose",
    "mode",
    "items",
    *DECISIONS,
    "passed",
    "excluded",
    "reasons",
    "registry_sequence",
    "registry_hash",
    "receipt_key_id",
    "receipt_decisions_digest",
    "receipt_url",
    "receipt",
    "receipt_signature",
]


def screening_summary(screening: Screening) -> dict[str, Any]:
    passed = passed_count(screening)
    return {
        "screening_id": str(screening.id),
        "created_at": screening.created_at.isoformat(),
        "finished_at": screening.finished_at.isoformat() if screening.finished_at else None,
        "status": screening.status,
        "purpose": screening.purpose,
        "mode": screening.mode,
        "items": screening.total_items,
        "counts": {decision: int(screening.counts.get(decision, 0)) for decision in DECISIONS},
        "passed": passed,
        "excluded": screening.done_items - passed,
        "reasons": reason_counts(screening),
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
                summary["items"],
                *(summary["counts"][decision] for decision in DECISIONS),
                summary["passed"],
                summary["excluded"],
                json_text(summary["reasons"]),
                summary["registry_version"]["sequence"],
                summary["registry_version"]["hash"],
                receipt["document"].get("key_id", ""),
                receipt["document"].get("decisions_digest", ""),
                summary["receipt_url"],
                json_text(receipt["document"]) if summary["receipt"] else "",
                receipt["signature"],
            ]
        )


_PAGE_STYLE = """
  body { font: 10.5pt/1.4 system-ui, sans-serif; color: #111; margin: 2em; }
  h1 { font-size: 16pt; margin: 0 0 .3em; } h2 { font-size: 12.5pt; margin: 1.4em 0 .3em; }
  table { border-collapse: collapse; width: 100%; margin: .4em 0; }
  th, td { border: 1px solid #999; padding: 2px 6px; text-align: left; vertical-align: top; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  code, pre { font: 8.5pt/1.3 ui-monospace, monospace; overflow-wrap: anywhere; }
  pre { white-space: pre-wrap; background: #f6f6f6; padding: .5em; margin: .3em 0; }
  section { break-inside: avoid-page; page-break-inside: avoid; }
  .meta td:first-child { width: 14em; color: #444; }
  @page { size: A4; margin: 14mm; }
  @media print { body { margin: 0; } a { color: inherit; text-decoration: none; } }
"""


def _row(label: str, value: Any) -> str:
    return f"<tr><td>{escape(label)}</td><td>{escape(value)}</td></tr>"


def _html_section(summary: dict[str, Any]) -> str:
    counts = "".join(
        f"<tr><td>{escape(d)}</td><td class=n>{summary['counts'][d]}</td></tr>" for d in DECISIONS
    )
    reasons = "".join(
        f"<tr><td>{escape(k)}</td><td class=n>{v}</td></tr>" for k, v in summary["reasons"].items()
    )
    version = summary["registry_version"]
    receipt = summary["receipt"]
    receipt_html = (
        f"<pre>{escape(json_text(receipt['document'], indent=2))}</pre>"
        f"<p>Signature (Ed25519): <code>{escape(receipt['signature'])}</code></p>"
        if receipt
        else "<p>No receipt yet: the screening has not finished.</p>"
    )
    return (
        f"<section><h2>Screening <code>{escape(summary['screening_id'])}</code></h2>"
        '<table class="meta">'
        + _row("Purpose", summary["purpose"])
        + _row("Mode", summary["mode"])
        + _row("Status", summary["status"])
        + _row("Started", summary["created_at"])
        + _row("Finished", summary["finished_at"] or "")
        + _row("Items", summary["items"])
        + _row("Passed / excluded", f"{summary['passed']} / {summary['excluded']}")
        + _row("Registry version", f"{version['sequence']} ({version['hash']})")
        + "</table><table><tr><th>Decision</th><th>Items</th></tr>"
        + counts
        + "</table><table><tr><th>Reason</th><th>Items</th></tr>"
        + (reasons or "<tr><td colspan=2>No items decided.</td></tr>")
        + f"</table><h3>Receipt</h3>{receipt_html}</section>\n"
    )


def report_html(scope: ExportScope) -> Iterator[str]:
    header = export_header("consentry.screening-report", scope)
    title = f"Screening report — {scope.organization.name}"
    head, period = header["registry_version"], header["period"]
    yield (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{_PAGE_STYLE}</style></head><body>\n"
        f"<h1>{escape(title)}</h1><table class=meta>"
        + _row("Period", f"{period['since'] or 'the first'} to {period['until'] or 'now'}")
        + _row("Generated", header["generated_at"])
        + _row("Registry version at export", f"{head['sequence']} ({head['hash']})")
        + _row("Receipt key", f"{header['receipt_key']['key_id']} — {header['receipt_key']['url']}")
        + _row("How to verify", header["verify"]["receipts"])
        + "</table>\n"
    )
    totals = Totals()
    for summary in _summaries(scope, totals):
        yield _html_section(summary)
    summed = totals.as_dict()
    yield (
        "<section><h2>Totals</h2><table>"
        + "".join(
            f"<tr><td>{escape(k)}</td><td class=n>{summed[k]}</td></tr>"
            for k in ("screenings", "items", "passed", "excluded", *DECISIONS)
            if k in summed
        )
        + f"</table><p>Report generated {escape(timezone.now().isoformat())}.</p></section>"
        "</body></html>\n"
    )
