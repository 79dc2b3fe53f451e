"""Benchmark of the streamed compliance exports: `python -m bench.exports [--rows 1000000]`.

Fills a database of its own with one finished screening of `--rows` decided items (half
allowed with credit, the rest denied, unregistered or invalid), then streams each export in a
fresh process and prints rows per second, the peak RSS of that process, and its RSS after the
first tenth of the rows: flat memory means the two stay close whatever the number of rows.

The database is DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/consentry_bench, made
beforehand with `createdb`), else a SQLite file under var/. Not a test: nothing is asserted.
"""

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024  # ru_maxrss is in KiB on Linux
EXPORTS = [
    ("screening-report", "csv"),
    ("eu-ai-act", "json"),
    ("china-art7", "jsonl"),
    ("croissant", "jsonld"),
    ("ledger", "jsonl"),
]
ORGANIZATION = "Bench AI"
_NO_ITEMS: Any = []  # a decided chunk keeps no payload


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("CONSENTRY_ENV", "development")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-exports.sqlite3'}")
    (ROOT / "var").mkdir(exist_ok=True)
    import django

    django.setup()


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _credit(work_id: int) -> list[dict[str, Any]]:
    return [
        {
            "artist": f"Artist {work_id % 97}",
            "credit_line": f"Artist {work_id % 97}",
            "title": f"Work {work_id}",
            "work_id": work_id,
            "url": f"https://registry.example/api/v1/credits/{work_id}",
            "license": "CC-BY-4.0",
            "attribution": "",
        }
    ]


def _item(position: int, work_ids: list[int]) -> tuple[str, str, list[Any], list[Any]]:
    kind = position % 8
    if kind < 4:
        work_id = work_ids[position % len(work_ids)]
        match = [{"work_id": work_id, "variant": "original", "algorithm": "phash+verify"}]
        return "allowed", f"work {work_id}: allowed", match, _credit(work_id)
    if kind < 6:
        work_id = work_ids[position % len(work_ids)]
        match = [{"work_id": work_id, "variant": "mirror", "algorithm": "phash+verify"}]
        return "denied", f"work {work_id}: not_allowed", match, []
    if kind == 6:
        return "unregistered", "no registered work matches", [], []
    return "invalid", "malformed fingerprint: bad phash", [], []


def populate(rows: int) -> str:
    """One finished screening of `rows` items; reused when it is there already."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from registry.models import Artist, Organization, Screening, ScreeningChunk, Work

    call_command("migrate", verbosity=0)
    organization, _ = Organization.objects.get_or_create(name=ORGANIZATION)
    existing = Screening.objects.filter(organization=organization, total_items=rows).first()
    if existing is not None:
        return str(existing.id)
    user, _ = get_user_model().objects.get_or_create(username="bench-artist")
    artist, _ = Artist.objects.get_or_create(user=user, defaults={"display_name": "Bench"})
    works = [
        Work(
            artist=artist,
            title=f"Work {n}",
            sha256=f"{n:064x}",
            width=512,
            height=512,
            information=20.0,
            fingerprint_version=1,
        )
        for n in range(200)
    ]
    work_ids = [work.pk for work in Work.objects.bulk_create(works)]
    counts = {"allowed": 0, "denied": 0, "unregistered": 0, "invalid": 0}
    with transaction.atomic():
        screening = Screening.objects.create(
            organization=organization,
            purpose="ai_training",
            mode="consent_required",
            status="finished",
            total_items=rows,
            done_items=rows,
            registry_sequence=0,
            registry_hash="0" * 64,
            receipt={"screening": "bench"},
            receipt_signature="bench",
        )
        chunk_size = 10_000
        for number, start in enumerate(range(0, rows, chunk_size)):
            size = min(chunk_size, rows - start)
            chunk = ScreeningChunk.objects.create(
                screening=screening, number=number, item_count=size, payload=_NO_ITEMS
            )
            batch = []
            for position in range(size):
                decision, reason, matches, credit = _item(start + position, work_ids)
                counts[decision] += 1
                batch.append((position, start + position, decision, reason, matches, credit))
            _insert_items(connection, screening.id, chunk.pk, batch)
        Screening.objects.filter(pk=screening.pk).update(counts=counts)
    return str(screening.id)


def _insert_items(connection: Any, screening_id: uuid.UUID, chunk_id: int, batch: list) -> None:
    import json

    columns = "screening_id, chunk_id, position, item_id, url, decision, reason, matches, credit"
    rows = [
        (
            str(screening_id) if connection.vendor == "postgresql" else screening_id.hex,
            chunk_id,
            position,
            f"item-{number}",
            "",
            decision,
            reason,
            json.dumps(matches),
            json.dumps(credit),
        )
        for position, number, decision, reason, matches, credit in batch
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy(f"COPY registry_screeningitem ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * 9)
            cursor.executemany(
                f"INSERT INTO registry_screeningitem ({columns}) VALUES ({marks})",  # noqa: S608
                rows,
            )


def run_one(kind: str, fmt: str, screening_id: str, rows: int) -> None:
    """In a fresh process: stream one export, count its rows, report time and memory."""
    from registry.exports.kinds import prepare_export
    from registry.models import Organization
    from registry.selectors.compliance import ExportScope

    organization = Organization.objects.get(name=ORGANIZATION)
    scope = ExportScope(organization=organization, screening_ids=(screening_id,))
    prepared = prepare_export(kind, fmt, scope)
    baseline = _rss_kib()
    started, lines, characters, early_rss = time.perf_counter(), 0, 0, 0
    for chunk in prepared.chunks():
        lines += chunk.count("\n")
        characters += len(chunk)
        if not early_rss and lines >= rows // 10:
            early_rss = _rss_kib()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    early = f"{early_rss / MiB:6.1f} MiB" if early_rss else "     —    "
    print(
        f"{kind:17} {fmt:6} {lines:>9} lines {characters / 2**20:7.1f} MiB out {seconds:6.1f} s "
        f"{rows / seconds:>10,.0f} items/s | RSS before {baseline / MiB:6.1f} MiB, "
        f"at 10% {early}, peak {peak / MiB:6.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.exports", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--run", nargs=3, metavar=("KIND", "FORMAT", "ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    _django()
    if args.run:
        kind, fmt, screening_id = args.run
        run_one(kind, fmt, screening_id, rows=args.rows)
        return
    from django.db import connection

    started = time.perf_counter()
    screening_id = populate(args.rows)
    print(
        f"{args.rows:,} items in {connection.vendor} "
        f"(ready in {time.perf_counter() - started:.0f} s); Python {platform.python_version()}"
    )
    for kind, fmt in EXPORTS:
        command = [sys.executable, "-m", "bench.exports", "--rows", str(args.rows)]
        subprocess.run([*command, "--run", kind, fmt, screening_id], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
