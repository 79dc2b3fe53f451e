"""Load test: `python -m bench.load [--works 1000000] [--users 16] [--run-time 180]`.

Seeds (once) the synthetic registry of bench.screening in its own database, starts the
production processes as docker/compose.yaml does (gunicorn with docker/gunicorn.conf.py and
a Celery worker, CONSENTRY_ENV=production, Redis as broker and throttle cache), then runs
bench/load/locustfile.py headless with locust from the tools virtualenv (var/tools-venv,
made by `make load`). Prints requests/s, p50/p95/p99 and errors per endpoint, the memory of
every process (RSS and PSS: the web workers share the index the master loaded), and the
machine's load average, which matters here: the machine is shared.
"""

import argparse
import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKDIR = ROOT / "var" / "load"
LOCUST = ROOT / "var" / "tools-venv" / "bin" / "locust"
HOST = "consentry.test"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--works", type=int, default=1_000_000, help="registered works")
    parser.add_argument("--users", type=int, default=16, help="concurrent locust users")
    parser.add_argument("--spawn-rate", type=float, default=4)
    parser.add_argument("--run-time", type=int, default=180, help="seconds of load")
    parser.add_argument("--solo", type=int, default=40, help="checks timed one at a time")
    parser.add_argument("--port", type=int, default=8031)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/14")
    return parser.parse_args()


def environment(args: argparse.Namespace, database: str) -> dict[str, str]:
    from registry.receipts import new_private_pem

    key_file = WORKDIR / "receipt_signing_key.pem"
    if not key_file.exists():
        key_file.write_bytes(new_private_pem())
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CONSENTRY_ENV": "production",
        "DJANGO_SECRET_KEY": "load-test-" + "x" * 50,
        "CONSENTRY_RECEIPT_SIGNING_KEY_FILE": str(key_file),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "CELERY_BROKER_URL": args.broker,
        "CACHE_URL": args.cache,
        "CELERY_QUEUE": "consentry-load",
        "DJANGO_ALLOWED_HOSTS": HOST,
        "CONSENTRY_PUBLIC_URL": f"https://{HOST}",
        "CONSENTRY_VAR_DIR": str(WORKDIR / "var"),
        "DJANGO_STATIC_ROOT": str(WORKDIR / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{args.port}",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "WEB_CONCURRENCY": str(args.web_workers),
        "GUNICORN_THREADS": str(args.threads),
        # One organization is every simulated client here: its throttle must not be the limit.
        "CONSENTRY_THROTTLE_RATE": "10000000/min",
        "LOG_LEVEL": "WARNING",
    }


def prepare(args: argparse.Namespace, env: dict[str, str]) -> str:
    """Seed the registry (idempotent), make an API key and the items file."""
    from bench.screening.__main__ import DATABASE, create_database, synthetic_items

    os.environ.update(env)
    create_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    from bench.screening.seed import make_pool, seed_registry
    from registry.models import Organization, Work
    from registry.services.organizations import api_key_create, organization_create

    call_command("migrate", verbosity=0)
    began = time.perf_counter()
    seed_registry(args.works, make_pool())
    seconds = time.perf_counter() - began
    print(f"registry: {Work.objects.count():,} works in {DATABASE} (seeding {seconds:.0f} s)")
    call_command("collectstatic", "--noinput", verbosity=0)
    organization = Organization.objects.filter(name="Load AI").first() or organization_create(
        name="Load AI"
    )
    _, key = api_key_create(organization=organization)
    items_file = WORKDIR / "items.json"
    if not items_file.exists():
        items_file.write_text(json.dumps(synthetic_items(50_000, 0.2, args.works, seed=11)))
    return key


def start(args: argparse.Namespace, env: dict[str, str]) -> dict[str, subprocess.Popen[bytes]]:
    commands = {
        "web": [
            *(sys.executable, "-m", "gunicorn"),
            *("--config", "docker/gunicorn.conf.py", "config.wsgi:application"),
        ],
        "worker": [
            *(sys.executable, "-m", "celery", "--app=config", "--quiet", "worker"),
            *("--loglevel=WARNING", f"--concurrency={args.celery_concurrency}"),
        ],
    }
    return {
        name: subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=(WORKDIR / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, command in commands.items()
    }


def stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_ready(base: str, timeout: float = 900) -> float:
    import requests

    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            if requests.get(f"{base}/health/ready", timeout=30).status_code == 200:
                return time.monotonic() - began
        except requests.RequestException:
            pass
        time.sleep(2)
    raise SystemExit(f"not ready after {timeout:.0f} s; see {WORKDIR}/web.log")


def warm_up(base: str, key: str, workers: int) -> float:
    """A few screenings and checks, so that every process has served one before the timing."""
    import requests

    http = requests.Session()
    http.headers.update({"Authorization": f"Api-Key {key}", "Host": HOST})
    http.headers["X-Forwarded-Proto"] = "https"
    items = json.loads((WORKDIR / "items.json").read_text())
    began = time.monotonic()
    ids = []
    for number in range(workers * 2):
        batch = items[number * 100 : (number + 1) * 100]
        response = http.post(
            f"{base}/api/v1/screenings", json={"purpose": "ai_training", "items": batch}
        )
        response.raise_for_status()
        ids.append(response.json()["id"])
    for screening_id in ids:
        while http.get(f"{base}/api/v1/screenings/{screening_id}").json()["status"] != "finished":
            time.sleep(1)
    for _ in range(4 * workers):  # and every web process answers a check
        http.post(f"{base}/api/v1/check", json={"purpose": "ai_training", "items": items[:100]})
    return time.monotonic() - began


def solo_latencies(base: str, key: str, requests_: int) -> dict[int, str]:
    """POST /check one request at a time: the service time, without queueing behind others."""
    import requests

    http = requests.Session()
    http.headers.update({"Authorization": f"Api-Key {key}", "Host": HOST})
    http.headers["X-Forwarded-Proto"] = "https"
    items = json.loads((WORKDIR / "items.json").read_text())
    figures = {}
    for size in (100, 1000):
        times = []
        for number in range(requests_):
            batch = items[(number * size) % 40_000 :][:size]
            began = time.perf_counter()
            response = http.post(
                f"{base}/api/v1/check", json={"purpose": "ai_training", "items": batch}
            )
            response.raise_for_status()
            times.append((time.perf_counter() - began) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        figures[size] = f"p50 {statistics.median(times):.0f} ms, p95 {p95:.0f} ms"
    return figures


def _children(pid: int) -> list[int]:
    found = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found += _children(int(child))
    return found


def memory(processes: dict[str, subprocess.Popen[bytes]]) -> dict[str, str]:
    """RSS and PSS (shared pages divided among their sharers) of each role's processes."""
    figures = {}
    for name, process in processes.items():
        rss = pss = 0
        pids = _children(process.pid)
        for pid in pids:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        figures[name] = (
            f"{len(pids)} processes, RSS {rss / 1024:,.0f} MiB, PSS {pss / 1024:,.0f} MiB"
        )
    return figures


class LoadSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            self.samples.append(os.getloadavg()[0])
            time.sleep(5)


def run_locust(args: argparse.Namespace, base: str, key: str) -> list[dict[str, str]]:
    prefix = WORKDIR / "locust"
    env = {
        **os.environ,
        "LOAD_API_KEY": key,
        "LOAD_ITEMS": str(WORKDIR / "items.json"),
        "LOAD_HOST_HEADER": HOST,
    }
    subprocess.run(
        [
            str(LOCUST),
            "-f",
            str(ROOT / "bench" / "load" / "locustfile.py"),
            "--headless",
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.spawn_rate),
            "--run-time",
            f"{args.run_time}s",
            "--stop-timeout",
            "60",
            "--host",
            base,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        check=False,
    )
    with open(f"{prefix}_stats.csv") as stats:
        return list(csv.DictReader(stats))


def main() -> int:
    args = parse_args()
    if not LOCUST.exists():
        raise SystemExit(f"{LOCUST} is missing: run `make load`, which installs it")
    WORKDIR.mkdir(parents=True, exist_ok=True)
    from bench.screening.__main__ import DATABASE, machine

    env = environment(args, DATABASE)
    key = prepare(args, env)
    print(f"machine: {machine()}")
    base = f"http://127.0.0.1:{args.port}"
    processes = start(args, env)
    try:
        print(
            f"ready after {wait_ready(base):.0f} s (the master loads the index, workers share it)"
        )
        seconds = warm_up(base, key, args.celery_concurrency)
        print(f"warm-up (screenings and checks in every process): {seconds:.0f} s")
        print(f"memory before the load: {memory(processes)}")
        for size, figures in solo_latencies(base, key, args.solo).items():
            print(f"POST /check of {size} items, one at a time ({args.solo} requests): {figures}")
        sampler = LoadSampler()
        sampler.start()
        rows = run_locust(args, base, key)
        sampler.running = False
        print(f"memory after the load: {memory(processes)}")
    finally:
        stop(processes)
    print(
        f"\nlocust: {args.users} users, {args.run_time} s; web {args.web_workers} processes x "
        f"{args.threads} threads, Celery concurrency {args.celery_concurrency}, "
        f"{args.works:,} works"
    )
    print(f"{'endpoint':52} {'requests':>9} {'errors':>7} {'req/s':>7}", end="")
    print(f" {'p50':>6} {'p95':>6} {'p99':>6}   (ms)")
    failures = 0
    for row in rows:
        failures += int(row["Failure Count"])
        print(
            f"{row['Name']:52} {int(row['Request Count']):>9,} {int(row['Failure Count']):>7} "
            f"{float(row['Requests/s']):>7.1f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6}"
        )
    samples = sampler.samples or [os.getloadavg()[0]]
    print(
        f"load average (1 min) during the run: min {min(samples):.2f}, "
        f"mean {statistics.mean(samples):.2f}, max {max(samples):.2f} on {os.cpu_count()} cores"
    )
    checks = [row for row in rows if row["Name"].startswith("POST /api/v1/check (100")]
    if checks:
        p95 = float(checks[0]["95%"])
        verdict = "met" if p95 <= 300 else "NOT met"
        print(f"target: p95 of POST /api/v1/check (100 items) <= 300 ms: {p95:.0f} ms, {verdict}")
    print(f"target: 0 errors: {failures} errors, {'met' if failures == 0 else 'NOT met'}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
