"""gunicorn's settings for the web service: `gunicorn -c docker/gunicorn.conf.py config.wsgi`.

Every value can be changed from the environment; the defaults suit a 2-core host. The same file
serves the image and a plain host (docs/operations.md).
"""

import gc
import os
from typing import Any

# All interfaces of the container; compose publishes the port on 127.0.0.1 only.
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Processes: about one per core. Each searches the matching index on its own threads.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads: a request waiting on PostgreSQL leaves the process free for another. With gthread
# the arbiter's timeout is a heartbeat, not a limit on one request's time.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# No control socket: nothing here uses it, and the image user has no home to put it in.
control_socket_disable = True
# Requests bigger than this never reach Django: a screening chunk is at most 32 MiB of JSON,
# and Django refuses more (CONSENTRY_MAX_REQUEST_BYTES); these bound the request line/headers.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16384

# Load the application, and the matching index with it, once in the master process: the
# workers it forks share the index's pages (copy-on-write) instead of each loading a copy.
preload_app = os.environ.get("CONSENTRY_PRELOAD_INDEX", "1") == "1"

# The reverse proxy's address: only its X-Forwarded-Proto is believed (gunicorn's side of
# SECURE_PROXY_SSL_HEADER). "*" only where nothing but the proxy can reach the port.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs: JSON lines on stderr, like Django's own (config/logs.py).
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.logs.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}


def on_starting(server: Any) -> None:
    """With preload_app: build the index in the master, before any worker is forked.

    Before the port is opened, too: until the index is loaded (about a minute per million
    works) a client is refused at once rather than left waiting in the listen queue.
    """
    if not preload_app:
        return
    from django.db import connections

    from registry.selectors.matching import shared_index

    try:
        version = shared_index().sync()
        server.log.info("matching index loaded at registry sequence %s", version.sequence)
    except Exception:  # the workers load it themselves on their first request
        server.log.exception("could not preload the matching index")
    finally:
        # A connection made here must not be shared by the forked workers.
        connections.close_all()
        # Frozen before the fork, as the Celery worker does (registry/tasks.py).
        gc.freeze()
