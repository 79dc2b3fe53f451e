"""A synthetic registry in PostgreSQL for bench.screening: works and every registered variant.

Hashes are random, so works never match each other by chance; descriptors and PDQ hashes are
copied from real fingerprints of procedural artworks, so verification does real work. Rows go
in with COPY: a million works and their variants take minutes, not hours.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from registry.assurance import SELF_ASSERTED
from registry.demo_art import artwork_bytes
from registry.fingerprints import (
    FINGERPRINT_VERSION,
    Hashes,
    ImageFingerprint,
    fingerprint_image,
    fingerprint_work,
    to_signed64,
)
from registry.models import Artist, Permission, Purpose, Work
from registry.services.artists import artist_verify
from registry.services.terms import default_terms_set

POOL_SIZE = 64
ARTISTS = 20
BATCH = 50_000


@dataclass(frozen=True)
class Pool:
    """Real fingerprints to borrow descriptors from: one per procedural artwork."""

    images: list[ImageFingerprint]
    variants: list[dict[str, Hashes]]


def make_pool() -> Pool:
    works = [fingerprint_work(artwork_bytes(900_000 + seed)) for seed in range(POOL_SIZE)]
    return Pool([w.image for w in works], [w.variants for w in works])


def stranger_pool() -> list[ImageFingerprint]:
    """Fingerprints of other procedural artworks, for items of no registered work: borrowed
    from the registry's pool, a stranger's descriptor would verify against every registered
    work sharing it, as soon as its hashes brought one as a candidate (real codes do)."""
    return [fingerprint_image(artwork_bytes(800_000 + seed)) for seed in range(POOL_SIZE)]


def _artists() -> list[Artist]:
    """Twenty artists; the even ones allow AI training by default, the odd ones do not."""
    users = get_user_model()
    artists = []
    for number in range(ARTISTS):
        user, _ = users.objects.get_or_create(username=f"bench-artist-{number}")
        artist, created = Artist.objects.get_or_create(
            user=user, defaults={"display_name": f"Bench artist {number}"}
        )
        if created and number % 2 == 0:
            # Permissions count only from verified claims: the allowing artists are verified,
            # so the bench exercises the allowed path, as a registry of real artists would.
            artist_verify(artist=artist, evidence="bench artist")
            default_terms_set(
                artist=artist, purpose=Purpose.AI_TRAINING, permission=Permission.ALLOWED
            )
        artists.append(artist)
    return artists


def registered_works() -> int:
    return Work.objects.count()


# (generator, how many) -> (pHashes, dHashes) of that many registered variants.
Codes = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


def uniform_codes(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    return (
        rng.integers(0, 2**64, size, dtype=np.uint64),
        rng.integers(0, 2**64, size, dtype=np.uint64),
    )


def seed_registry(works: int, pool: Pool, *, seed: int = 7, codes: Codes = uniform_codes) -> None:
    """Add works until the registry holds `works`; work i borrows pool entry i % POOL_SIZE.
    Hashes come from `codes`: uniform random, or drawn from real pictures (--realistic)."""
    start = registered_works()
    if start >= works:
        return
    artists = _artists()
    rng = np.random.default_rng(seed + start)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM registry_work")
        next_id = cursor.fetchone()[0] + 1
    for batch_start in range(start, works, BATCH):
        count = min(BATCH, works - batch_start)
        ids = range(next_id, next_id + count)
        _copy_works(ids, artists, pool, now)
        _copy_fingerprints(ids, pool, rng, codes)
        next_id += count
        print(f"  seeded {batch_start + count:,} of {works:,} works", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('registry_work', 'id'), MAX(id)) "
            "FROM registry_work"
        )
        cursor.execute("ANALYZE registry_work; ANALYZE registry_fingerprint")


def _copy_works(ids: range, artists: list[Artist], pool: Pool, now: object) -> None:
    columns = (
        "id, artist_id, title, image, thumbnail, source_urls, credit_line, sha256, width, "
        "height, information, fingerprint_version, created_at, assurance, hold"
    )
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor() as raw,
        raw.copy(f"COPY registry_work ({columns}) FROM STDIN") as copy,
    ):
        for work_id in ids:
            image = pool.images[work_id % POOL_SIZE]
            copy.write_row(
                (
                    work_id,
                    artists[work_id % ARTISTS].pk,
                    f"Bench work {work_id}",
                    "",
                    b"",
                    "[]",
                    "",
                    secrets.token_hex(32),
                    image.width,
                    image.height,
                    image.information,
                    FINGERPRINT_VERSION,
                    now,
                    SELF_ASSERTED,
                    "",  # not held: registered as a checked registration is
                )
            )


def _copy_fingerprints(ids: range, pool: Pool, rng: np.random.Generator, codes: Codes) -> None:
    columns = "work_id, variant, phash, dhash, pdq, pdq_quality, descriptor"
    per_work = [len(variants) for variants in pool.variants]
    drawn = codes(rng, sum(per_work[i % POOL_SIZE] for i in ids))
    phashes, dhashes = (iter(column.tolist()) for column in drawn)
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor() as raw,
        raw.copy(f"COPY registry_fingerprint ({columns}) FROM STDIN") as copy,
    ):
        for work_id in ids:
            for variant, hashes in pool.variants[work_id % POOL_SIZE].items():
                copy.write_row(
                    (
                        work_id,
                        variant,
                        to_signed64(next(phashes)),
                        to_signed64(next(dhashes)),
                        hashes.pdq,
                        hashes.pdq_quality,
                        hashes.descriptor,
                    )
                )


def original_hashes(work_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(pHash, dHash) of each work's original variant, to plant queries near them."""
    rows = Work.objects.filter(pk__in=work_ids, fingerprints__variant="original").values_list(
        "pk", "fingerprints__phash", "fingerprints__dhash"
    )
    return {pk: (phash % 2**64, dhash % 2**64) for pk, phash, dhash in rows}
