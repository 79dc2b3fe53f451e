"""Deciding screened items: fingerprints in, one gatekeeper decision per item out."""

import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone

from registry.assurance import VERIFIED
from registry.fingerprints import FingerprintFormatError, ImageFingerprint
from registry.gatekeeper import Credit, ItemDecision, MatchedWork, WorkPermit, decide, invalid
from registry.matching.rules import is_weak
from registry.models import Organization, Work, WorkSourceUrl
from registry.optout import PrefixError, url_digest
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
            assurance=permits[work.pk].assurance,
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
        work_id: WorkPermit(
            permit.allowed, permit.reason, permit.license, permit.assurance, permit.superseded_by
        )
        for work_id, permit in permits.items()
    }


def _all_work_ids(found: Collection[list[WorkMatch]]) -> set[int]:
    return {match.work_id for matches in found for match in matches}


def decide_items(
    *,
    organization: Organization,
    purpose: str,
    items: Sequence[Mapping[str, Any]],
    min_assurance: str = VERIFIED,
) -> list[ItemDecision]:
    """One decision per item, in order. Malformed or weak fingerprints are `invalid`; an item
    whose embedded or download signals reserve the purpose is `denied` even if unregistered;
    a permission from a claim below `min_assurance` counts for nothing (`consent_unverified`)."""
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
    decided = [
        invalid(OVER_BUDGET) if flag else entry for entry, flag in zip(parsed, over, strict=True)
    ]
    matches_of = [result.matches for result in results]
    return _decide(
        decided,
        matches_of,
        items,
        organization=organization,
        purpose=purpose,
        min_assurance=min_assurance,
    )


def decide_urls(
    *,
    organization: Organization,
    purpose: str,
    urls: Sequence[str],
    min_assurance: str = VERIFIED,
) -> list[ItemDecision]:
    """One decision per URL, before anything is downloaded: the works that list it as their
    source match it exactly, and an artist's verified site prefix reserves it as it would a
    downloaded item. `unregistered` here means that nothing is known of the URL."""
    digests = [_url_digest(url) for url in urls]
    works_of = _works_by_url_digest({digest for digest in digests if digest is not None})
    matches_of = [works_of.get(digest, []) if digest else [] for digest in digests]
    items = [{"url": url} for url in urls]
    return _decide(
        items,
        matches_of,
        items,
        organization=organization,
        purpose=purpose,
        min_assurance=min_assurance,
    )


def _url_digest(url: str) -> bytes | None:
    try:
        return url_digest(url)
    except PrefixError:  # not an http(s) URL: nothing registered can be under it
        return None


def _works_by_url_digest(digests: Collection[bytes]) -> dict[bytes, list[WorkMatch]]:
    if not digests:
        return {}
    rows = WorkSourceUrl.objects.filter(
        digest__any=list(digests), work__removed_at__isnull=True
    ).values_list("digest", "work_id", "work__artist_id")
    found: dict[bytes, list[WorkMatch]] = defaultdict(list)
    for digest, work_id, artist_id in rows:
        found[bytes(digest)].append(WorkMatch(work_id, artist_id, "source_url", {}, exact=True))
    return found


def _decide(
    parsed: Sequence[Mapping[str, Any] | ImageFingerprint | ItemDecision],
    matches_of: Sequence[list[WorkMatch]],
    items: Sequence[Mapping[str, Any]],
    *,
    organization: Organization,
    purpose: str,
    min_assurance: str,
) -> list[ItemDecision]:
    now = timezone.now()
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
            min_assurance=min_assurance,
        )
        for entry, matches, reserved in zip(parsed, matches_of, reservations, strict=True)
    ]
