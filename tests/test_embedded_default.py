"""`make run`'s embedded default: SQLite and the file broker, with no server at all.

The rest of the suite runs on PostgreSQL; this runs the demo setup on SQLite in a subprocess,
so a PostgreSQL-only assumption in the write paths cannot slip into `make run` unnoticed.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from registry.devrun import port_check

ROOT = Path(__file__).resolve().parents[1]
REPORT = (
    "import json; from registry.models import Screening, ConsentEvent; "
    "s = Screening.objects.get(); "
    "print(json.dumps({'status': s.status, 'counts': s.counts, "
    "'events': ConsentEvent.objects.count()}))"
)


def _environment(var: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CONSENTRY_ENV": "development",
        "CONSENTRY_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'consentry.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://localhost//",
    }


def _manage(*arguments: str, var: Path) -> str:
    completed = subprocess.run(  # noqa: S603 - our interpreter, our manage.py
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=_environment(var),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_the_demo_loads_and_screens_on_sqlite_with_the_file_broker(tmp_path):
    _manage("migrate", "--noinput", var=tmp_path)

    loaded = _manage("load_demo", var=tmp_path)
    again = _manage("load_demo", var=tmp_path)
    report = json.loads(_manage("shell", "-c", REPORT, var=tmp_path).strip().splitlines()[-1])

    assert "API key of Demo AI Lab" in loaded and "present already" in again
    assert report["status"] == "finished"
    assert report["counts"] == {"allowed": 2, "denied": 1, "unregistered": 1}
    assert "holds: " in _manage("verify_ledger", var=tmp_path)
    assert any((tmp_path / "broker" / "queue").iterdir())  # the chunk's task message waits there


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.slow  # a real server and worker start and stop: about a minute
def test_run_demo_prints_the_key_last_once_both_are_up_and_refuses_a_taken_port(tmp_path):
    """`make run`'s last step: the demo API key comes after the server's and the worker's
    start-up lines, framed; a second run on the same port stops at once with one line."""
    _manage("migrate", "--noinput", var=tmp_path)
    port = _free_port()
    running = subprocess.Popen(  # noqa: S603 - our interpreter, our manage.py
        [sys.executable, "manage.py", "run_demo", "--port", str(port), "--timeout", "240"],
        cwd=ROOT,
        env=_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = _until_the_frame_closes(running)
        second = subprocess.run(  # noqa: S603 - our interpreter, our manage.py
            [sys.executable, "manage.py", "run_demo", "--port", str(port)],
            cwd=ROOT,
            env=_environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        running.send_signal(signal.SIGTERM)
        running.communicate(timeout=120)

    key = re.search(r"^\|\s+(\w{8}\.\w+)\s+\|$", output, re.MULTILINE)
    assert key, output[-3000:]
    assert output.count(key.group(1)) == 1
    banner_at = output.index("Consentry is running")
    assert output.index("Starting development server") < banner_at
    assert re.search(r"celery@\S+ ready\.", output[:banner_at])
    assert f"http://127.0.0.1:{port}/admin/" in output[banner_at:]
    assert second.returncode == 1
    assert second.stderr.strip() == (
        f"CommandError: Port {port} on 127.0.0.1 is taken (another `make run`?): stop what uses "
        f"it, or choose another port: make run PORT={port + 1}"
    )
    assert running.returncode is not None
    port_check(port)  # nothing left behind holds the port


def _until_the_frame_closes(process: subprocess.Popen[str]) -> str:
    lines: list[str] = []
    frames = 0
    for line in process.stdout or ():
        lines.append(line)
        frames += line.startswith("+--")
        if frames == 2:
            return "".join(lines)
    raise AssertionError("".join(lines)[-3000:])
