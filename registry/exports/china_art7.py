"""China's Interim Measures for Generative AI Services, Article 7: training data must come from
lawful sources and must not infringe intellectual property. Per item that passed screening and
matched a registered work, this export gives its lawful-source and IP record: the registered
work it matched, the artist, the terms that permitted the purpose, and the grant where the use
is licensed. Unregistered items that passed are counted in the header, not listed."""

import re
from collections.abc import Iterator
from typing import Any

from registry.exports.cells import batched, csv_line, json_text
from registry.exports.context import export_header
from registry.exports.screening_report import screening_summary
from registry.models import Grant, Screening, Work
from registry.selectors.compliance import (
    ExportScope,
    export_screenings,
    passing_items,
    receipt_url,
    withdrawn_items,
)
from registry.selectors.coverage import COVERAGE_NOTE

HEADER_TYPE = "consentry.china-art7-header"
RECORD_TYPE = "consentry.china-art7-record"
_PERMIT = re.compile(r"work (\d+): (allowed|licensed)")
_BATCH = 2000

CSV_COLUMNS = [
    "screening_id",
    "purpose",
    "item_id",
    "url",
    "decision",
    "lawful_source",
    "work_id",
    "work_title",
    "artist_id",
    "artist",
    "artist_verified",
    "credit_line",
    "permission",
    "license",
    "attribution",
    "grant_reference",
    "grant_purposes",
    "grant_valid_from",
    "grant_valid_until",
    "grant_revoked_at",
    "registry_url",
    "assurance",
    "consent_withdrawn_at",
    "registry_sequence",
    "registry_hash",
    "receipt_url",
]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _grant_record(grant: Grant | None) -> dict[str, Any] | None:
    if grant is None:
        return None
    return {
        "reference": grant.reference,
        "purposes": grant.purposes,
        "covers_all_works": grant.covers_all_works,
        "valid_from": _iso(grant.valid_from),
        "valid_until": _iso(grant.valid_until),
        "revoked_at": _iso(grant.revoked_at),
    }


class _Lookup:
    """The works, artists and grants one batch of items names, read in three queries."""

    def __init__(self, items: list[tuple[Any, ...]], organization_id: int) -> None:
        work_ids = {credit["work_id"] for row in items for credit in row[4]}
        self.works = {
            work.pk: work for work in Work.objects.filter(pk__in=work_ids).select_related("artist")
        }
        references = {credit["license"] for row in items for credit in row[4]}
        grants = Grant.objects.filter(reference__in=references, organization_id=organization_id)
        self.grants = {grant.reference: grant for grant in grants}

    def work_record(self, credit: dict[str, Any], permission: str) -> dict[str, Any]:
        work = self.works.get(credit["work_id"])
        grant = self.grants.get(credit["license"]) if permission == "licensed" else None
        return {
            "work_id": credit["work_id"],
            "title": credit["title"],
            "artist": {
                "id": work.artist_id if work else None,
                "name": credit["artist"],
                "verified": bool(work and work.artist.verified),
            },
            "credit_line": credit["credit_line"],
            "registry_url": credit["url"],
            "registered_at": _iso(work.created_at) if work else None,
            "terms": {
                "permission": permission,
                "license": credit["license"],
                "attribution": credit["attribution"],
                # Credits written before assurance levels existed carry none: None, not a guess.
                "assurance": credit.get("assurance"),
            },
            "grant": _grant_record(grant),
        }


def _lawful_source(works: list[dict[str, Any]]) -> str:
    if not works:
        return "unregistered: no rights holder's record in the registry"
    if any(work["grant"] is not None for work in works):
        return "licensed by the rights holder's grant"
    return "registered work, use permitted by the rights holder's terms"


def _records(screening: Screening) -> Iterator[dict[str, Any]]:
    columns = ("item_id", "url", "decision", "reason", "credit")
    rows = passing_items(screening).values_list(*columns).iterator(chunk_size=_BATCH)
    withdrawn = withdrawn_items(organization=screening.organization, screening_id=str(screening.id))
    for batch in batched(rows, _BATCH):
        lookup = _Lookup(batch, screening.organization_id)
        for item_id, url, decision, reason, credit in batch:
            permits = dict((int(w), p) for w, p in _PERMIT.findall(reason))
            works = [lookup.work_record(c, permits.get(c["work_id"], "allowed")) for c in credit]
            yield {
                "type": RECORD_TYPE,
                "screening_id": str(screening.id),
                "purpose": screening.purpose,
                "item_id": item_id,
                "url": url,
                "decision": decision,
                "lawful_source": _lawful_source(works),
                "works": works,
                # Consent may be withdrawn after screening: the ledger sequence that did it.
                "consent_withdrawn_at": withdrawn.get(item_id),
                "registry_version": {
                    "sequence": screening.registry_sequence,
                    "hash": screening.registry_hash,
                },
                "receipt_url": receipt_url(screening.id),
            }


def _all_records(scope: ExportScope) -> Iterator[dict[str, Any]]:
    for screening in export_screenings(scope).iterator(chunk_size=200):
        yield from _records(screening)


def china_art7_jsonl(scope: ExportScope) -> Iterator[str]:
    header = export_header(HEADER_TYPE, scope)
    header["screenings"] = [
        {
            key: summary[key]
            for key in (
                "screening_id",
                "purpose",
                "mode",
                "counts",
                "coverage",
                "registry_version",
                "receipt",
            )
        }
        for summary in map(screening_summary, export_screenings(scope))
    ]
    header["records_cover"] = (
        "One record per passing item that matched a registered work. Unregistered items that "
        "passed (respect_opt_outs mode) have no rights holder's record: they are counted per "
        "screening (coverage.counted_only), not listed. " + COVERAGE_NOTE
    )
    yield json_text(header) + "\n"
    for record in _all_records(scope):
        yield json_text(record) + "\n"


def _csv_rows(record: dict[str, Any]) -> Iterator[list[Any]]:
    version = record["registry_version"]
    common = [record["screening_id"], record["purpose"], record["item_id"], record["url"]]
    withdrawn = record["consent_withdrawn_at"]
    tail = [withdrawn or "", version["sequence"], version["hash"], record["receipt_url"]]
    if not record["works"]:
        yield [*common, record["decision"], record["lawful_source"], *[""] * 16, *tail]
    for work in record["works"]:
        grant = work["grant"] or {}
        yield [
            *common,
            record["decision"],
            record["lawful_source"],
            work["work_id"],
            work["title"],
            work["artist"]["id"],
            work["artist"]["name"],
            work["artist"]["verified"],
            work["credit_line"],
            work["terms"]["permission"],
            work["terms"]["license"],
            work["terms"]["attribution"],
            grant.get("reference", ""),
            " ".join(grant.get("purposes", [])),
            grant.get("valid_from", ""),
            grant.get("valid_until", ""),
            grant.get("revoked_at", ""),
            work["registry_url"],
            work["terms"]["assurance"] or "",
            *tail,
        ]


def china_art7_csv(scope: ExportScope) -> Iterator[str]:
    yield csv_line(CSV_COLUMNS)
    for record in _all_records(scope):
        for row in _csv_rows(record):
            yield csv_line(row)
