"""EU AI Act Article 53(1)(c)-(d) evidence pack for one organization's dataset.

(c) asks for a policy that identifies and complies with reservations of rights expressed under
Article 4(3) of Directive (EU) 2019/790; (d) for the public summary of training content on the
AI Office's template. The pack gives the evidence behind both: how reservations were identified
(methods, matching configuration, registry version) and honoured (mode, decisions), what was
screened, what was excluded and why (item by item where an item matched a registered work or
was denied; as counts for the invalid and unregistered rest), and pre-filled answers for the
template's section 3, "Data processing aspects".
"""

from collections import Counter
from collections.abc import Iterator
from typing import Any

from registry.exports.cells import json_array, json_object
from registry.exports.context import export_header
from registry.exports.reasons import reason_kinds
from registry.exports.screening_report import Totals, screening_summary
from registry.models import Screening, ScreeningMode, WithdrawalNotice
from registry.selectors.compliance import ExportScope, excluded_items, export_screenings
from registry.selectors.coverage import COVERAGE_NOTE, unlisted_counts

EXPORT_TYPE = "consentry.eu-ai-act-evidence"
TO_BE_PROVIDED = "TO BE PROVIDED by the provider"

METHODS = [
    "Rights holders (artists) record in the Consentry registry, per registered work and per "
    "purpose, whether their work may be used: allowed, not_allowed, or licensed to named "
    "organizations only (grants with a validity window). Purposes follow the C2PA 1.4 / CAWG "
    "training-and-data-mining assertion: ai_training, ai_generative_training, data_mining, "
    "ai_inference.",
    "Consent first: a registered work is not_allowed for every purpose until its artist says "
    "otherwise; artist-level defaults apply where a work has no terms of its own.",
    "Each screened image is fingerprinted (SHA-256, pHash, dHash, PDQ and a verification "
    "descriptor) and matched against every registered work and its registered variants "
    "(mirrored, rotated, trimmed, cropped), so that re-posts whose metadata was stripped are "
    "still recognised. The thresholds are the matching configuration below, published at "
    "/api/v1/matching and signed into every receipt.",
    "Fail closed: an image that cannot be fingerprinted, whose fingerprint is malformed, or "
    "that carries too little information to match reliably is invalid and excluded.",
    "A matched work not permitted to the organization for the purpose (not allowed, licensed "
    "without a valid grant, or under an open ownership dispute) excludes the image (denied).",
    "Every consent change is an entry of an append-only, hash-chained ledger; each screening "
    "records the ledger head (registry version) it read, and each receipt is signed (Ed25519).",
]

MODES = {
    "consent_required": "Only images matching registered works whose rights holders permit "
    "the purpose pass (express consent).",
    "respect_opt_outs": "Images matching registered works pass only when permitted; images "
    "matching no registered work pass too, without credit (reservations are honoured, "
    "absence of a reservation is not read as consent to anything else).",
}


def _dataset_section(summaries: list[dict[str, Any]], totals: Totals) -> dict[str, Any]:
    return {"screenings": summaries, "totals": totals.as_dict()}


def _policy_section(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    configurations: list[dict[str, Any]] = []
    for summary in summaries:
        match = next((c for c in configurations if c["matching"] == summary["matching"]), None)
        if match is None:
            configurations.append({"matching": summary["matching"], "screening_ids": []})
            match = configurations[-1]
        match["screening_ids"].append(summary["screening_id"])
    return {
        "identification": {
            "methods": METHODS,
            "matching_configurations": configurations,
            "registry_versions": [
                {"screening_id": s["screening_id"], **s["registry_version"]} for s in summaries
            ],
        },
        "honouring": {
            "modes_used": {s["mode"]: MODES[s["mode"]] for s in summaries if s["mode"] in MODES},
            # Whose permission counted: only claims at or above each screening's minimum.
            "rights_holder_assurance": [
                {
                    "screening_id": s["screening_id"],
                    "min_assurance": s["min_assurance"],
                    "allowed_by_assurance": s["allowed_by_assurance"],
                }
                for s in summaries
            ],
            "withdrawals": "Consent withdrawn after a screening reaches the organization as a "
            "signed webhook and on GET /api/v1/consent-changes, naming the affected item ids.",
        },
    }


def _size_band(images: int) -> str:
    if images < 1_000_000:
        return "Less than 1 million images"
    if images <= 1_000_000_000:
        return "1 million to 1 billion images"
    return "More than 1 billion images"


def _measures(summaries: list[dict[str, Any]], totals: dict[str, Any]) -> str:
    if not summaries:
        return "No finished screening is in the scope of this pack."
    versions = sorted({s["registry_version"]["sequence"] for s in summaries})
    purposes = ", ".join(sorted({s["purpose"] for s in summaries}))
    first, last = summaries[0]["created_at"][:10], summaries[-1]["created_at"][:10]
    unregistered_excluded = sum(
        s["counts"]["unregistered"] for s in summaries if s["mode"] == "consent_required"
    )
    return (
        f"The {totals.get('items', 0)} images of the dataset were screened in "
        f"{len(summaries)} screening(s) between {first} and {last}, for {purposes}, against "
        f"the Consentry consent registry at registry version(s) "
        f"{', '.join(map(str, versions))}. Each image was matched on perceptual fingerprints "
        "against the works registered by their rights holders, including re-posts whose "
        "metadata was stripped. Images matching a work whose rights holder reserved the "
        "purpose, licensed it to other organizations only, or whose ownership is disputed were "
        f"excluded ({totals.get('denied', 0)} denied); images that could not be matched "
        f"reliably were excluded as well ({totals.get('invalid', 0)} invalid); images "
        "matching no registered work were excluded where express consent was required "
        f"({unregistered_excluded}). {totals.get('passed', 0)} images passed, "
        f"{totals.get('excluded', 0)} were excluded. Withdrawals of consent after screening "
        "reach the provider by signed webhook and feed, naming the affected images. Each "
        "screening has an Ed25519-signed receipt naming the registry version it read."
    )


def _withdrawn_items(scope: ExportScope, screening_ids: set[str]) -> int:
    notices = WithdrawalNotice.objects.filter(organization=scope.organization)
    affected = 0
    for entries in notices.values_list("affected", flat=True).iterator(chunk_size=500):
        for entry in entries:
            if entry.get("screening_id") in screening_ids:
                affected += len(entry.get("item_ids", []))
    return affected


def _template_section(
    scope: ExportScope, summaries: list[dict[str, Any]], totals: dict[str, Any]
) -> dict[str, Any]:
    reasons = totals.get("reasons", {})
    protocols = ["Consentry consent registry (per-work, per-purpose terms and grants)"]
    if any("embedded reservation" in reason for reason in reasons):
        protocols.append("Embedded signals: IPTC plus:DataMining and C2PA/CAWG training-mining")
    return {
        "template": "AI Office, Explanatory Notice and Template for the Public Summary of "
        "Training Content for general-purpose AI models (Art. 53(1)(d) AI Act)",
        "note": "Only the answers Consentry can evidence are filled in; the others are the "
        "provider's to give.",
        "1.3_modalities_size_and_characteristics": {
            "modality": "Image",
            "size_of_image_data": _size_band(int(totals.get("passed", 0))),
            "types_of_content": "Visual artworks (registered by their artists) and other images",
            "screened_until": summaries[-1]["created_at"][:7] if summaries else None,
        },
        "3_data_processing_aspects": {
            "3.1_respect_of_reservation_of_rights_from_tdm_exception": {
                "signatory_to_the_code_of_practice": TO_BE_PROVIDED,
                "measures_implemented_before_training": _measures(summaries, totals),
                "opt_out_protocols_and_solutions_honoured": protocols,
                "items_withdrawn_after_screening": _withdrawn_items(
                    scope, {s["screening_id"] for s in summaries}
                ),
            },
            "3.2_removal_of_illegal_content": {
                "measures": TO_BE_PROVIDED + " (Consentry screens for rights reservations; "
                "it does not detect illegal content).",
            },
            "3.3_other_information": {
                "registry_versions": sorted({s["registry_version"]["hash"] for s in summaries}),
                "receipts": [s["receipt_url"] for s in summaries],
            },
        },
    }


def _excluded_coverage(screenings: list[Screening]) -> dict[str, Any]:
    """What `excluded_items` lists one by one, and what it only counts."""
    counted: Counter[str] = Counter()
    for screening in screenings:
        unlisted = unlisted_counts(screening)
        counted["invalid"] += unlisted["invalid"]
        if screening.mode == ScreeningMode.CONSENT_REQUIRED:  # excluded only in that mode
            counted["unregistered"] += unlisted["unregistered"]
    return {
        "listed": "Every excluded item that matched a registered work or was denied by a "
        "reservation, with its reason and the works it matched.",
        "counted_only": {"invalid": counted["invalid"], "unregistered": counted["unregistered"]},
        "note": COVERAGE_NOTE,
    }


def _excluded(screenings: list[Screening]) -> Iterator[dict[str, Any]]:
    for screening in screenings:
        rows = excluded_items(screening).values_list(
            "item_id", "decision", "reason", "reasons", "matches"
        )
        for item_id, decision, reason, data, matches in rows.iterator(chunk_size=5000):
            yield {
                "screening_id": str(screening.id),
                "id": item_id,
                "decision": decision,
                "reason": reason,
                "reason_kinds": reason_kinds(decision, reason, data),
                "work_ids": [match["work_id"] for match in matches],
            }


def eu_ai_act_json(scope: ExportScope) -> Iterator[str]:
    screenings = list(export_screenings(scope))
    totals = Totals()
    summaries = [totals.add(screening_summary(screening)) for screening in screenings]
    summed = totals.as_dict()

    def fields() -> Iterator[tuple[str, Any]]:
        yield from export_header(EXPORT_TYPE, scope).items()
        yield (
            "legal_basis",
            {
                "regulation": "Regulation (EU) 2024/1689 (AI Act), Article 53(1)(c) and (d)",
                "reservation_of_rights": "Directive (EU) 2019/790, Article 4(3)",
            },
        )
        yield "copyright_policy_evidence", _policy_section(summaries)
        yield "dataset", _dataset_section(summaries, totals)
        yield "training_content_summary", _template_section(scope, summaries, summed)
        yield "excluded_items_coverage", _excluded_coverage(screenings)
        yield "excluded_items", json_array(_excluded(screenings))

    return json_object(fields())
