"""The registry bench.dataset screens against: `python -m bench.dataset.registry [--works N]`.

Seeds (once) bench.screening's synthetic registry of N works (default 1,000,000) in its own
database, registers ten real artworks on top (the first five with AI training allowed, the
other five on their artist's default terms, which bench.screening's seed sets to allowed from an
operator-verified artist: copies of both come back allowed), so that the generated dataset's
copies of them match, then serves it as
docker/compose.yaml does (gunicorn with docker/gunicorn.conf.py and one Celery worker) until
Ctrl-C or SIGTERM. Prints the address and an API key to pass to `python -m bench.dataset`.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The generated dataset's images are artwork(REAL_SEED + n): REAL_WORKS of them are registered.
REAL_SEED = 900_000
REAL_WORKS = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset.registry", description=__doc__)
    parser.add_argument("--works", type=int, default=1_000_000, help="synthetic works")
    parser.add_argument("--port", type=int, default=8061)
    parser.add_argument("--database", default="consentry_bench_dataset")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--celery-concurrency", type=int, default=1)
    return parser.parse_args()


def environment(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_DATABASE": args.database,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CONSENTRY_ENV": "development",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.database}",
        "CELERY_BROKER_URL": args.broker,
        "CELERY_QUEUE": "consentry-bench-dataset",
        "CONSENTRY_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }


def seed(args: argparse.Namespace) -> str:
    """The synthetic works, the real ones, and a new API key."""
    from bench.screening.__main__ import create_database

    create_database(args.database)
    import django

    django.setup()
    from django.core.management import call_command

    from bench.screening.seed import make_pool, seed_registry
    from registry.demo_art import artwork_bytes
    from registry.models import Artist, Organization, Work
    from registry.services.organizations import api_key_create, organization_create
    from registry.services.works import work_register

    call_command("migrate", verbosity=0)
    began = time.perf_counter()
    seed_registry(args.works, make_pool())
    if not Work.objects.filter(title__startswith="Dataset bench ").exists():
        artist = Artist.objects.order_by("pk").first()
        assert artist is not None  # seed_registry made the bench artists
        for number in range(REAL_WORKS):
            work_register(
                artist=artist,
                data=artwork_bytes(REAL_SEED + number),
                title=f"Dataset bench {number}",
                allow=("ai_training",) if number < REAL_WORKS // 2 else (),
            )
    print(f"registry: {Work.objects.count():,} works (seeding {time.perf_counter() - began:.0f} s)")
    organization = Organization.objects.filter(name="Dataset bench").first()
    _, key = api_key_create(organization=organization or organization_create(name="Dataset bench"))
    return key


def serve(args: argparse.Namespace, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    log = (ROOT / "var" / "bench-dataset-registry.log").open("ab")
    web = [sys.executable, "-m", "gunicorn", "--config", "docker/gunicorn.conf.py"]
    worker = [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
              f"--concurrency={args.celery_concurrency}", "--without-gossip",
              "--without-mingle"]  # fmt: skip
    web_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{args.port}",
               "WEB_CONCURRENCY": str(args.web_workers)}  # fmt: skip
    return [
        subprocess.Popen([*web, "config.wsgi:application"], cwd=ROOT, env=web_env, stdout=log,
                         stderr=log, start_new_session=True),
        subprocess.Popen(worker, cwd=ROOT, env=env, stdout=log, stderr=log,
                         start_new_session=True),
    ]  # fmt: skip


def main() -> None:
    args = parse_args()
    env = environment(args)
    os.environ.update(env)
    (ROOT / "var").mkdir(exist_ok=True)
    key = seed(args)
    processes = serve(args, env)
    # Stopped with SIGTERM too (run in the background), the server and worker stop with it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"serving on http://127.0.0.1:{args.port} (log: var/bench-dataset-registry.log)")
    print(f"API key: {key}", flush=True)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(2)
        print("a registry process stopped; see the log")
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
