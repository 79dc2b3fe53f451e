"""URL checks at registry scale: `python -m bench.urls [--urls 10000000] [--rows 1000000]`.

Seeds its own database (default consentry_bench_urls) with works that list `--urls` source
URLs in all, 100 a work, written by PostgreSQL itself; starts gunicorn as docker/compose.yaml
does; times POST /api/v1/urls/check with 10,000 URLs a request, a share of them registered;
then `screen-urls` over a LAION-shaped parquet of `--rows` rows.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.screening.__main__ import machine, percentile, stop_services, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
PORT = 8012
DATABASE = os.environ.get("BENCH_URLS_DATABASE", "consentry_bench_urls")
URLS_PER_WORK = 100
BATCH = 10_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.urls", description=__doc__)
    parser.add_argument("--urls", type=int, default=10_000_000, help="registered source URLs")
    parser.add_argument("--requests", type=int, default=40, help="timed URL-check requests")
    parser.add_argument("--registered", type=float, default=0.2, help="share of known URLs")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for screen-urls")
    parser.add_argument("--web-workers", type=int, default=2)
    return parser.parse_args()


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CONSENTRY_ENV": "development",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "CELERY_BROKER_URL": "memory://",
        "CONSENTRY_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }


def create_database() -> None:
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            db.execute(f'CREATE DATABASE "{DATABASE}"')


def source_url(work: int, number: int) -> str:
    """The URL the seed gives work `work`; the SQL below spells the same normalized form."""
    return f"https://cdn{work % 50}.bench.example/works/{work}/{number}.jpg"


def seed(urls: int) -> None:
    from django.db import connection

    from bench.screening.seed import _artists
    from registry.models import WorkSourceUrl
    from registry.optout import url_key

    assert url_key(source_url(7, 3)) == "cdn7.bench.example/works/7/3.jpg"
    if WorkSourceUrl.objects.count() >= urls:
        return
    works = -(-urls // URLS_PER_WORK)
    artist_ids = [artist.pk for artist in _artists()]
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE registry_worksourceurl")
        cursor.execute("DELETE FROM registry_work WHERE title LIKE 'URL bench work %%'")
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM registry_work")
        first = cursor.fetchone()[0] + 1
        cursor.execute(
            "INSERT INTO registry_work (id, artist_id, title, image, thumbnail, source_urls, "
            "credit_line, sha256, width, height, information, fingerprint_version, created_at, "
            "assurance) "
            "SELECT g, (%s::bigint[])[1 + g %% %s], 'URL bench work ' || g, '', '', '[]', '', "
            "md5(g::text) || md5((-g)::text), 512, 512, 20.0, 2, now(), 'self_asserted' "
            "FROM generate_series(%s, %s) g",
            [artist_ids, len(artist_ids), first, first + works - 1],
        )
        # The unique index is built once after the rows are in, not row by row.
        cursor.execute(
            "ALTER TABLE registry_worksourceurl DROP CONSTRAINT IF EXISTS "
            "source_url_unique_per_work"
        )
        cursor.execute(
            "INSERT INTO registry_worksourceurl (work_id, digest) "
            "SELECT w, sha256(convert_to('cdn' || ((w - %s) %% 50) || '.bench.example/works/' "
            "|| (w - %s) || '/' || n || '.jpg', 'UTF8')) "
            "FROM generate_series(%s, %s) w, generate_series(0, %s) n",
            [first, first, first, first + works - 1, URLS_PER_WORK - 1],
        )
        cursor.execute(
            "ALTER TABLE registry_worksourceurl ADD CONSTRAINT source_url_unique_per_work "
            "UNIQUE (digest, work_id)"
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('registry_work', 'id'), MAX(id)) "
            "FROM registry_work"
        )
        # VACUUM as autovacuum would in time: sets the visibility map that index-only scans need.
        cursor.execute("VACUUM ANALYZE registry_work")
        cursor.execute("VACUUM ANALYZE registry_worksourceurl")
    print(f"  seeded {works * URLS_PER_WORK:,} URLs in {time.perf_counter() - began:.0f} s")


def url_batch(rng: random.Random, works: int, share: float) -> list[str]:
    batch = []
    for _ in range(BATCH):
        if rng.random() < share:
            batch.append(source_url(rng.randrange(works), rng.randrange(URLS_PER_WORK)))
        else:
            batch.append(
                f"https://img{rng.randrange(10**9)}.example.net/{rng.randrange(10**9)}.jpg"
            )
    return batch


def start_web(args: argparse.Namespace, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(ROOT / "var" / "bench-urls.log", "ab")  # noqa: SIM115 - lives as long as gunicorn
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "docker/gunicorn.conf.py",
            "config.wsgi:application",
        ],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{PORT}", "WEB_CONCURRENCY": str(args.web_workers)},
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def time_checks(base: str, key: str, batches: list[list[str]], threads: int) -> list[float]:
    import requests

    def one(batch: list[str]) -> float:
        began = time.perf_counter()
        response = requests.post(
            f"{base}/api/v1/urls/check",
            json={"purpose": "ai_training", "urls": batch},
            headers={"Authorization": f"Api-Key {key}"},
            timeout=120,
        )
        response.raise_for_status()
        return time.perf_counter() - began

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, batches))


def time_screen_urls(base: str, key: str, rows: int, works: int, share: float) -> float:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from registry.client.api import Registry
    from registry.client.urls import UrlRun, screen_urls

    folder = ROOT / "var" / "bench-urls"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "laion-shaped.parquet"
    rng = random.Random(5)
    urls = [url for _ in range(-(-rows // BATCH)) for url in url_batch(rng, works, share)][:rows]
    pq.write_table(pa.table({"url": urls, "caption": ["a picture"] * rows}), source)
    run = UrlRun(source, "url", "ai_training", "consent_required")
    began = time.perf_counter()
    kept, results = folder / "kept.parquet", folder / "results.jsonl"
    screen_urls(Registry(base, key), run, kept, results, folder / "receipt.json")
    seconds = time.perf_counter() - began
    print(
        f"  decisions {dict(run.counts)}, {run.kept:,} rows kept, {run.attestations} signed batches"
    )
    return seconds


def main() -> None:
    args = parse_args()
    env = environment()
    os.environ.update(env)
    (ROOT / "var").mkdir(exist_ok=True)
    create_database()
    import django

    django.setup()
    from django.core.management import call_command

    from registry.models import Organization
    from registry.services.organizations import api_key_create, organization_create

    print(f"machine: {machine()}")
    call_command("migrate", verbosity=0)
    seed(args.urls)
    works = -(-args.urls // URLS_PER_WORK)
    print(f"registry: {works * URLS_PER_WORK:,} source URLs of {works:,} works")
    organization = Organization.objects.filter(name="Bench AI").first() or organization_create(
        name="Bench AI"
    )
    _, key = api_key_create(organization=organization)
    rng = random.Random(1)
    base = f"http://127.0.0.1:{PORT}"
    web = start_web(args, env)
    try:
        wait_until_up(base, key)
        time_checks(base, key, [url_batch(rng, works, args.registered) for _ in range(4)], 2)
        batches = [url_batch(rng, works, args.registered) for _ in range(args.requests)]
        began = time.perf_counter()
        latencies = time_checks(base, key, batches, 2 * args.web_workers)
        seconds = time.perf_counter() - began
        print(
            f"URL check: {args.requests * BATCH:,} URLs ({args.registered:.0%} registered) in "
            f"{seconds:.1f} s = {args.requests * BATCH / seconds:,.0f} URLs/s (target 20,000); "
            f"per request of {BATCH:,}: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms"
        )
        seconds = time_screen_urls(base, key, args.rows, works, args.registered)
        print(
            f"screen-urls: {args.rows:,} parquet rows in {seconds:.1f} s = "
            f"{args.rows / seconds:,.0f} rows/s"
        )
    finally:
        stop_services([web])


if __name__ == "__main__":
    main()
