"""Celery tasks of the compliance work: withdrawal fan-out and webhook delivery.

Thin wrappers that take ids and call services. The Celery app lists this module in its
`include` (config/celery.py), so a worker registers these tasks; the services enqueue them after
commit.
"""

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db import DatabaseError

from registry.services.compliance import overdue_delivery_ids, webhook_deliver
from registry.services.withdrawals import (
    enqueue_delivery,
    enqueue_fan_out,
    missed_fan_out_event_ids,
    withdrawal_fan_out,
)

# A delivery retry overdue by this long lost its task message; a fan-out this old never ran.
SWEEP_GRACE = timedelta(minutes=5)


@shared_task(
    name="consentry.fan_out_withdrawal",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=8,
    soft_time_limit=300,
    time_limit=360,
)
def fan_out_withdrawal(event_id: int) -> int:
    return withdrawal_fan_out(event_id=event_id)


@shared_task(
    bind=True,
    name="consentry.deliver_webhook",
    acks_late=True,
    reject_on_worker_lost=True,
    # The service counts attempts and gives up after MAX_ATTEMPTS; Celery only schedules.
    max_retries=None,
    soft_time_limit=60,
    time_limit=90,
)
def deliver_webhook(self: Any, delivery_id: int) -> bool:
    outcome = webhook_deliver(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.delivered


@shared_task(name="consentry.sweep_withdrawals", soft_time_limit=60, time_limit=90)
def sweep_withdrawals() -> int:
    """Re-send what a lost task message left behind; both steps are idempotent."""
    event_ids = missed_fan_out_event_ids(older_than=SWEEP_GRACE)
    for event_id in event_ids:
        enqueue_fan_out(event_id)
    delivery_ids = overdue_delivery_ids(grace=SWEEP_GRACE)
    for delivery_id in delivery_ids:
        enqueue_delivery(delivery_id)
    return len(event_ids) + len(delivery_ids)
