"""PostgreSQL bytes per decided item: `python -m bench.storage [--items 20000 --matched 0.2]`.

Decides the same synthetic chunks twice through the service that records a chunk's outcome
(`chunk_record_decisions`): once keeping a row for every item (what the registry did before
rows were kept only where they matter), once as it does now (rows for matched or denied items,
counters, a Merkle root and the unlisted decisions by position on the chunk). Between the two
the tables are emptied; each figure is pg_total_relation_size growth (heap, TOAST and indexes)
of the screening tables, divided by the items decided. Matching is not exercised (bench.screening
measures it): the decisions are made up, their shape is the gatekeeper's. Uses its own database
(default consentry_bench_storage).
"""

import argparse
import os
import random
import time
from collections.abc import Iterator
from typing import Any

DATABASE = os.environ.get("BENCH_DATABASE", "consentry_bench_storage")
TABLES = ("registry_screeningitem", "registry_workscreening", "registry_screeningchunk")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__)
    parser.add_argument("--items", type=int, default=20_000, help="items decided per layout")
    parser.add_argument("--matched", type=float, default=0.2, help="share matching a work")
    parser.add_argument("--invalid", type=float, default=0.02, help="share invalid")
    parser.add_argument("--chunk", type=int, default=10_000, help="items per chunk")
    return parser.parse_args()


def setup() -> None:
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        exists = db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not exists:
            db.execute(f'CREATE DATABASE "{DATABASE}"')
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CONSENTRY_ENV": "development",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def sizes() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE registry_screeningitem")
        found = {}
        for table in TABLES:
            cursor.execute(
                "SELECT pg_total_relation_size(%s), pg_relation_size(%s), pg_indexes_size(%s)",
                [table, table, table],
            )
            found[table] = cursor.fetchone()
    return {
        "total": sum(total for total, _, _ in found.values()),
        "heap": sum(heap for _, heap, _ in found.values()),
        "indexes": sum(indexes for _, _, indexes in found.values()),
        **{table: total for table, (total, _, _) in found.items()},
    }


def empty_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)}, registry_screening CASCADE")


def synthetic(args: argparse.Namespace, work_ids: list[int]) -> Iterator[tuple[dict, Any]]:
    """(raw item, decision) pairs shaped like a LAION crawl's: 20% matched by default."""
    from registry.gatekeeper import ItemDecision, Reason, ReasonCode, invalid

    rng = random.Random(7)
    for n in range(args.items):
        raw = {
            "id": f"laion/{n:09d}.jpg",
            "url": f"https://images.example.com/{rng.getrandbits(64):016x}/{n}.jpg",
            "sha256": f"{rng.getrandbits(256):064x}",
        }
        roll = rng.random()
        if roll < args.matched:
            work_id = rng.choice(work_ids)
            match = {
                "work_id": work_id,
                "variant": "original",
                "algorithm": "phash+verify",
                "distance": 4,
                "distances": {"phash": 4, "dhash": 6, "pdq": 22, "verify": 0.91},
            }
            credit = {
                "artist": "Alice Liu",
                "credit_line": "Alice Liu",
                "title": f"Work {work_id}",
                "work_id": work_id,
                "url": f"https://registry.example/api/v1/credits/{work_id}",
                "license": "CC-BY-4.0",
                "attribution": "By Alice",
                "assurance": "operator_verified",
            }
            allowed = (Reason(ReasonCode.ALLOWED, work_id),)
            yield raw, ItemDecision("allowed", allowed, [match], [credit])
        elif roll < args.matched + args.invalid:
            yield raw, invalid("malformed fingerprint: phash is not 16 hex digits")
        else:
            yield raw, ItemDecision("unregistered", (Reason(ReasonCode.NO_MATCH),))


def decide_all(args: argparse.Namespace, work_ids: list[int], *, every_row: bool) -> float:
    from django.db import transaction

    from registry.models import Screening, ScreeningChunk
    from registry.services import screenings
    from registry.services.organizations import organization_create
    from registry.services.screenings import chunk_record_decisions, screening_create

    organization = organization_create(name=f"Bench {time.time_ns()}")
    screening = screening_create(organization=organization, purpose="ai_training", keep_open=True)
    Screening.objects.filter(pk=screening.pk).update(total_items=args.items)
    pairs = list(synthetic(args, work_ids))
    listed = screenings._listed
    if every_row:  # what the registry did before: a row for every item
        screenings._listed = lambda decision: True
    began = time.perf_counter()
    try:
        for number, start in enumerate(range(0, len(pairs), args.chunk)):
            part = pairs[start : start + args.chunk]
            with transaction.atomic():
                chunk = ScreeningChunk.objects.create(
                    screening=screening, number=number, item_count=len(part), payload=""
                )
                chunk_record_decisions(
                    chunk=chunk,
                    raw_items=[raw for raw, _ in part],
                    decisions=[decision for _, decision in part],
                )
    finally:
        screenings._listed = listed
    return time.perf_counter() - began


def works(count: int) -> list[int]:
    from registry.demo_art import artwork_bytes
    from registry.models import Work
    from registry.services.works import work_register
    from tests.factories import ArtistFactory

    existing = list(Work.objects.values_list("pk", flat=True)[:count])
    if len(existing) >= count:
        return existing
    artist = ArtistFactory.create(user__username=f"bench{time.time_ns()}")
    return existing + [
        work_register(artist=artist, data=artwork_bytes(90_000 + n), title=f"Work {n}").work.pk
        for n in range(count - len(existing))
    ]


def main() -> None:
    args = parse_args()
    setup()
    work_ids = works(5)
    print(
        f"{args.items:,} items per layout in chunks of {args.chunk:,}: {args.matched:.0%} "
        f"matched, {args.invalid:.0%} invalid, the rest unregistered; load average "
        f"{', '.join(f'{load:.2f}' for load in os.getloadavg())}"
    )
    layouts = [
        (True, "a row for every item (before)"),
        (False, "rows only where they matter (now)"),
    ]
    # Each layout twice, alternating, so a busy machine's drift shows in the timings.
    for every_row, label in [*layouts, *layouts]:
        empty_tables()
        before = sizes()
        seconds = decide_all(args, work_ids, every_row=every_row)
        after = sizes()
        grown = {key: after[key] - before[key] for key in after}
        per_item = {key: value / args.items for key, value in grown.items()}
        print(
            f"{label}: {per_item['total']:.1f} B/item in PostgreSQL (heap {per_item['heap']:.1f}, "
            f"indexes {per_item['indexes']:.1f}; items table "
            f"{per_item['registry_screeningitem']:.1f}, work matches "
            f"{per_item['registry_workscreening']:.1f}, chunks "
            f"{per_item['registry_screeningchunk']:.1f}); recorded in {seconds:.2f} s "
            f"({args.items / seconds:,.0f} items/s)"
        )


if __name__ == "__main__":
    main()
