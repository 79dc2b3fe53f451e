"""What a screened item costs, JSON in one phase against binary in two, in the same run:
`python -m bench.screening.economy [--works 1000000] [--items 100000]`.

The same items (a share re-posts of registered works) go through the API (gunicorn), the
broker, the Celery worker and PostgreSQL twice, sent by the client's own ChunkSender: once as
JSON (every field of every item), once in two phases (MessagePack hashes, then the verification
payloads of the items the registry finds candidates for). For each it prints items/s (first
request to last decision read back), the bytes sent per item (matched and unmatched apart), the
CPU time the web server, the worker and the client spent per item (PostgreSQL's not), and how
much PostgreSQL grew per item (tables with their TOAST, and indexes), measured with
pg_table_size / pg_indexes_size before and after. Its own database (BENCH_DATABASE, default
consentry_bench), port and queue; seeded as bench.screening seeds it.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.screening.__main__ import create_database, stop_services

ROOT = Path(__file__).resolve().parents[2]
DATABASE = os.environ.get("BENCH_DATABASE", "consentry_bench")
PORT = int(os.environ.get("BENCH_ECONOMY_PORT", "8018"))
# Every table a screening writes; their sizes include TOAST (pg_table_size).
TABLES = (
    "registry_screening",
    "registry_screeningchunk",
    "registry_screeningitem",
    "registry_workscreening",
)
MATCHED = ("allowed", "denied")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.screening.economy", description=__doc__)
    parser.add_argument("--works", type=int, default=1_000_000, help="registered works")
    parser.add_argument("--items", type=int, default=100_000, help="items screened")
    parser.add_argument("--planted", type=float, default=0.2, help="share of re-posts")
    parser.add_argument("--chunk", type=int, default=10_000, help="items per chunk")
    parser.add_argument("--rounds", type=int, default=1, help="JSON then binary, this many times")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=2,
        help="chunks the client keeps in flight (ChunkSender.send_all); 1: one after another",
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/4", help="CELERY_BROKER_URL")
    return parser.parse_args()


def environment(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CONSENTRY_ENV": "development",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "CELERY_BROKER_URL": args.broker,
        "CELERY_QUEUE": "consentry-bench-economy",
        "CONSENTRY_THROTTLE_RATE": "1000000/min",
        "CONSENTRY_MAX_ITEMS_PER_REQUEST": str(max(args.chunk, 10_000)),
        # A JSON chunk of 10,000 items with regions is 38 MB: over the default 32 MiB.
        "CONSENTRY_MAX_REQUEST_BYTES": os.environ.get("CONSENTRY_MAX_REQUEST_BYTES", str(64 << 20)),
        "LOG_LEVEL": "WARNING",
    }


def start_services(args: argparse.Namespace, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / "bench-economy.log", "ab")  # noqa: SIM115 - lives as long as they do
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
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING"),
            f"--concurrency={args.celery_concurrency}",
            *("--without-gossip", "--without-mingle"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    return [web, worker]


def laion_keyed(items: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Ids shaped like img2dataset's keys (9 digits), the size a LAION item's id has."""
    return [{**wire, "id": f"{seed}{number:08d}"} for number, wire in enumerate(items)]


def wait_until_up(base: str, timeout: float = 900) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/api/v1/matching", timeout=5).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise SystemExit("the web server did not start; see var/bench-economy.log")


def database_bytes() -> tuple[int, int]:
    """(tables with TOAST, indexes) of every table a screening writes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(pg_table_size(t::regclass)), 0), "
            "COALESCE(SUM(pg_indexes_size(t::regclass)), 0) FROM unnest(%s::text[]) AS t",
            [list(TABLES)],
        )
        tables, indexes = cursor.fetchone()
    return int(tables), int(indexes)


@dataclass
class Sent:
    """What the client sent, by item id: bytes attributed to each item."""

    per_item: dict[str, float] = field(default_factory=dict)
    verified: set[str] = field(default_factory=set)
    with_regions: set[str] = field(default_factory=set)


def _sender_class() -> type:
    import msgpack

    from registry.chunk_wire import HASHES_MEDIA_TYPE, VERIFICATION_MEDIA_TYPE, unpack
    from registry.client.chunks import ChunkSender

    class CountingSender(ChunkSender):
        """The client's sender, attributing every body's bytes to the items it carries: a
        share of the envelope to each, a verification row to its own item."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.record = Sent()
            # Chunks go from several threads (send_all): each attributes its own chunk's bodies.
            self._local = threading.local()

        def send(self, screening_id: str, number: int, items: Sequence[Mapping[str, Any]]) -> None:
            self._local.items = items
            super().send(screening_id, number, items)

        def _post(self, path: str, body: bytes, media_type: str) -> Any:
            response = super()._post(path, body, media_type)
            if response.status_code < 400:
                self._attribute(body, media_type)
            return response

        def _attribute(self, body: bytes, media_type: str) -> None:
            ids = [item["id"] for item in self._local.items]
            own: dict[str, int] = {}
            if media_type == VERIFICATION_MEDIA_TYPE:
                # Each row to its own item (a region's descriptor adds to its row).
                rows = unpack(body)["items"]
                own = {ids[row[0]]: len(msgpack.packb(row, use_bin_type=True)) for row in rows}
                self.record.verified.update(own)
            elif media_type == HASHES_MEDIA_TYPE:
                # Hashes (layout 2): its id (with its header), 48 bytes of hashes and 2 of
                # information each; where the chunk has regions, a byte for its count and 8
                # bytes a region (its pHash) to each item; the envelope shared evenly.
                counts = unpack(body).get("region_counts", b"")
                for position, item_id in enumerate(ids):
                    own[item_id] = len(msgpack.packb(item_id)) + 50
                    if counts:
                        own[item_id] += 1 + 8 * counts[position]
                    if counts and counts[position]:
                        self.record.with_regions.add(item_id)
            else:  # JSON: shared evenly here, each item's own text counted by run_once
                own = dict.fromkeys(ids, 0)
            share = (len(body) - sum(own.values())) / len(own)
            for item_id, size in own.items():
                self.record.per_item[item_id] = (
                    self.record.per_item.get(item_id, 0.0) + size + share
                )

    return CountingSender


def json_item_bytes(items: list[dict[str, Any]]) -> dict[str, float]:
    """Each JSON item's own bytes, with the separator after it."""
    return {item["id"]: len(json.dumps(item, allow_nan=False)) + 2.0 for item in items}


def screen(
    base: str, key: str, items: list[dict[str, Any]], chunk: int, wire: str, in_flight: int
) -> dict:
    import requests

    from registry.client.api import Registry
    from registry.client.collect import every_decision

    registry = Registry(base, key, retry_for=60)
    sender = _sender_class()(registry, wire=wire)
    http = requests.Session()
    http.headers["Authorization"] = f"Api-Key {key}"
    started = time.perf_counter()
    created = registry.post("screenings", json={"purpose": "ai_training", "keep_open": True})
    chunks = [
        (number, items[start : start + chunk])
        for number, start in enumerate(range(0, len(items), chunk))
    ]
    for _ in sender.send_all(created["id"], chunks, in_flight=in_flight):
        pass
    registry.post(f"screenings/{created['id']}/close")
    sent_at = time.perf_counter() - started
    url = f"{base}/api/v1/screenings/{created['id']}"
    while http.get(url).json()["status"] != "finished":
        time.sleep(0.2)
    decided_at = time.perf_counter() - started
    # As the client reads them: the listed items, and the counted rest by chunk and position.
    chunk_ids = [
        [item["id"] for item in items[start : start + chunk]]
        for start in range(0, len(items), chunk)
    ]
    screening = registry.get(f"screenings/{created['id']}")
    decisions = {
        str(entry["id"]): str(entry["decision"])
        for entry in every_decision(registry, screening, chunk_ids)
    }
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "sent_at": sent_at,
        "decided_at": decided_at,
        "decisions": decisions,
        "record": sender.record,
        "sent_bytes": dict(sender.sent_bytes),
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def report(name: str, result: dict, grown: tuple[int, int], count: int) -> None:
    decisions: dict[str, str] = result["decisions"]
    per_item: dict[str, float] = result["record"].per_item
    matched = [per_item[i] for i, d in decisions.items() if d in MATCHED]
    unmatched = [per_item[i] for i, d in decisions.items() if d not in MATCHED]
    verified = result["record"].verified
    unmatched_verified = sum(1 for i in verified if decisions.get(i) not in MATCHED)
    seconds = result["seconds"]
    tables, indexes = grown
    print(
        f"{name}: {count:,} items in {seconds:.1f} s = {count / seconds:,.0f} items/s "
        f"(all sent at {result['sent_at']:.1f} s, decided at {result['decided_at']:.1f} s); "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"  decisions {dict(sorted(Counter(decisions.values()).items()))}")
    print(
        f"  bytes sent per item: matched {_mean(matched):,.1f} ({len(matched):,} items), "
        f"unmatched {_mean(unmatched):,.1f} ({len(unmatched):,} items); all "
        f"{sum(result['sent_bytes'].values()) / count:,.1f}; by body {result['sent_bytes']}"
    )
    if verified:
        unmatched_ids = [i for i, d in decisions.items() if d not in MATCHED]
        plain = [per_item[i] for i in unmatched_ids if i not in verified]
        asked = [per_item[i] for i in unmatched_ids if i in verified]
        print(
            f"  verification payloads sent for {len(verified):,} items, "
            f"{unmatched_verified:,} of them unmatched (a candidate the descriptor refused); "
            f"unmatched without a candidate {_mean(plain):,.1f} B each ({len(plain):,}), "
            f"with one {_mean(asked):,.1f} B each ({len(asked):,})"
        )
        regions = result["record"].with_regions
        bare = [per_item[i] for i in unmatched_ids if i not in verified and i not in regions]
        framed = [per_item[i] for i in unmatched_ids if i not in verified and i in regions]
        print(
            f"  unmatched without a candidate: without regions {_mean(bare):,.1f} B each "
            f"({len(bare):,}), with regions {_mean(framed):,.1f} B each ({len(framed):,})"
        )
    if "cpu" in result:
        cpu = result["cpu"]
        shares = ", ".join(f"{name} {seconds * 1000 / count:,.2f}" for name, seconds in cpu.items())
        print(
            f"  CPU ms per item: {shares}; together {sum(cpu.values()) * 1000 / count:,.2f} "
            "(PostgreSQL's backends not counted)"
        )
    print(
        f"  PostgreSQL growth per item: tables {tables / count:,.1f} B, indexes "
        f"{indexes / count:,.1f} B, total {(tables + indexes) / count:,.1f} B"
    )


def group_cpu_seconds(group: int) -> float:
    """CPU seconds so far (user and system, reaped children included) of the processes of
    one process group: gunicorn's or Celery's master and its workers. 0 without /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # After the command's closing parenthesis: pgrp is the 3rd field; utime, stime,
        # cutime and cstime the 12th to the 15th.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == group:
            total += sum(int(value) for value in fields[11:15])
    return total / tick


def cpu_seconds(groups: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each process group, and of this process (the client).
    PostgreSQL's backends are left out: one that closes its connection meanwhile (they live
    a minute, DATABASE_CONN_MAX_AGE) takes its CPU time with it."""
    own = os.times()
    return {
        **{name: group_cpu_seconds(group) for name, group in groups.items()},
        "client": own.user + own.system,
    }


def run_once(
    base: str,
    key: str,
    items: list[dict[str, Any]],
    chunk: int,
    wire: str,
    groups: Mapping[str, int],
    in_flight: int,
) -> dict:
    before = database_bytes()
    cpu_before = cpu_seconds(groups)
    result = screen(base, key, items, chunk, wire, in_flight)
    cpu_after = cpu_seconds(groups)
    after = database_bytes()
    result["grown"] = (after[0] - before[0], after[1] - before[1])
    result["cpu"] = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    if wire == "json":
        # The sender attributes a JSON body evenly; an item's own text is what it costs.
        own = json_item_bytes(items)
        envelope = (result["sent_bytes"]["json"] - sum(own.values())) / len(items)
        result["record"].per_item = {key: size + envelope for key, size in own.items()}
    return result


def main() -> None:
    args = parse_args()
    env = environment(args)
    os.environ.update(env)
    create_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    from bench.screening.__main__ import machine, synthetic_items
    from bench.screening.seed import make_pool, registered_works, seed_registry
    from registry.models import Organization
    from registry.services.organizations import api_key_create, organization_create

    print(f"machine: {machine()}")
    call_command("migrate", verbosity=0)
    began = time.perf_counter()
    seed_registry(args.works, make_pool())
    print(
        f"registry: {registered_works():,} works in {DATABASE} "
        f"(seeding took {time.perf_counter() - began:.0f} s)"
    )
    organization = Organization.objects.filter(name="Bench AI").first() or organization_create(
        name="Bench AI"
    )
    _, key = api_key_create(organization=organization)
    items = laion_keyed(synthetic_items(args.items, args.planted, args.works, seed=1), 1)
    warm_up = laion_keyed(synthetic_items(args.chunk, args.planted, args.works, seed=2), 2)
    base = f"http://127.0.0.1:{PORT}"
    processes = start_services(args, env)
    try:
        wait_until_up(base)
        began = time.perf_counter()
        for wire in ("json", "binary"):
            screen(base, key, warm_up, args.chunk, wire, args.in_flight)
        print(f"warm-up (a chunk each way): {time.perf_counter() - began:.0f} s")
        print(f"client: {args.in_flight} chunk(s) in flight (ChunkSender.send_all)")
        results: dict[str, list[dict]] = {"json": [], "binary": []}
        for _ in range(args.rounds):
            for wire in ("json", "binary"):
                groups = {"web": processes[0].pid, "worker": processes[1].pid}
                result = run_once(base, key, items, args.chunk, wire, groups, args.in_flight)
                name = "JSON, one phase" if wire == "json" else "binary, two phases"
                report(name, result, result["grown"], len(items))
                results[wire].append(result)
        same = all(
            r["decisions"] == results["json"][0]["decisions"]
            for r in results["json"] + results["binary"]
        )
        print(f"every item decided the same both ways: {'yes' if same else 'NO'}")
        speeds = {
            wire: _mean([len(items) / r["seconds"] for r in runs]) for wire, runs in results.items()
        }
        print(f"items/s, binary over JSON: {speeds['binary'] / speeds['json']:.2f}x")
    finally:
        stop_services(processes)


if __name__ == "__main__":
    main()
