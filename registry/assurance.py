"""How sure the registry is that a claim on a work comes from the person holding its rights.

Plain Python, shared by the gatekeeper, the services and the exports. The order: a new account
asserts (`self_asserted`); proof of control of a site where the work is published
(`site_verified`) and a platform's signed attestation (`platform_attested`) both make a claim
verified; staff who checked evidence (`operator_verified`) rank highest.
"""

from collections.abc import Iterable

SELF_ASSERTED = "self_asserted"
SITE_VERIFIED = "site_verified"
PLATFORM_ATTESTED = "platform_attested"
OPERATOR_VERIFIED = "operator_verified"
# A screening's minimum: any verified level, or only operator-verified claims.
VERIFIED = "verified"

LEVELS = (SELF_ASSERTED, SITE_VERIFIED, PLATFORM_ATTESTED, OPERATOR_VERIFIED)
_RANK = {SELF_ASSERTED: 0, SITE_VERIFIED: 1, PLATFORM_ATTESTED: 1, OPERATOR_VERIFIED: 2}
_MINIMUM_RANK = {VERIFIED: 1, OPERATOR_VERIFIED: 2}
MINIMUMS = tuple(_MINIMUM_RANK)


def rank(level: str) -> int:
    """A level's place in the order; an unknown level ranks below every known one."""
    return _RANK.get(level, -1)


def is_verified(level: str) -> bool:
    return rank(level) >= _MINIMUM_RANK[VERIFIED]


def meets(level: str, minimum: str) -> bool:
    """Whether a permission at `level` counts for a screening asking for `minimum`.

    An unknown minimum asks for more than any level can give: fail closed.
    """
    return rank(level) >= _MINIMUM_RANK.get(minimum, len(_RANK))


def strongest(*levels: str) -> str:
    """The highest of the levels (a work's claim is at least as sure as its artist's)."""
    return max(levels, key=rank, default=SELF_ASSERTED)


def claim_level(
    own: str, artist: str, source_urls: Iterable[str], site_prefixes: Iterable[str]
) -> str:
    """A work's claim assurance: the work's own level or its artist's, the higher.

    An artist's `site_verified` proves control of their verified sites only (any account can
    verify a site of its own, without staff), so it counts for a work published there: one
    of the work's source URLs under one of the artist's verified `site_prefixes`. Every level
    the registry reports for a claim (screenings, receipts, credits, disputes) comes from here.
    """
    # Imported here: registry.optout imports the gatekeeper, which imports this module.
    from registry.optout.prefixes import url_matches_prefix

    prefixes = list(site_prefixes)
    published_on_site = any(url_matches_prefix(u, p) for u in source_urls for p in prefixes)
    if artist == SITE_VERIFIED and not published_on_site:
        artist = SELF_ASSERTED
    return strongest(own, artist)
