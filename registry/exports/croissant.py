"""Croissant 1.1 JSON-LD for a filtered dataset: the items that passed screening, one record
each, with its licence, creator and citation, and the Responsible-AI fields Consentry can
vouch for. The records are inline (`data`), so the file is complete on its own."""

from collections.abc import Iterator
from itertools import chain
from typing import Any

from django.conf import settings
from django.utils import timezone

from registry.exports.cells import json_array, json_object, json_text
from registry.exports.context import export_header
from registry.models import Screening, ScreeningMode
from registry.selectors.compliance import (
    ExportScope,
    export_screenings,
    passing_items,
    receipt_url,
    withdrawn_items,
)
from registry.selectors.coverage import unlisted_counts

CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
RECORD_SET = "items"
NOTHING_PASSED = "No item passed screening in this scope, so the dataset has no record set."

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "containedIn": "cr:containedIn",
    "conformsTo": "dct:conformsTo",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

# (name, data type, the schema.org property the field carries per record, description)
FIELDS = [
    ("id", "sc:Text", None, "The item id the organization sent."),
    ("url", "sc:URL", "sc:contentUrl", "Where the organization found the image, if it said."),
    ("screening_id", "sc:Text", None, "The screening that decided the item (see its receipt)."),
    (
        "decision",
        "sc:Text",
        None,
        "allowed; or unregistered (respect_opt_outs mode only), from screenings decided before "
        "unregistered items were counted rather than listed.",
    ),
    ("license", "sc:Text", "sc:license", "SPDX licence id or grant reference, per work."),
    ("creator", "sc:Text", "sc:creator", "The artist's credit line, per work."),
    ("citeAs", "sc:Text", "cr:citeAs", "How to cite the work."),
    ("attribution", "sc:Text", "sc:creditText", "Text that must accompany the work."),
    ("work_ids", "sc:Text", None, "Registry work ids the item matched."),
    ("registry_url", "sc:URL", "sc:isBasedOn", "The registry's credit record for the work."),
    (
        "assurance",
        "sc:Text",
        None,
        "How sure the registry was that each permission came from the rights holder, per work.",
    ),
]


def _spdx_url(license_id: str) -> str:
    if license_id.startswith("grant-") or not license_id:
        return license_id
    return f"https://spdx.org/licenses/{license_id}.html"


def _field(name: str, data_type: str, equivalent: str | None, description: str) -> dict[str, Any]:
    field: dict[str, Any] = {
        "@type": "cr:Field",
        "@id": f"{RECORD_SET}/{name}",
        "name": name,
        "description": description,
        "dataType": data_type,
    }
    if equivalent:
        field["equivalentProperty"] = equivalent
    return field


def _cite(credit: dict[str, Any]) -> str:
    return f"{credit['credit_line']}, “{credit['title']}”, Consentry work {credit['work_id']}"


def _joined(credits: list[dict[str, Any]], value: Any) -> str:
    return "; ".join(str(value(credit)) for credit in credits if value(credit))


class _Licences:
    """The distinct licences seen while the records streamed, for the dataset's `license`."""

    def __init__(self) -> None:
        self.seen: dict[str, None] = {}

    def note(self, credits: list[dict[str, Any]]) -> None:
        for credit in credits:
            if credit["license"]:
                self.seen.setdefault(_spdx_url(credit["license"]), None)


def _records(screenings: list[Screening], licences: _Licences) -> Iterator[dict[str, Any]]:
    for screening in screenings:
        rows = passing_items(screening).values_list("item_id", "url", "decision", "credit")
        withdrawn = withdrawn_items(
            organization=screening.organization, screening_id=str(screening.id)
        )
        for item_id, url, decision, credit in rows.iterator(chunk_size=5000):
            if item_id in withdrawn:  # consent withdrawn since screening: not in the dataset
                continue
            licences.note(credit)
            yield {
                f"{RECORD_SET}/id": item_id,
                f"{RECORD_SET}/url": url,
                f"{RECORD_SET}/screening_id": str(screening.id),
                f"{RECORD_SET}/decision": decision,
                f"{RECORD_SET}/license": _joined(credit, lambda c: _spdx_url(c["license"])),
                f"{RECORD_SET}/creator": _joined(credit, lambda c: c["credit_line"]),
                f"{RECORD_SET}/citeAs": _joined(credit, _cite),
                f"{RECORD_SET}/attribution": _joined(credit, lambda c: c["attribution"]),
                f"{RECORD_SET}/work_ids": _joined(credit, lambda c: c["work_id"]),
                f"{RECORD_SET}/registry_url": _joined(credit, lambda c: c["url"]),
                f"{RECORD_SET}/assurance": _joined(credit, lambda c: c.get("assurance", "")),
            }


def unlisted_passing(screenings: list[Screening]) -> int:
    """Unregistered items that passed (respect_opt_outs) but have no record: counted only."""
    return sum(
        unlisted_counts(screening)["unregistered"]
        for screening in screenings
        if screening.mode == ScreeningMode.RESPECT_OPT_OUTS
    )


def coverage_text(screenings: list[Screening]) -> str:
    counted = unlisted_passing(screenings)
    if not counted:
        return "Every item that passed has a record."
    return (
        f"The records are the items that matched a registered work. {counted} further item(s) "
        "passed as unregistered (respect_opt_outs mode) and are counted, not listed: they carry "
        "no consent record and no credit, their ids are in the screening organization's "
        "results files, and each one's decision is provable against the Merkle roots of the "
        "signed receipts (isBasedOn)."
    )


def _rai(screenings: list[Screening]) -> dict[str, Any]:
    purposes = ", ".join(sorted({s.purpose for s in screenings})) or "none"
    versions = ", ".join(f"{s.registry_sequence} ({s.registry_hash[:16]}…)" for s in screenings)
    timeframe = (
        [screenings[0].created_at.isoformat(), screenings[-1].created_at.isoformat()]
        if screenings
        else []
    )
    return {
        "rai:dataCollection": "Images gathered by the organization and screened, before use, "
        "with the Consentry gatekeeper against artists' recorded consent.",
        "rai:dataCollectionTimeframe": timeframe,
        "rai:dataPreprocessingProtocol": [
            "Each image was fingerprinted (SHA-256, pHash, dHash, PDQ, descriptor) and matched "
            f"against the consent registry at registry version(s) {versions or 'none'}.",
            "Only the items that passed were kept: allowed items (the artist permits the "
            "purpose, or licensed it to this organization), plus unregistered items in "
            "respect_opt_outs mode. Denied and invalid items were removed, and so were items "
            "whose consent was withdrawn after screening (withdrawal notices up to export).",
        ],
        "rai:dataUseCases": f"Screened for: {purposes}. Use beyond these purposes is not covered.",
        "rai:dataLimitations": "Consent can be withdrawn after screening: follow "
        "GET /api/v1/consent-changes or the signed webhooks, and drop the affected items. "
        "Unregistered items carry no consent record and no credit. " + coverage_text(screenings),
        "rai:dataReleaseMaintenancePlan": "Re-export after every withdrawal notice; each "
        "screening's signed receipt names the registry version its decisions read.",
    }


def croissant_jsonld(scope: ExportScope) -> Iterator[str]:
    screenings = list(export_screenings(scope))
    header = export_header("croissant", scope)
    licences = _Licences()
    version = header["registry_version"]
    name = f"{scope.organization.name} — consented images"

    def fields() -> Iterator[tuple[str, Any]]:
        # Croissant forbids a record set of no records (`data` must be a non-empty list), so
        # a scope where nothing passed is described as a dataset without a record set.
        records = _records(screenings, licences)
        first = next(records, None)
        yield "@context", CONTEXT
        yield "@type", "sc:Dataset"
        yield "conformsTo", CROISSANT_1_1
        yield "name", name
        yield (
            "description",
            (
                f"The images of {scope.organization.name} that passed Consentry screening "
                f"(registry version {version['sequence']}, {version['hash']}), each with the "
                "licence, creator and citation its artist recorded. "
                + coverage_text(screenings)
                + ("" if first else f" {NOTHING_PASSED}")
            ),
        )
        yield "url", f"{settings.CONSENTRY_PUBLIC_URL}/api/v1/exports/croissant"
        yield "creator", {"@type": "sc:Organization", "name": scope.organization.name}
        yield "datePublished", timezone.now().date().isoformat()
        yield "version", f"1.0.{version['sequence']}"
        yield (
            "citeAs",
            f"{name}. Screened with Consentry at registry version {version['sequence']}.",
        )
        yield "isBasedOn", [receipt_url(s.id) for s in screenings]
        yield from _rai(screenings).items()
        yield "recordSet", _record_sets(chain([first], records)) if first else []
        # Known only once every record was written.
        yield "license", list(licences.seen) or ["https://spdx.org/licenses/NOASSERTION"]

    return json_object(fields())


def _record_sets(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    record_set = {
        "@type": "cr:RecordSet",
        "@id": RECORD_SET,
        "name": RECORD_SET,
        "description": "One record per image that passed screening and matched a registered "
        "work; unregistered items that passed are counted in the dataset's description.",
        "field": [_field(*field) for field in FIELDS],
    }
    yield "[" + json_object_open(record_set) + ', "data": '
    yield from json_array(records)
    yield "}]"


def json_object_open(document: dict[str, Any]) -> str:
    """The object without its closing brace, so more keys can follow."""
    return json_text(document).rstrip()[:-1]
