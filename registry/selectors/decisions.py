"""Deciding screened items: fingerprints in, one gatekeeper decision per item out."""

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone

from registry.fingerprints import FingerprintFormatError, ImageFingerprint
from registry.gatekeeper import Credit, ItemDecision, MatchedWork, WorkPermit, decide, invalid
from registry.matching.rules import is_weak
from registry.models import Organization, Work
from registry.selectors.consent import Permit, permits_for
from registry.selectors.matching import ItemMatches, WorkMatch, match_items
from registry.selectors.reservations import reservations_for

logger = logging.getLogger(__name__)
WEAK_IMAGE = "the image carries too little information to match reliably"
OVER_BUDGET = "the image has more candidate works than one item may verify"


def work_url(work_id: int) -> str:
    return f"{settings.CONSENTRY_PUBLIC_URL}/api/v1/credits/{work_id}"


def credits_for(permits: Mapping[int, Permit]) -> dict[int, Credit]:
    works = Work.objects.filter(pk__any=permits.keys()).select_related("artist")
    return {
        work.pk: Credit(
            artist=work.artist.display_name,
            credit_line=work.credit,
            title=work.title,
            work_id=work.pk,
            url=work_url(work.pk),
            license=permits[work.pk].license,
            attribution=permits[work.pk].terms.attribution,
        )
        for work in works
    }


def _parse(raw: Mapping[str, Any]) -> ImageFingerprint | ItemDecision:
    if "unreadable" in raw:  # set by the server when an uploaded file could not be decoded
        return invalid(f"the image could not be read: {raw['unreadable']}")
    try:
        fingerprint = ImageFingerprint.from_wire(raw)
    except FingerprintFormatError as error:
        return invalid(f"malformed fingerprint: {error}")
    if is_weak(fingerprint):
        return invalid(WEAK_IMAGE)
    return fingerprint


def _matched(match: WorkMatch) -> MatchedWork:
    return MatchedWork(match.work_id, match.variant, match.distances, match.exact)


def _work_permits(permits: Mapping[int, Permit]) -> dict[int, WorkPermit]:
    return {
        work_id: WorkPermit(permit.allowed, permit.reason, permit.license)
        for work_id, permit in permits.items()
    }


def _all_work_ids(found: Collection[list[WorkMatch]]) -> set[int]:
    return {match.work_id for matches in found for match in matches}


def decide_items(
    *, organization: Organization, purpose: str, items: Sequence[Mapping[str, Any]]
) -> list[ItemDecision]:
    """One decision per item, in order. Malformed or weak fingerprints are `invalid`; an item
    whose embedded or download signals reserve the purpose is `denied` even if unregistered."""
    now = timezone.now()
    parsed = [_parse(item) for item in items]
    fingerprints = [entry for entry in parsed if isinstance(entry, ImageFingerprint)]
    found = iter(match_items(fingerprints))
    results = [
        next(found) if isinstance(entry, ImageFingerprint) else ItemMatches([]) for entry in parsed
    ]
    # Over its verification budget an item may match a work left unverified: fail closed.
    over = [result.over_budget for result in results]
    if any(over):
        logger.warning("%d of %d items over the verification budget", sum(over), len(items))
    parsed = [
        invalid(OVER_BUDGET) if flag else entry for entry, flag in zip(parsed, over, strict=True)
    ]
    matches_of = [result.matches for result in results]
    reservations = reservations_for(items, organization=organization, purpose=purpose, at=now)
    permits = permits_for(
        _all_work_ids(matches_of), organization=organization, purpose=purpose, at=now
    )
    work_permits, credits = _work_permits(permits), credits_for(permits)
    return [
        entry
        if isinstance(entry, ItemDecision)
        else decide(
            [_matched(m) for m in matches],
            work_permits,
            credits,
            reservations=[reservation.describe() for reservation in reserved],
        )
        for entry, matches, reserved in zip(parsed, matches_of, reservations, strict=True)
    ]
