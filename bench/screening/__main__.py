"""End-to-end screening throughput: `python -m bench.screening [--works 1000000]`.

Client fingerprints in, results out: the items go through the API (gunicorn), the broker, the
Celery worker and PostgreSQL, exactly as `python -m registry.client screen` sends them, minus
the hashing of images (bench.fingerprint measures that). Then `POST /api/v1/check` latency for
batches of 1,000 items. Uses its own database (default consentry_bench) and queue.

`--realistic` runs it twice, side by side: on the registry of uniform random hashes, then on
one whose hashes are drawn from real pictures (bench.collisions' codes, as
`bench.matching --realistic` draws them; its own database, consentry_bench_realistic), with
items whose hashes come from other real pictures. Real hashes cluster, so each item brings
thousands of candidates to verify instead of none: use fewer items and smaller chunks there.
"""

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from registry.client.run import STREAM_READ_BYTES

ROOT = Path(__file__).resolve().parents[2]
PORT = 8011
DATABASE = os.environ.get("BENCH_DATABASE", "consentry_bench")
REALISTIC_SUFFIX = "_realistic"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.screening", description=__doc__)
    parser.add_argument("--works", type=int, default=1_000_000, help="registered works")
    parser.add_argument("--items", type=int, default=100_000, help="items screened")
    parser.add_argument("--planted", type=float, default=0.2, help="share of re-posts")
    parser.add_argument("--chunk", type=int, default=10_000, help="items per request")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--checks", type=int, default=200, help="POST /check requests timed")
    parser.add_argument("--check-items", type=int, default=1_000)
    parser.add_argument(
        "--broker", default="amqp://guest:guest@127.0.0.1:5672//", help="CELERY_BROKER_URL"
    )
    parser.add_argument(
        "--codes",
        choices=("uniform", "realistic"),
        default="uniform",
        help="registered and screened hashes: uniform random, or drawn from real pictures",
    )
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="run uniform, then realistic codes, with the same arguments",
    )
    parser.add_argument("--flips", default="0,4", help="realistic codes: bits flipped, low,high")
    return parser.parse_args()


def database(args: argparse.Namespace) -> str:
    return DATABASE + (REALISTIC_SUFFIX if args.codes == "realistic" else "")


def environment(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CONSENTRY_ENV": "development",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database(args)}",
        "CELERY_BROKER_URL": args.broker,
        "CELERY_QUEUE": "consentry-bench",
        "CONSENTRY_THROTTLE_RATE": "1000000/min",
        "CONSENTRY_MAX_ITEMS_PER_REQUEST": str(max(args.chunk, 10_000)),
        "LOG_LEVEL": "WARNING",
    }


def create_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        exists = db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            db.execute(f'CREATE DATABASE "{name}"')


def start_services(args: argparse.Namespace, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    log = open(ROOT / "var" / "bench-screening.log", "ab")  # noqa: SIM115 - lives as long as they do
    # The processes of docker/compose.yaml: gunicorn with its production configuration (threads,
    # the index loaded before the workers fork), and a Celery worker that does the same.
    web = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn"),
            *("--config", "docker/gunicorn.conf.py", "config.wsgi:application"),
        ],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{PORT}", "WEB_CONCURRENCY": str(args.web_workers)},
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            f"--concurrency={args.celery_concurrency}",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    return [web, worker]


def stop_services(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def synthetic_items(
    count: int, planted: float, works: int, seed: int, strangers: Any = None
) -> list[dict[str, Any]]:
    """Items as the client sends them; a share are re-posts of registered works (a few bits
    flipped in each hash, the same descriptor), the rest strangers, whose hashes come from
    `strangers(rng, count)` (pHashes, dHashes) or are uniform random, their regions' hashes
    too: a stranger's descriptors are borrowed from a few procedural artworks, but no two
    strangers share a region's hashes, as no two different pictures would. (Borrowed with
    the descriptors, a region's hashes came back in thousands of items: one of them near a
    registered code by chance made all those items candidates.)"""
    import numpy as np

    from bench.screening.seed import (
        POOL_SIZE,
        make_pool,
        original_hashes,
        stranger_pool,
        uniform_codes,
    )

    rng = np.random.default_rng(seed)
    pool = make_pool()
    others = stranger_pool()
    targets = rng.integers(1, works + 1, int(count * planted)).tolist()
    near = original_hashes(targets)
    draw = strangers or uniform_codes
    stranger_p, stranger_d = draw(rng, count)
    # A generator of its own, so that every other draw stays what it was.
    region_rng = np.random.default_rng([seed, 1])
    items = []
    for number in range(count):
        if number < len(targets) and targets[number] in near:
            work = targets[number]
            phash, dhash = near[work]
            phash ^= 1 << int(rng.integers(64))
            wire = pool.images[work % POOL_SIZE].to_wire()
        else:
            phash, dhash = int(stranger_p[number]), int(stranger_d[number])
            wire = others[int(rng.integers(POOL_SIZE))].to_wire()
            if wire.get("regions"):
                wire["regions"] = _own_region_codes(wire["regions"], draw, region_rng)
        wire.update(
            id=f"item-{seed}-{number}",
            phash=f"{phash:016x}",
            dhash=f"{dhash:016x}",
            sha256=f"{int(rng.integers(2**62)):064x}",
        )
        items.append(wire)
    order = rng.permutation(count)
    return [items[i] for i in order]


def _own_region_codes(regions: Any, draw: Any, rng: Any) -> list[dict[str, Any]]:
    """The regions with hashes drawn as a stranger's own hashes are: boxes and descriptors kept."""
    phashes, dhashes = draw(rng, len(regions))
    return [
        {**region, "phash": f"{int(phash):016x}", "dhash": f"{int(dhash):016x}"}
        for region, phash, dhash in zip(regions, phashes, dhashes, strict=True)
    ]


def wait_until_up(base: str, key: str, timeout: float = 600) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = requests.get(f"{base}/api/v1/matching", timeout=5)
            if response.ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise SystemExit("the web server did not start; see var/bench-screening.log")


def screen(
    base: str, key: str, items: list[dict[str, Any]], chunk: int
) -> tuple[float, Counter, dict[str, float]]:
    """Seconds from the first POST to the last decision read back, the decisions, and the
    seconds each phase ended at: every chunk sent, the screening finished."""
    import requests

    http = requests.Session()
    http.headers["Authorization"] = f"Api-Key {key}"
    started = time.perf_counter()
    created = http.post(
        f"{base}/api/v1/screenings", json={"purpose": "ai_training", "keep_open": True}
    ).json()
    url = f"{base}/api/v1/screenings/{created['id']}"
    for number, start in enumerate(range(0, len(items), chunk)):
        body: dict[str, Any] = {"number": number, "items": items[start : start + chunk]}
        response = http.post(f"{url}/chunks", json=body)
        response.raise_for_status()
    http.post(f"{url}/close").raise_for_status()
    phases = {"sent": time.perf_counter() - started}
    while http.get(url).json()["status"] != "finished":
        time.sleep(0.2)
    phases["finished"] = time.perf_counter() - started
    decisions: Counter[str] = Counter()
    with http.get(f"{url}/items", headers={"Accept": "application/x-ndjson"}, stream=True) as lines:
        for line in lines.iter_lines(chunk_size=STREAM_READ_BYTES):
            if line:
                item = json.loads(line)
                decisions[item["decision"]] += 1
                if item["decision"] == "invalid":  # why: the budget, a weak image, a bad field
                    decisions[f"invalid: {item.get('reason') or 'no reason'}"] += 1
        # Unregistered and invalid items are counted, not listed: the header says how many.
        for part in filter(None, lines.headers.get("Consentry-Counted-Only", "").split(", ")):
            name, _, count = part.partition("=")
            decisions[name] += int(count)
    # As the client does: each chunk's root and unlisted decisions, to rebuild every leaf.
    following: str | None = f"{url}/decisions?page_size=1000"
    while following:
        following = http.get(following).json()["next"]
    return time.perf_counter() - started, decisions, phases


def check_latencies(
    base: str, key: str, items: list[dict[str, Any]], requests_: int, size: int
) -> list[float]:
    import requests

    http = requests.Session()
    http.headers["Authorization"] = f"Api-Key {key}"
    latencies = []
    for number in range(requests_):
        start = (number * size) % max(len(items) - size, 1)
        body: dict[str, Any] = {"purpose": "ai_training", "items": items[start : start + size]}
        began = time.perf_counter()
        http.post(f"{base}/api/v1/check", json=body).raise_for_status()
        latencies.append(time.perf_counter() - began)
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def machine() -> str:
    model = platform.processor()
    with open("/proc/cpuinfo") as cpuinfo:
        model = next(
            (x.split(":")[1].strip() for x in cpuinfo if x.startswith("model name")), model
        )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, {os.cpu_count()} cores, {memory:.1f} GiB, load average {os.getloadavg()[0]:.2f}"
    )


def real_codes(args: argparse.Namespace) -> tuple[Any, Any]:
    """(codes of registered variants, codes of strangers), drawn from the real pictures of
    two halves of the families (bench.matching.realistic)."""
    from bench.collisions import CODES
    from bench.matching.realistic import load_pictures, realistic_pairs, split
    from registry.matching.rules import DEFAULT_MATCHING

    low, high = (int(part) for part in args.flips.split(","))
    pictures = load_pictures(str(CODES), DEFAULT_MATCHING)
    registered, others = split(pictures)
    print(
        f"codes: realistic, from {registered.phash.size:,} real pictures (registry) and "
        f"{others.phash.size:,} others (strangers), {low}..{high} bits flipped; "
        f"{pictures.refused:,} pictures under the weak-image gate left out"
    )

    def draw(real: Any) -> Any:
        return lambda rng, size: realistic_pairs(rng, real, size, (low, high))[:2]

    return draw(registered), draw(others)


def both(args: argparse.Namespace) -> None:
    """The run on uniform codes, then on realistic codes, each in its own process and database."""
    forwarded = [arg for arg in sys.argv[1:] if arg != "--realistic"]
    for codes in ("uniform", "realistic"):
        print(f"\n== {codes} codes ==", flush=True)
        subprocess.run(
            [sys.executable, "-m", "bench.screening", *forwarded, "--codes", codes],
            cwd=ROOT,
            check=True,
        )


def main() -> None:
    args = parse_args()
    if args.realistic:
        both(args)
        return
    env = environment(args)
    os.environ.update(env)
    create_database(database(args))
    import django

    django.setup()
    from django.core.management import call_command

    from bench.screening.seed import make_pool, seed_registry
    from registry.models import Organization
    from registry.services.organizations import api_key_create, organization_create

    print(f"machine: {machine()}")
    registered, strangers = real_codes(args) if args.codes == "realistic" else (None, None)
    call_command("migrate", verbosity=0)
    began = time.perf_counter()
    if registered is None:
        seed_registry(args.works, make_pool())
    else:
        seed_registry(args.works, make_pool(), codes=registered)
    print(
        f"registry: {args.works:,} works, {args.codes} codes, in {database(args)} "
        f"(seeding took {time.perf_counter() - began:.0f} s)"
    )
    organization = Organization.objects.filter(name="Bench AI").first() or organization_create(
        name="Bench AI"
    )
    _, key = api_key_create(organization=organization)
    items = synthetic_items(args.items, args.planted, args.works, seed=1, strangers=strangers)
    warm_up = synthetic_items(args.chunk, args.planted, args.works, seed=2, strangers=strangers)
    base = f"http://127.0.0.1:{PORT}"
    processes = start_services(args, env)
    try:
        wait_until_up(base, key)
        began = time.perf_counter()
        # The processes loaded the index before they forked; one screening and a few
        # concurrent checks (so that every web process serves one) warm the rest up.
        screen(base, key, warm_up, args.chunk)
        with ThreadPoolExecutor(2 * args.web_workers) as pool:
            list(
                pool.map(
                    lambda _: check_latencies(base, key, warm_up, 2, args.check_items),
                    range(2 * args.web_workers),
                )
            )
        print(f"warm-up (a screening, a check per process): {time.perf_counter() - began:.0f} s")
        seconds, decisions, phases = screen(base, key, items, args.chunk)
        print(
            f"screening: {args.items:,} items in {seconds:.1f} s = "
            f"{args.items / seconds:,.0f} items/s (target 5,000), {args.codes} codes, load "
            f"average {os.getloadavg()[0]:.2f}; decisions {dict(decisions)}"
        )
        print(
            f"  every chunk sent at {phases['sent']:.1f} s, all decided at "
            f"{phases['finished']:.1f} s, every decision read back at {seconds:.1f} s"
        )
        latencies = check_latencies(base, key, items, args.checks, args.check_items)
        print(
            f"POST /check of {args.check_items:,} items, {args.checks} requests: "
            f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms (target 300), "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms"
        )
    finally:
        stop_services(processes)


if __name__ == "__main__":
    main()
