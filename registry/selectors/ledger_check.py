"""Comparing the tables the gatekeeper reads with the replayed ledger, row by row."""

from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.ledger import GENESIS_HASH
from registry.ledger_replay import (
    ReplayedRegistry,
    TermsState,
    assurance_of_artist,
    assurance_of_work,
    platform_settings_of,
    verified_sites_of,
)
from registry.models import (
    Artist,
    ArtistSite,
    ConsentEvent,
    DefaultTerms,
    Dispute,
    Grant,
    Organization,
    Terms,
    Work,
)
from registry.receipts import ReceiptError, verify

_BATCH = 5000


def _works(state: ReplayedRegistry) -> Iterator[str]:
    rows = Work.objects.order_by("pk").values_list(
        "pk", "sha256", "removed_at", "assurance", "hold"
    )
    seen = set()
    for pk, sha256, removed_at, assurance, hold in rows.iterator(chunk_size=_BATCH):
        seen.add(pk)
        replayed = state.works.get(pk)
        if replayed is None:
            yield f"work {pk} is in the table but was never registered in the ledger"
            continue
        if sha256 != replayed["sha256"]:
            yield f"work {pk}: the table's image hash is not the one registered in the ledger"
        if (removed_at is not None) != replayed["removed"]:
            yield f"work {pk}: the table says removed={removed_at is not None}, the ledger not"
        if hold != replayed.get("hold", ""):
            # A hold cleared behind the ledger's back would let the work's terms allow.
            yield f"work {pk}: the table says hold={hold!r}, the ledger {replayed.get('hold')!r}"
        if assurance != assurance_of_work(state, pk):
            yield (
                f"work {pk}: the table says assurance {assurance}, "
                f"the ledger {assurance_of_work(state, pk)}"
            )
    for pk in sorted(state.works.keys() - seen):
        yield f"work {pk} is registered in the ledger but missing from the table"


def _describe(terms: TermsState | None) -> str:
    return "nothing" if terms is None else "/".join(repr(part) for part in terms)


def _terms_rows(
    label: str,
    rows: Iterator[tuple[int, str, str, str, str]],
    replayed: dict[tuple[int, str], TermsState],
) -> Iterator[str]:
    seen = set()
    for owner, purpose, permission, license, attribution in rows:
        key = (owner, purpose)
        seen.add(key)
        table = (permission, license, attribution)
        if replayed.get(key) != table:
            yield (
                f"{label} {owner} for {purpose}: the table says {_describe(table)}, "
                f"the ledger {_describe(replayed.get(key))}"
            )
    for owner, purpose in sorted(replayed.keys() - seen):
        yield f"{label} {owner} for {purpose}: in the ledger but missing from the table"


def _terms(state: ReplayedRegistry) -> Iterator[str]:
    fields = ("purpose", "permission", "license", "attribution")
    own = Terms.objects.order_by("work_id", "purpose").values_list("work_id", *fields)
    yield from _terms_rows("terms of work", own.iterator(chunk_size=_BATCH), state.terms)
    defaults = DefaultTerms.objects.order_by("artist_id", "purpose").values_list(
        "artist_id", *fields
    )
    yield from _terms_rows(
        "default terms of artist", defaults.iterator(chunk_size=_BATCH), state.defaults
    )


def _grants(state: ReplayedRegistry) -> Iterator[str]:
    seen = set()
    for grant in Grant.objects.order_by("pk").prefetch_related("works"):
        seen.add(grant.reference)
        replayed = state.grants.get(grant.reference)
        if replayed is None:
            yield f"grant {grant.reference} is in the table but not in the ledger"
            continue
        table = {
            "artist_id": grant.artist_id,
            "organization_id": grant.organization_id,
            "purposes": sorted(grant.purposes),
            "work_ids": sorted(work.pk for work in grant.works.all()),
            "covers_all_works": grant.covers_all_works,
            "valid_from": grant.valid_from.isoformat(),
            "valid_until": grant.valid_until.isoformat() if grant.valid_until else None,
            "revoked": grant.revoked_at is not None,
        }
        for name, value in table.items():
            if replayed.get(name) != value:
                yield (
                    f"grant {grant.reference}: the table says {name}={value!r}, "
                    f"the ledger {replayed.get(name)!r}"
                )
                break
    for reference in sorted(state.grants.keys() - seen):
        yield f"grant {reference} is in the ledger but missing from the table"


def _disputes(state: ReplayedRegistry) -> Iterator[str]:
    seen = set()
    names = ("existing_work_id", "claimed_work_id", "freezes", "status", "resolution")
    rows = Dispute.objects.order_by("pk").values_list("pk", *names)
    for pk, *values in rows.iterator(chunk_size=_BATCH):
        row = dict(zip(names, values, strict=True))
        seen.add(pk)
        replayed = state.disputes.get(pk)
        if replayed != row:
            yield f"dispute {pk}: the table says {row}, the ledger {replayed}"
    for pk in sorted(state.disputes.keys() - seen):
        yield f"dispute {pk} is in the ledger but missing from the table"


def _artists(state: ReplayedRegistry) -> Iterator[str]:
    rows = Artist.objects.order_by("pk").values_list("pk", "assurance")
    for pk, assurance in rows.iterator(chunk_size=_BATCH):
        if assurance != assurance_of_artist(state, pk):
            yield (
                f"artist {pk}: the table says assurance {assurance}, "
                f"the ledger {assurance_of_artist(state, pk)}"
            )


def _sites(state: ReplayedRegistry) -> Iterator[str]:
    """A site verified behind the ledger's back would reserve its URLs and raise its artist's
    works published there to site_verified."""
    table: dict[int, set[str]] = {}
    rows = ArtistSite.objects.filter(verified=True).values_list("artist_id", "url_prefix")
    for artist_id, prefix in rows.iterator(chunk_size=_BATCH):
        table.setdefault(artist_id, set()).add(prefix)
    for artist_id in sorted(table.keys() | state.verified_sites.keys()):
        shown, replayed = table.get(artist_id, set()), verified_sites_of(state, artist_id)
        if shown != replayed:
            yield (
                f"artist {artist_id}: the table's verified sites {sorted(shown)} "
                f"are not the ledger's {sorted(replayed)}"
            )


def _platforms(state: ReplayedRegistry) -> Iterator[str]:
    """An attestation key set behind the ledger's back would verify attestations online."""
    rows = Organization.objects.order_by("pk").values_list(
        "pk", "kind", "url_prefix", "attestation_key"
    )
    for pk, *settings in rows.iterator(chunk_size=_BATCH):
        replayed = platform_settings_of(state, pk)
        if tuple(settings) != replayed:
            names = ("kind", "URL prefix", "attestation key")
            differing = [
                name for name, a, b in zip(names, settings, replayed, strict=True) if a != b
            ]
            yield (
                f"organization {pk}: the table's {' and '.join(differing)} "
                "differ from the platform settings registered in the ledger"
            )


def first_difference(state: ReplayedRegistry) -> str | None:
    """The first row where the tables and the replayed ledger disagree, or None."""
    for check in (_works, _terms, _grants, _disputes, _artists, _sites, _platforms):
        for difference in check(state):
            return difference
    return None


def receipt_problem(receipt: Any, public_key: Ed25519PublicKey) -> str | None:
    """Why a saved receipt ({"document", "signature"}) does not hold against this ledger, or
    None: its signature must be the key's, and the registry version it read must be on the
    chain (the event of that sequence has that hash)."""
    if not isinstance(receipt, dict) or not isinstance(receipt.get("document"), dict):
        return 'not a receipt: expected {"document": ..., "signature": ...}'
    document = receipt["document"]
    try:
        verify(document, str(receipt.get("signature", "")), public_key)
    except ReceiptError as error:
        return str(error)
    version = document.get("registry_version") or {}
    sequence, head_hash = version.get("sequence"), version.get("hash")
    if not isinstance(sequence, int) or not isinstance(head_hash, str):
        return "it names no registry version"
    if sequence == 0:
        on_chain = head_hash == GENESIS_HASH
    else:
        on_chain = ConsentEvent.objects.filter(sequence=sequence, hash=head_hash).exists()
    if not on_chain:
        return f"the registry version it read (event {sequence}, {head_hash}) is not on the ledger"
    return None
