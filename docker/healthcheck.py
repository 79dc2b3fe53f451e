"""Container health checks: `python docker/healthcheck.py web|worker|beat`; exit 0 when healthy.

The slim image has no curl, and each process is judged by what it does:
- web: GET /health/ready answers 200 (database, broker, the index at the registry version);
- worker: the worker answers a ping over the broker (`celery inspect ping` to itself);
- beat: the schedule file was written recently: beat rewrites it after every task it sends
  (CELERY_BEAT_SYNC_EVERY = 1), and it sends the sweeps every 60 s.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

WEB_URL = os.environ.get("HEALTHCHECK_URL", "http://127.0.0.1:8000/health/ready")
BEAT_SCHEDULE = Path(os.environ.get("CELERY_BEAT_SCHEDULE_FILE", "/tmp/celerybeat-schedule"))  # noqa: S108
BEAT_MAX_AGE = float(os.environ.get("HEALTHCHECK_BEAT_MAX_AGE", "180"))


def web() -> str | None:
    try:
        with urllib.request.urlopen(WEB_URL, timeout=10) as response:  # noqa: S310 - our URL
            return None if response.status == 200 else f"status {response.status}"
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        try:
            failing = {
                name: check["detail"]
                for name, check in json.loads(body)["checks"].items()
                if not check["ok"]
            }
        except (ValueError, KeyError, TypeError):
            failing = {"body": body[:200]}
        return f"status {error.code}: {failing}"
    except OSError as error:
        return str(error)


def worker() -> str | None:
    node = f"celery@{socket.gethostname()}"
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "-d", node, "-t", "10"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode == 0 and "pong" in result.stdout:
        return None
    return (result.stdout + result.stderr).strip()[-300:] or f"exit {result.returncode}"


def beat() -> str | None:
    # The shelve module may add a suffix (.db, .dat) to the name it is given.
    files = [path for path in BEAT_SCHEDULE.parent.glob(BEAT_SCHEDULE.name + "*")]
    if not files:
        return f"no schedule file {BEAT_SCHEDULE}*"
    age = time.time() - max(path.stat().st_mtime for path in files)
    return None if age <= BEAT_MAX_AGE else f"schedule last written {age:.0f} s ago"


CHECKS = {"web": web, "worker": worker, "beat": beat}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in CHECKS:
        print(f"usage: healthcheck.py {'|'.join(CHECKS)}", file=sys.stderr)
        return 2
    problem = CHECKS[argv[0]]()
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
