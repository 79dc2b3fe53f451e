"""Faults under a running deployment: a worker killed with SIGKILL mid-screening, the broker
restarted mid-screening (Redis, which keeps nothing, and RabbitMQ's stop_app/start_app), and
PostgreSQL restarted between batches. Each time, every screening finishes with exactly one
result per item, and no consent change the API acknowledged is lost.

Every service a test stops is started again in a `finally`, whatever the test found.
"""

import contextlib
import time
from collections.abc import Iterator

import pytest

from tests.faults.conftest import (
    ConsentWriter,
    Deployment,
    assert_no_consent_change_lost,
    assert_one_result_per_item,
    decided_chunks,
    repost_item,
    start_screening,
    synthetic_items,
    terms_events,
)
from tests.faults.stack import wait_for

pytestmark = pytest.mark.slow

CHUNKS, CHUNK_SIZE = 16, 2000


def _chunks(start: int = 0) -> list[list[dict]]:
    chunks = [synthetic_items(CHUNK_SIZE, start + number * CHUNK_SIZE) for number in range(CHUNKS)]
    chunks[0][:2] = [repost_item(f"repost-{start}-1", 1), repost_item(f"repost-{start}-2", 2)]
    return chunks


@contextlib.contextmanager
def consent_changes(deployment: Deployment) -> Iterator[ConsentWriter]:
    writer = ConsentWriter(deployment)
    writer.start()
    try:
        yield writer
    finally:
        writer.stop()


def _readiness(deployment: Deployment) -> dict[str, bool]:
    try:
        checks = deployment.ready().json()["checks"]
    except Exception:  # the web server itself may be what is failing
        return {}
    return {name: check["ok"] for name, check in checks.items()}


def test_a_worker_killed_mid_screening_still_finishes_with_one_result_per_item(deployments):
    deployment = deployments["redis"]
    stack = deployment.stack
    before = terms_events(deployment)
    chunks = _chunks()
    try:
        with consent_changes(deployment) as writer:
            screening = start_screening(deployment, chunks)
            wait_for(lambda: decided_chunks(deployment, screening) >= 1, 120, "a first chunk")
            stack.kill("worker")
            killed_at = decided_chunks(deployment, screening)
            assert killed_at < CHUNKS, "the worker finished before it could be killed"
            time.sleep(2)
            stack.start("worker")
            began = time.monotonic()
            assert_one_result_per_item(deployment, screening, [i for c in chunks for i in c])
            print(
                f"worker SIGKILLed with {killed_at}/{CHUNKS} chunks decided; all "
                f"{CHUNKS * CHUNK_SIZE} items decided once, {time.monotonic() - began:.0f} s "
                "after the restart"
            )
    finally:
        if "worker" not in stack.processes:
            stack.start("worker")
    assert_no_consent_change_lost(deployment, writer, before)


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_the_broker_restarted_mid_screening_loses_no_chunk(deployments, broker, request):
    """Redis here keeps nothing on disk: its restart loses every queued and unacknowledged
    message, and beat's stalled-chunk sweep must send them again. RabbitMQ keeps its durable
    queue: unacknowledged chunks are delivered again when it comes back."""
    deployment = deployments[broker]
    service = request.getfixturevalue(f"{broker}_broker")
    before = terms_events(deployment)
    chunks = _chunks(start=100_000)
    late = synthetic_items(CHUNK_SIZE, 900_000)
    try:
        with consent_changes(deployment) as writer:
            screening = start_screening(deployment, chunks, close=False)
            wait_for(lambda: decided_chunks(deployment, screening) >= 1, 120, "a first chunk")
            with service.down():
                wait_for(lambda: _readiness(deployment).get("broker") is False, 60, "503")
                assert _readiness(deployment)["database"]
                # A chunk sent while the broker is down is accepted; its task waits for the sweep.
                http = deployment.api()
                url = deployment.stack.url(f"/api/v1/screenings/{screening}")
                added = http.post(f"{url}/chunks", json={"number": CHUNKS, "items": late})
                assert added.status_code == 202, added.text
            assert decided_chunks(deployment, screening) < CHUNKS + 1, "finished before the fault"
            wait_for(lambda: _readiness(deployment).get("broker"), 120, "the broker check")
            http.post(f"{url}/close").raise_for_status()
            sent = [item for chunk in chunks for item in chunk] + late
            began = time.monotonic()
            assert_one_result_per_item(deployment, screening, sent)
            print(
                f"{broker} restarted mid-screening: all {len(sent)} items decided once, "
                f"{time.monotonic() - began:.0f} s after it came back; processes that exited "
                f"and were restarted (compose: restart: unless-stopped): "
                f"{deployment.stack.restarts or 'none'}"
            )
    finally:
        service.ensure_running()
    assert_no_consent_change_lost(deployment, writer, before)


def test_postgres_restarted_between_batches_loses_nothing(deployments, postgres):
    deployment = deployments["redis"]
    before = terms_events(deployment)
    first, second = _chunks(start=200_000), _chunks(start=300_000)
    try:
        with consent_changes(deployment) as writer:
            screening = start_screening(deployment, first)
            assert_one_result_per_item(deployment, screening, [i for c in first for i in c])
            acknowledged_before_restart = len(writer.acknowledged)
            with postgres.down():
                wait_for(lambda: _readiness(deployment).get("database") is False, 60, "503")
            wait_for(lambda: all(_readiness(deployment).values() or [False]), 120, "ready")
            wait_for(
                lambda: len(writer.acknowledged) > acknowledged_before_restart + 2,
                60,
                "consent changes to be acknowledged again",
            )
            screening = start_screening(deployment, second)
            assert_one_result_per_item(deployment, screening, [i for c in second for i in c])
            print(
                f"PostgreSQL restarted between two screenings of {CHUNKS * CHUNK_SIZE} items: "
                "both decided once per item"
            )
    finally:
        postgres.ensure_running()
    assert_no_consent_change_lost(deployment, writer, before)
