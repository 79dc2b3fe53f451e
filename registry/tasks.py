"""Celery tasks: thin wrappers that take ids and call services.

Each task has an explicit name in the `consentry.` namespace: the name is what the broker's
messages and the beat schedule (config/settings.py) carry, so moving or renaming a function
never strands a queued message.
"""

import gc
import logging
import os
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.signals import worker_init, worker_process_init
from django.conf import settings
from django.db import DatabaseError, connections

from registry.matching.index import warm_up
from registry.selectors.matching import shared_index
from registry.services.pending_uploads import (
    SOFT_TIME_LIMIT,
    TIME_LIMIT,
    enqueue_pending_upload,
    pending_upload_register,
    stalled_upload_ids,
)
from registry.services.screenings import chunk_decide, enqueue_chunk, stalled_chunk_ids

logger = logging.getLogger(__name__)


@worker_init.connect
def _load_matching_index(**kwargs: Any) -> None:
    """Load the matching index in the worker's main process, before it forks its pool.

    The pool processes then share the index's pages (copy-on-write) and decide their first
    chunk at once, instead of each loading a copy (a minute per million works) while chunks
    wait. As docker/gunicorn.conf.py does for the web processes, with the same switch.
    """
    if os.environ.get("CONSENTRY_PRELOAD_INDEX", "1") != "1":
        return
    try:
        version = shared_index().sync()
        logger.info("matching index loaded at registry sequence %s", version.sequence)
    except Exception:  # each pool process loads it on its first chunk instead
        logger.exception("could not preload the matching index")
    finally:
        # A connection made here must not be shared by the forked pool processes.
        connections.close_all()
        # What is loaded now (Django, the index) lives as long as the process: frozen, the
        # collector stops walking it at every full collection while chunks are decided, and
        # stops writing to its pages, which copy-on-write would copy into every pool process.
        gc.freeze()


@worker_process_init.connect
def _compile_matching_kernels(**kwargs: Any) -> None:
    # Each pool process compiles (or loads from numba's cache) before its first chunk arrives.
    warm_up()


@shared_task(
    name="consentry.decide_chunk",
    acks_late=True,
    reject_on_worker_lost=True,
    # A lost database connection is worth another try; the chunk's transaction rolled back.
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=8,
)
def decide_chunk(chunk_id: int) -> bool:
    return chunk_decide(chunk_id=chunk_id)


@shared_task(name="consentry.requeue_stalled_chunks", soft_time_limit=60, time_limit=90)
def requeue_stalled_chunks() -> int:
    """Re-send chunks nobody decided in time (a chunk awaiting verification payloads gets
    longer); deciding is idempotent, so a duplicate is harmless."""
    older_than = timedelta(seconds=settings.CONSENTRY_STALLED_CHUNK_SECONDS)
    waited = timedelta(seconds=settings.CONSENTRY_VERIFICATION_WAIT_SECONDS)
    chunk_ids = stalled_chunk_ids(older_than=older_than, awaiting_older_than=waited)
    for chunk_id in chunk_ids:
        enqueue_chunk(chunk_id)
    return len(chunk_ids)


@shared_task(name="consentry.check_site_token", soft_time_limit=60, time_limit=90)
def check_site_token(site_id: int) -> bool:
    """Fetch an artist's site-verification token; idempotent (a verified site stays verified)."""
    from registry.services.site_tokens import site_token_check

    return site_token_check(site_id=site_id).verified


@shared_task(name="consentry.publish_ledger_checkpoint", soft_time_limit=60, time_limit=90)
def publish_ledger_checkpoint() -> int:
    """Beat's periodic signed checkpoint of the ledger head; returns its sequence (0: empty)."""
    from registry.services.checkpoints import ledger_checkpoint_publish

    published = ledger_checkpoint_publish()
    return published.sequence if published is not None else 0


@shared_task(
    name="consentry.register_pending_upload",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=TIME_LIMIT,
)
def register_pending_upload(upload_id: int) -> bool:
    """Fingerprint and register one uploaded file; a duplicate message does nothing."""
    return pending_upload_register(upload_id=upload_id)


@shared_task(name="consentry.requeue_stalled_uploads", soft_time_limit=60, time_limit=90)
def requeue_stalled_uploads() -> int:
    """Re-send uploaded files nobody registered in time; registering is idempotent."""
    older_than = timedelta(seconds=settings.CONSENTRY_STALLED_CHUNK_SECONDS)
    upload_ids = stalled_upload_ids(older_than=older_than)
    for upload_id in upload_ids:
        enqueue_pending_upload(upload_id)
    return len(upload_ids)
