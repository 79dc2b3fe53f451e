"""Probes for the orchestrator, outside the versioned API: /health/live and /health/ready.

Liveness says the process answers; restart it when it does not. Readiness says it can serve:
the database answers, the broker accepts connections, and this process's matching index has
caught up with the registry version (the ledger head). Send traffic only while it is ready.
Both answer JSON; readiness names each check, so a 503 says what is missing.
"""

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from registry.selectors.ledger import RegistryVersion, registry_version
from registry.selectors.matching import shared_index

LIVE_PATH = "/health/live"
READY_PATH = "/health/ready"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    data: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, **(self.data or {})}


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def ready(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "broker": _broker()}
    # The index reads the ledger: with the database down its check would only repeat that.
    checks["index"] = _index() if checks["database"].ok else Check(False, "needs the database")
    healthy = all(check.ok for check in checks.values())
    if not healthy:
        logger.warning(
            "not ready",
            extra={"checks": {name: check.as_dict() for name, check in checks.items()}},
        )
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "checks": {name: check.as_dict() for name, check in checks.items()},
        },
        status=200 if healthy else 503,
    )


def _failure(error: Exception) -> Check:
    # The first line only: a driver's message can run to a page, and the probe is public.
    first_line = (str(error) or type(error).__name__).splitlines()[0][:200]
    return Check(False, f"{type(error).__name__}: {first_line}")


def _database() -> Check:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver failure means: not ready
        # A connection broken by a database restart is dropped, so the next probe reconnects.
        connection.close_if_unusable_or_obsolete()
        return _failure(error)
    return Check(True, connection.vendor)


def _broker() -> Check:
    from config.celery import app

    try:
        with app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=settings.CONSENTRY_HEALTH_TIMEOUT)
            transport = broker.transport_cls
    except Exception as error:  # kombu raises the transport's own errors
        return _failure(error)
    return Check(True, str(transport))


class _IndexSync:
    """Runs the index's sync on one background thread of this process.

    The first sync of a web process loads every registered variant (about a minute at a
    million works). A probe must not hold a request thread that long, nor start a second
    load while one runs: it waits briefly, and answers "loading" while the load goes on.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future[RegistryVersion] | None = None

    def result(self, timeout: float) -> RegistryVersion:
        with self._lock:
            if self._pid != os.getpid():
                # Forked (gunicorn --preload): the parent's thread does not exist here.
                self._pid, self._executor, self._pending = os.getpid(), None, None
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="readiness-index")
            if self._pending is None or self._pending.done():
                self._pending = self._executor.submit(_sync_index)
            pending = self._pending
        return pending.result(timeout=timeout)


def _sync_index() -> RegistryVersion:
    try:
        return shared_index().sync()
    finally:
        connection.close()  # the thread's own connection; the next sync opens another


_index_sync = _IndexSync()


def _index() -> Check:
    try:
        head = registry_version()
        reached = _index_sync.result(timeout=settings.CONSENTRY_HEALTH_TIMEOUT)
    except FutureTimeout:
        return Check(False, "the matching index is loading")
    except Exception as error:  # a failed sync is retried by the next probe
        return _failure(error)
    data = {"registry_sequence": head.sequence, "index_sequence": reached.sequence}
    if reached.sequence < head.sequence:
        return Check(False, "the matching index is behind the registry", data)
    return Check(True, "the matching index has the registry version", data)


class HealthProbeMiddleware:
    """Answers the probes before host validation and the HTTPS redirect.

    Probes come from the orchestrator over plain HTTP, addressed to the container's own IP:
    with DJANGO_ALLOWED_HOSTS naming only the public host, Django would answer them 400.
    First in MIDDLEWARE, so nothing else runs for them (sessions, CSRF, language).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            if request.path == LIVE_PATH:
                return live(request)
            if request.path == READY_PATH:
                return ready(request)
        return self.get_response(request)
