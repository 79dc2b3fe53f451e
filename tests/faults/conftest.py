"""Fault tests drive a deployment like its users do: an AI team screens through the API with
its key while an artist changes consent with her token, and something breaks underneath.

Slow tests (`@pytest.mark.slow`) run only when asked for: `make test-slow`, or `-m slow`.
"""

import functools
import json
import os
import random
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from registry.demo_art import artwork
from registry.fingerprints import fingerprint_image
from registry.receipts import load_public_key, verify
from tests.conftest import _SEED_BASE
from tests.faults.stack import (
    PrivatePostgres,
    PrivateRabbitMQ,
    PrivateRedis,
    Stack,
    wait_for,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Slow tests restart services and take minutes: never part of a run that did not ask.
    if "slow" in (config.getoption("-m") or ""):
        return
    # Deselected, not skipped: a default run reports only what it really checked.
    slow = [item for item in items if "slow" in item.keywords]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if "slow" not in item.keywords]


# --- Private services, one of each per run ---------------------------------------------------


@pytest.fixture(scope="session")
def faults_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: that is private to this user (0700), and PostgreSQL and
    # RabbitMQ run as their own users. Logs are kept when a test failed, for reading.
    path = Path(tempfile.mkdtemp(prefix="consentry-faults-"))
    path.chmod(0o755)
    # A run stopped with SIGTERM (a CI timeout) still tears down, and so stops every
    # service and process it started: pytest does that on KeyboardInterrupt.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield path
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not os.environ.get("CONSENTRY_KEEP_FAULTS_DIR"):
        shutil.rmtree(path, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _service(kind: type, workdir: Path) -> Any:
    try:
        service = kind(workdir)
    except FileNotFoundError as missing:
        pytest.skip(str(missing))
    service.start()
    return service


@pytest.fixture(scope="session")
def postgres(faults_dir: Path) -> Iterator[PrivatePostgres]:
    service = _service(PrivatePostgres, faults_dir)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def redis_broker(faults_dir: Path) -> Iterator[PrivateRedis]:
    service = _service(PrivateRedis, faults_dir)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def rabbitmq_broker(faults_dir: Path) -> Iterator[PrivateRabbitMQ]:
    service = _service(PrivateRabbitMQ, faults_dir)
    yield service
    service.stop()


# --- A deployment with an AI team and an artist ------------------------------------------------

PASSWORD = "fault-tests-password-1"


@dataclass
class Deployment:
    stack: Stack
    database_url: str
    api_key: str
    artist_token: str
    works: dict[str, int] = field(default_factory=dict)

    def api(self) -> requests.Session:
        return self.stack.session(api_key=self.api_key)

    def artist(self) -> requests.Session:
        return self.stack.session(token=self.artist_token)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as db:
            return db.execute(query, params).fetchall()

    def ready(self) -> requests.Response:
        return requests.get(self.stack.url("/health/ready"), timeout=30)


def _jpeg(seed: int, scale: float = 1.0) -> bytes:
    import io

    image = artwork(_SEED_BASE + seed)
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _set_up(stack: Stack, database_url: str) -> Deployment:
    stack.prepare()
    stack.manage("create_organization", "Fault AI")
    api_key = stack.manage("create_api_key", "--organization", "Fault AI").strip().splitlines()[-1]
    stack.manage("create_artist", "alice", "--password", PASSWORD, "--display-name", "Alice")
    # Her permissions count only once staff verified her.
    stack.manage("verify_artist", "alice", "--method", "operator", "--evidence", "faults: ID seen")
    token_line = stack.manage("create_artist_token", "alice")
    token = re.search(r"token (\w+)", token_line)
    assert token, token_line
    deployment = Deployment(stack, database_url, api_key, token.group(1))
    stack.start_all()
    uploaded = deployment.artist().post(
        stack.url("/api/v1/artist/works"),
        files=[("images", (f"work-{seed}.jpg", _jpeg(seed), "image/jpeg")) for seed in (1, 2)],
        data={"allow": "ai_training", "license": "CC-BY-4.0"},
        timeout=60,
    )
    # Uploads are registered by the worker: each answers at its status URL once done.
    assert uploaded.status_code == 202, uploaded.text
    ids = [_registered_work(deployment, row["url"]) for row in uploaded.json()]
    deployment.works = {"steady": ids[0], "toggled": ids[1]}
    return deployment


def _registered_work(deployment: Deployment, status_url: str) -> int:
    http, url = deployment.artist(), deployment.stack.local(status_url)

    def work_id() -> int | None:
        body = http.get(url, timeout=30).json()
        assert body["status"] != "refused", body
        return body["work_id"]

    return int(wait_for(work_id, 120, f"the upload at {status_url} to be registered"))


@pytest.fixture(scope="session")
def deployments(
    faults_dir: Path, postgres: PrivatePostgres, request: pytest.FixtureRequest
) -> Iterator[dict[str, Deployment]]:
    """One deployment per broker kind, made on first use, stopped at the end of the run."""
    made: dict[str, Deployment] = {}

    class Deployments(dict[str, Deployment]):
        def __missing__(self, broker: str) -> Deployment:
            service = request.getfixturevalue(f"{broker}_broker")
            database_url = postgres.create_database(f"consentry_{broker}")
            stack = Stack(faults_dir / broker, database_url=database_url, broker_url=service.url)
            try:
                made[broker] = self[broker] = _set_up(stack, database_url)
            except BaseException:
                stack.stop_all()
                raise
            return made[broker]

    yield Deployments()
    for deployment in made.values():
        deployment.stack.stop_all()


# --- Screening through the API, as the client does -------------------------------------------


@functools.cache
def _template() -> dict[str, Any]:
    return fingerprint_image(_jpeg(90)).to_wire()


def synthetic_items(count: int, start: int) -> list[dict[str, Any]]:
    """Valid fingerprints of the current version with random hashes: nobody registered them,
    so they are decided `unregistered`, through the whole matching path."""
    rng = random.Random(start)
    return [
        {
            **_template(),
            "id": f"item-{start + n}",
            "sha256": f"{rng.getrandbits(256):064x}",
            "phash": f"{rng.getrandbits(64):016x}",
            "dhash": f"{rng.getrandbits(64):016x}",
        }
        for n in range(count)
    ]


def repost_item(item_id: str, seed: int) -> dict[str, Any]:
    return {"id": item_id, **fingerprint_image(_jpeg(seed, scale=0.7)).to_wire()}


def _post_with_retries(http: requests.Session, url: str, body: Any, timeout: float = 180) -> Any:
    """The client's behaviour: a chunk is re-sent until it is acknowledged (re-sending is safe)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = http.post(url, json=body, timeout=120)
            if response.status_code < 500:
                assert response.status_code in (200, 202), response.text
                return response.json()
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, f"{url} kept failing"
        time.sleep(1)


def start_screening(
    deployment: Deployment, chunks: list[list[dict[str, Any]]], *, close: bool = True
) -> str:
    http = deployment.api()
    created = _post_with_retries(
        http,
        deployment.stack.url("/api/v1/screenings"),
        {"purpose": "ai_training", "keep_open": True},
    )
    links = {name: deployment.stack.local(link) for name, link in created["links"].items()}
    for number, items in enumerate(chunks):
        _post_with_retries(http, links["chunks"], {"number": number, "items": items})
    if close:
        _post_with_retries(http, links["close"], {})
    return str(created["id"])


def decided_chunks(deployment: Deployment, screening_id: str) -> int:
    rows = deployment.sql(
        "SELECT count(*) FROM registry_screeningchunk"
        " WHERE screening_id = %s AND decided_at IS NOT NULL",
        screening_id,
    )
    return int(rows[0][0])


def wait_finished(deployment: Deployment, screening_id: str, timeout: float = 300) -> dict:
    http = deployment.api()
    url = deployment.stack.url(f"/api/v1/screenings/{screening_id}")

    def finished() -> dict | None:
        try:
            body = http.get(url, timeout=30).json()
        except (requests.ConnectionError, ValueError):
            return None
        return body if body.get("status") == "finished" else None

    return wait_for(finished, timeout, f"screening {screening_id} to finish")


def assert_one_result_per_item(
    deployment: Deployment, screening_id: str, sent: list[dict[str, Any]]
) -> dict[str, str]:
    """Every item sent has exactly one decision, through the API and in the database, and the
    receipt is signed over all of them. Returns the decisions by item id: the listed items'
    from /items, the counted rest (unregistered, invalid) from /decisions by chunk and position,
    as the client rebuilds them."""
    screening = wait_finished(deployment, screening_id)
    http = deployment.api()
    base = deployment.stack.url(f"/api/v1/screenings/{screening_id}")
    with http.get(
        f"{base}/items", headers={"Accept": "application/x-ndjson"}, stream=True, timeout=120
    ) as lines:
        rows = [json.loads(line) for line in lines.iter_lines() if line]
    chunks: list[dict[str, Any]] = []
    following: str | None = f"{base}/decisions?page_size=1000"
    while following:
        page = http.get(following, timeout=120).json()
        chunks.extend(page["results"])
        following = page["next"]
    # Chunks are numbered in the order they were sent: each holds the next `items` of `sent`.
    ids_of: dict[int, list[str]] = {}
    offset = 0
    for chunk in sorted(chunks, key=lambda chunk: chunk["number"]):
        ids_of[chunk["number"]] = [item["id"] for item in sent[offset : offset + chunk["items"]]]
        offset += chunk["items"]
    assert offset == len(sent), (offset, len(sent))
    decisions: dict[str, str] = {}
    for row in rows:
        assert ids_of[row["chunk"]][row["position"]] == row["id"]
        assert row["id"] not in decisions, row["id"]
        decisions[row["id"]] = row["decision"]
    for chunk in chunks:
        for start, count, decision, _reason in chunk["unlisted"]:
            for position in range(start, start + count):
                item_id = ids_of[chunk["number"]][position]
                assert item_id not in decisions, f"{item_id} is both listed and counted"
                decisions[item_id] = decision
    assert len(decisions) == len(sent) and set(decisions) == {item["id"] for item in sent}
    ((stored, distinct, counted, total, done),) = deployment.sql(
        "SELECT (SELECT count(*) FROM registry_screeningitem WHERE screening_id = s.id),"
        " (SELECT count(DISTINCT (chunk_id, position)) FROM registry_screeningitem"
        "  WHERE screening_id = s.id),"
        " (SELECT coalesce(sum(unregistered_items + invalid_items), 0)"
        "  FROM registry_screeningchunk WHERE screening_id = s.id),"
        " s.total_items, s.done_items FROM registry_screening s WHERE s.id = %s",
        screening_id,
    )
    assert stored == distinct == len(rows)
    assert stored + counted == total == done == len(sent)
    receipt = screening["receipt"]
    assert receipt["document"]["items"] == len(sent)
    assert sum(receipt["document"]["counts"].values()) == len(sent)
    key = http.get(deployment.stack.url("/api/v1/receipts/key"), timeout=30).json()
    verify(
        receipt["document"], receipt["signature"], load_public_key(key["public_key_pem"].encode())
    )
    return decisions


# --- An artist changing consent while things break -------------------------------------------


class ConsentWriter(threading.Thread):
    """Toggles one work's AI-training terms as fast as the API answers, recording every change
    the API acknowledged and every request that failed."""

    def __init__(self, deployment: Deployment) -> None:
        super().__init__(daemon=True)
        self.deployment = deployment
        self.acknowledged: list[str] = []
        self.failed = 0
        self.last_state = ""  # the terms the last 200 answer said are in force
        self._stop_event = threading.Event()

    def _current(self, http: requests.Session, work: int) -> str:
        url = self.deployment.stack.url(f"/api/v1/artist/works/{work}")
        return str(http.get(url, timeout=30).json()["terms"]["ai_training"]["permission"])

    def run(self) -> None:
        http = self.deployment.artist()
        url = self.deployment.stack.url("/api/v1/artist/terms")
        work = self.deployment.works["toggled"]
        self.last_state = self._current(http, work)
        permission = "allowed" if self.last_state == "not_allowed" else "not_allowed"
        while not self._stop_event.is_set():
            body: dict[str, Any] = {
                "work_ids": [work],
                "purpose": "ai_training",
                "permission": permission,
            }
            try:
                response = http.post(url, json=body, timeout=30)
            except requests.RequestException:
                self.failed += 1
            else:
                if response.status_code != 200:
                    self.failed += 1
                else:
                    # changed == 0: an earlier request whose answer was lost (counted as failed)
                    # had committed this very change. Either way these terms are in force now.
                    if response.json()["changed"] == 1:
                        self.acknowledged.append(permission)
                    self.last_state = permission
                    permission = "allowed" if permission == "not_allowed" else "not_allowed"
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=60)


def terms_events(deployment: Deployment) -> int:
    rows = deployment.sql(
        "SELECT count(*) FROM registry_consentevent WHERE work_id = %s AND kind = 'terms_changed'",
        deployment.works["toggled"],
    )
    return int(rows[0][0])


def assert_no_consent_change_lost(
    deployment: Deployment, writer: ConsentWriter, before: int
) -> None:
    """Every acknowledged change is in the ledger, the chain verifies, the work's terms are the
    last change acknowledged, and a screening started now decides by them."""
    assert writer.acknowledged, "no consent change was acknowledged during the test"
    events = terms_events(deployment) - before
    # A request whose answer was lost may have committed too: at most `failed` more.
    assert len(writer.acknowledged) <= events <= len(writer.acknowledged) + writer.failed
    deployment.stack.manage("verify_ledger")
    work = deployment.works["toggled"]
    detail = deployment.artist().get(
        deployment.stack.url(f"/api/v1/artist/works/{work}"), timeout=30
    )
    last = writer.last_state
    assert detail.json()["terms"]["ai_training"]["permission"] == last
    probe = [repost_item("probe-toggled", 2), repost_item("probe-steady", 1)]
    decisions = assert_one_result_per_item(deployment, start_screening(deployment, [probe]), probe)
    expected = "allowed" if last == "allowed" else "denied"
    assert decisions == {"probe-toggled": expected, "probe-steady": "allowed"}
    print(
        f"consent: {len(writer.acknowledged)} changes acknowledged, {writer.failed} requests "
        f"failed, {events} in the ledger; ledger verified; a new screening decides by the last"
    )
