"""Deciding screened items: fingerprints in, one gatekeeper decision per item out."""

import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone

from registry.assurance import OPERATOR_VERIFIED, SELF_ASSERTED, SITE_VERIFIED, VERIFIED, meets
from registry.chunk_wire import HashedQuery, hashed_query, information_undecided
from registry.fingerprints import FingerprintFormatError, ImageFingerprint
from registry.gatekeeper import (
    ALLOWED,
    CONSENT_UNVERIFIED,
    DENIED,
    SOURCE_URL,
    Credit,
    ItemDecision,
    MatchedWork,
    Mode,
    Reason,
    ReasonCode,
    WorkPermit,
    decide,
    invalid,
)
from registry.matching.rules import DEFAULT_MATCHING, is_weak
from registry.models import Organization, Work, WorkSourceUrl
from registry.optout import PrefixError, url_digest, url_matches_prefix
from registry.selectors.consent import Permit, permits_for
from registry.selectors.ledger import registry_version
from registry.selectors.matching import WorkMatch, exact_copies, has_candidates, match_items
from registry.selectors.reservations import reservations_for
from registry.selectors.sites import verified_prefixes_of

logger = logging.getLogger(__name__)
WEAK_IMAGE = ReasonCode.WEAK_IMAGE
OVER_BUDGET = ReasonCode.OVER_BUDGET
VERIFICATION_MISSING = Reason(
    ReasonCode.VERIFICATION_MISSING,
    detail="sent as hashes alone, it needed verifying (a registered work is a candidate for "
    "it, its information is at the weak-image limit, or the screening lets unregistered items "
    "pass) and the registry decided its chunk without it",
)
# Set by the registry on an item that came as hashes alone (phase 1 of a binary chunk) until
# its verification payload comes; a client's JSON item carrying it is refused. Its value says
# at which registry version the registry last looked for candidates, and what it found.
AWAITING_VERIFICATION = "awaiting_verification"
_CHECKED_AT, _NEEDED = "checked_at", "needed"
# Marks an item whose full fingerprint the registry needs whatever the search finds: phase 1
# proves only the fields it carries, so an item that may pass as `unregistered` (a screening
# that respects opt-outs) must show the rest is well-formed, as its JSON would.
_WHOLE = "whole"
# Written beside `needed: false` when the registry parsed the item's hashes as well-formed,
# found it not weak, and no candidate for it: at that registry version it is decided without
# being parsed again (no work to match it against, nothing but its reservations to read).
_NO_CANDIDATE = "no_candidate"


def work_url(work_id: int) -> str:
    return f"{settings.CONSENTRY_PUBLIC_URL}/api/v1/credits/{work_id}"


def credits_for(permits: Mapping[int, Permit]) -> dict[int, Credit]:
    """The credit of each work its permit allows: only an allowed item carries credits."""
    allowed = [work_id for work_id, permit in permits.items() if permit.allowed]
    works = Work.objects.filter(pk__any=allowed).select_related("artist").defer("thumbnail")
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


def _parse(
    raw: Mapping[str, Any], query: HashedQuery | None = None
) -> ImageFingerprint | HashedQuery | ItemDecision | None:
    """The item's fingerprint (for one sent as hashes alone, what the search reads of it:
    `query` when phase 1 built it from the binary arrays), or its decision when that is
    `invalid`; None for an item sent as hashes alone whose information is too close to the
    weak-image limit to tell, or that must be decided on its whole fingerprint."""
    if "unreadable" in raw:  # set by the server when an uploaded file could not be decoded
        return invalid(f"{ReasonCode.UNREADABLE}: {raw['unreadable']}")
    awaiting = awaits_verification(raw)
    if _needs_whole(raw):  # decided on its whole fingerprint only, as its JSON would be
        return None
    try:
        if awaiting:
            hashed = query if query is not None else hashed_query(raw)
            fingerprint = hashed.fingerprint
        else:
            fingerprint = ImageFingerprint.from_wire(raw)
    except FingerprintFormatError as error:
        return invalid(f"{ReasonCode.MALFORMED}: {error}")
    limit = DEFAULT_MATCHING.min_information
    if awaiting and information_undecided(fingerprint.information, limit):
        return None
    if is_weak(fingerprint):
        return invalid(Reason(ReasonCode.WEAK_IMAGE))
    return hashed if awaiting else fingerprint


def awaits_verification(raw: Mapping[str, Any]) -> bool:
    """Whether an item came as hashes alone (written by the server, refused from clients)."""
    return isinstance(raw.get(AWAITING_VERIFICATION), Mapping)


def awaiting_marker(*, whole: bool = False) -> dict[str, Any]:
    """The mark of an item sent as hashes alone that nobody has looked at yet; `whole`: its
    verification payload is needed even when no registered work is a candidate for it."""
    return {_CHECKED_AT: None, _NEEDED: True, _WHOLE: whole}


def _needs_whole(raw: Mapping[str, Any]) -> bool:
    return awaits_verification(raw) and raw[AWAITING_VERIFICATION].get(_WHOLE) is True


Parsed = ImageFingerprint | HashedQuery | ItemDecision | Mapping[str, Any] | None


def _triage(
    items: Sequence[Mapping[str, Any]], queries: Sequence[HashedQuery | None] | None = None
) -> tuple[list[Parsed], list[bool], int]:
    """Each item parsed (an item found without a candidate at this version, by the mark phase
    1 left, as itself: it matches nothing and is not read again); whether it is one sent as hashes
    alone that cannot be decided without its verification payload, because the registry
    itself finds a candidate work for it (by hashes or SHA-256, whatever the client says) or
    cannot tell if it is weak; and the registry version that holds at.

    The search is skipped for an item checked at the current version: nothing registered or
    removed since. The version is read before searching, so a work registered meanwhile
    makes the next look search again rather than go unseen. `queries`: what phase 1 read of
    each item from the binary arrays, where it could (None: parsed from the item)."""
    version = registry_version().sequence
    parsed: list[Parsed] = [
        item
        if _without_candidate_at(item, version)
        else _parse(item)
        if query is None
        else _parse(item, query)
        for item, query in zip(items, queries or [None] * len(items), strict=True)
    ]
    needs = [entry is None for entry in parsed]
    waiting: dict[int, HashedQuery] = {}
    for position, (raw, entry) in enumerate(zip(items, parsed, strict=True)):
        if not isinstance(entry, HashedQuery):
            continue
        marker = raw[AWAITING_VERIFICATION]
        if _needs_whole(raw):
            needs[position] = True
        elif marker.get(_CHECKED_AT) == version:
            needs[position] = marker.get(_NEEDED) is not False
        else:
            waiting[position] = entry
    flags = has_candidates(list(waiting.values()))
    for position, flag in zip(waiting, flags, strict=True):
        needs[position] = flag
    return parsed, needs, version


def _needed_as_marked(items: Sequence[Mapping[str, Any]]) -> list[int] | None:
    """What the marks say, when every one was written at the current registry version: the
    items were parsed and searched then, and nothing was registered or removed since."""
    marks = {
        position: item[AWAITING_VERIFICATION]
        for position, item in enumerate(items)
        if awaits_verification(item)
    }
    version = registry_version().sequence
    if any(mark.get(_CHECKED_AT) != version for mark in marks.values()):
        return None
    return [position for position, mark in marks.items() if mark.get(_NEEDED) is not False]


def _without_candidate_at(raw: Mapping[str, Any], version: int) -> bool:
    """Whether the registry found, at `version` (the current one), that an item sent as
    hashes alone is well-formed, not weak, and no registered work a candidate for it."""
    marker = raw.get(AWAITING_VERIFICATION)
    return (
        isinstance(marker, Mapping)
        and marker.get(_NO_CANDIDATE) is True
        and marker.get(_NEEDED) is False
        and marker.get(_WHOLE) is not True
        and marker.get(_CHECKED_AT) == version
    )


def verification_needed(
    items: Sequence[dict[str, Any]], queries: Sequence[HashedQuery | None] | None = None
) -> list[int]:
    """Positions of the items sent as hashes alone that the registry needs to verify; each
    such item's mark records what was found, and at which registry version. `queries`, from
    phase 1's binary arrays, spare parsing the items again."""
    known = _needed_as_marked(items)
    if known is not None:
        return known
    parsed, needs, version = _triage(items, queries)
    for item, entry, need in zip(items, parsed, needs, strict=True):
        if awaits_verification(item):
            whole = _needs_whole(item)
            mark = {_CHECKED_AT: version, _NEEDED: need, _WHOLE: whole}
            if not need and not whole and (entry is item or isinstance(entry, HashedQuery)):
                mark[_NO_CANDIDATE] = True
            item[AWAITING_VERIFICATION] = mark
    return [position for position, need in enumerate(needs) if need]


def _matched(match: WorkMatch) -> MatchedWork:
    return MatchedWork(
        match.work_id, match.variant, match.distances, match.exact, match.region, match.strong
    )


def _work_permits(permits: Mapping[int, Permit]) -> dict[int, WorkPermit]:
    return {
        work_id: WorkPermit(
            permit.allowed,
            permit.reason,
            permit.license,
            permit.assurance,
            permit.superseded_by,
            permit.frozen_by,
            permit.held,
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
    mode: str = Mode.CONSENT_REQUIRED,
) -> list[ItemDecision]:
    """One decision per item, in order. Malformed or weak fingerprints are `invalid`; an item
    whose embedded or download signals reserve the purpose is `denied` even if unregistered;
    a permission from a claim below `min_assurance` counts for nothing (`consent_unverified`);
    a work found only inside a larger picture lets it pass only where `mode` lets
    unregistered content pass."""
    triaged, needs, _ = _triage(items)
    # Fail closed: an item that needs verifying and has no payload to verify is never allowed.
    parsed = [
        invalid(VERIFICATION_MISSING) if need or entry is None else entry
        for entry, need in zip(triaged, needs, strict=True)
    ]
    # Items sent as hashes alone, with no candidate, match nothing: only the others are matched.
    to_match = {
        position: entry
        for position, (entry, raw) in enumerate(zip(parsed, items, strict=True))
        if isinstance(entry, ImageFingerprint) and not awaits_verification(raw)
    }
    found = dict(zip(to_match, match_items(list(to_match.values())), strict=True))
    # Over its verification budget an item may match a work left unverified: fail closed.
    over = {position for position, result in found.items() if result.over_budget}
    if over:
        logger.warning("%d of %d items over the verification budget", len(over), len(items))
    decided: list[Mapping[str, Any] | ImageFingerprint | HashedQuery | ItemDecision] = [
        invalid(Reason(OVER_BUDGET)) if position in over else entry
        for position, entry in enumerate(parsed)
    ]
    matches_of = [
        found[position].matches if position in found else [] for position in range(len(parsed))
    ]
    for position, copies in _exact_copies_of_weak(decided, items).items():
        decided[position], matches_of[position] = items[position], copies
    unverified_of = [
        found[position].unverified if position in found else frozenset()
        for position in range(len(parsed))
    ]
    return _decide(
        decided,
        matches_of,
        items,
        organization=organization,
        purpose=purpose,
        min_assurance=min_assurance,
        mode=mode,
        unverified_of=unverified_of,
    )


def _exact_copies_of_weak(
    decided: Sequence[Mapping[str, Any] | ImageFingerprint | HashedQuery | ItemDecision],
    items: Sequence[Mapping[str, Any]],
) -> dict[int, list[WorkMatch]]:
    """The works each item too plain to match is an exact copy of, by position. A plain work
    is registered for exact copies only (services.works): its copy is decided by it, as its
    artist was told, while any other plain item stays `invalid`."""
    weak = {
        position: items[position]["sha256"]
        for position, entry in enumerate(decided)
        if isinstance(entry, ItemDecision) and entry.reasons[0].code == ReasonCode.WEAK_IMAGE
    }
    copies = exact_copies(set(weak.values()))
    return {position: copies[sha256] for position, sha256 in weak.items() if sha256 in copies}


def decide_urls(
    *,
    organization: Organization,
    purpose: str,
    urls: Sequence[str],
    min_assurance: str = VERIFIED,
) -> list[ItemDecision]:
    """One decision per URL, before anything is downloaded: the works that list it as their
    source match it, and an artist's verified site prefix reserves it as it would a
    downloaded item. `unregistered` here means that nothing is known of the URL. `allowed`
    is about the URL only, never a screening decision: the picture found there may be
    another, so only its fingerprint, screened once downloaded, can allow it (a source URL
    never allows a screened item: gatekeeper.MatchedWork.close)."""
    digests = [_url_digest(url) for url in urls]
    works_of = _works_by_url_digest({digest for digest in digests if digest is not None})
    matches_of = [works_of.get(digest, []) if digest else [] for digest in digests]
    items = [{"url": url} for url in urls]
    decisions = _decide(
        items,
        matches_of,
        items,
        organization=organization,
        purpose=purpose,
        min_assurance=min_assurance,
        url_check=True,
    )
    return _unproven_url_claims_refused(urls, matches_of, decisions, min_assurance)


# Why an artist's permission on a URL they listed does not count: listing a URL proves nothing,
# and a site verified elsewhere (any artist can verify a site of their own, without staff)
# says nothing of a URL on another host.
UNPROVEN_URL = "no verified site of the artist covers this URL"


def _unproven_url_claims_refused(
    urls: Sequence[str],
    matches_of: Sequence[list[WorkMatch]],
    decisions: list[ItemDecision],
    min_assurance: str,
) -> list[ItemDecision]:
    """An `allowed` URL only where each crediting artist's claim reaches the minimum for that
    URL: staff-verified, or the URL under one of the artist's verified sites. The claim's
    assurance otherwise comes from the artist or the work (a site, a platform's attestation of
    an image), not from the URL, so a verified artist could list anybody's URL."""
    allowed = [position for position, d in enumerate(decisions) if d.decision == ALLOWED]
    artists = {m.artist_id for position in allowed for m in matches_of[position]}
    prefixes = verified_prefixes_of(artists) if artists else {}
    for position in allowed:
        artist_of = {m.work_id: m.artist_id for m in matches_of[position]}
        short = [
            credit["work_id"]
            for credit in decisions[position].credit
            if not meets(
                _url_claim_level(
                    urls[position], credit, prefixes.get(artist_of.get(credit["work_id"], 0), [])
                ),
                min_assurance,
            )
        ]
        if short:
            reasons = tuple(Reason(CONSENT_UNVERIFIED, work_id, UNPROVEN_URL) for work_id in short)
            decisions[position] = ItemDecision(DENIED, reasons, decisions[position].matches)
    return decisions


def _url_claim_level(url: str, credit: Mapping[str, Any], prefixes: Sequence[str]) -> str:
    """How sure the registry is that the credited artist holds the URL's rights."""
    if credit.get("assurance") == OPERATOR_VERIFIED:
        return OPERATOR_VERIFIED
    if any(url_matches_prefix(url, prefix) for prefix in prefixes):
        return SITE_VERIFIED
    return SELF_ASSERTED


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
        found[bytes(digest)].append(WorkMatch(work_id, artist_id, SOURCE_URL, {}, exact=True))
    return found


def _decide(
    parsed: Sequence[Mapping[str, Any] | ImageFingerprint | HashedQuery | ItemDecision],
    matches_of: Sequence[list[WorkMatch]],
    items: Sequence[Mapping[str, Any]],
    *,
    organization: Organization,
    purpose: str,
    min_assurance: str,
    mode: str = Mode.CONSENT_REQUIRED,
    unverified_of: Sequence[Collection[int]] | None = None,
    url_check: bool = False,
) -> list[ItemDecision]:
    now = timezone.now()
    reservations = reservations_for(items, organization=organization, purpose=purpose, at=now)
    unverified_of = unverified_of or [frozenset()] * len(items)
    wanted = _all_work_ids(matches_of).union(*unverified_of)
    permits = permits_for(wanted, organization=organization, purpose=purpose, at=now)
    work_permits, credits = _work_permits(permits), credits_for(permits)
    # Most items of a scraped set match nothing and reserve nothing: one decision serves them
    # all (decide is a function of its arguments, and ItemDecision is frozen).
    nothing: ItemDecision | None = None
    decisions = []
    for entry, matches, reserved, unverified in zip(
        parsed, matches_of, reservations, unverified_of, strict=True
    ):
        if isinstance(entry, ItemDecision):
            decisions.append(entry)
            continue
        bare = not matches and not reserved and not unverified
        if bare and nothing is not None:
            decisions.append(nothing)
            continue
        decision = decide(
            [_matched(m) for m in matches],
            work_permits,
            credits,
            reservations=[reservation.describe() for reservation in reserved],
            min_assurance=min_assurance,
            mode=mode,
            unverified=unverified,
            url_check=url_check,
        )
        if bare:
            nothing = decision
        decisions.append(decision)
    return decisions
