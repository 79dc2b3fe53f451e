"""`make run`'s port check, its closing banner with the demo API key, and the watch over the
web server and the worker (with stand-in processes: the real ones are in
tests/test_embedded_default.py)."""

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.devrun import (
    WORKER_READY,
    Banner,
    PortUnavailable,
    StartFailed,
    port_check,
    process_start,
    processes_stop,
    wait_until_up,
)

ROOT = Path(__file__).resolve().parents[1]
KEY = "u8yKkrI4.SrFtApRy6mm6fw95Xu5Ay6GFAHLdc7Is"


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_taken_port_is_refused_with_the_way_out(taken_port):
    with pytest.raises(PortUnavailable) as refused:
        port_check(taken_port)

    assert f"Port {taken_port} on 127.0.0.1 is taken" in str(refused.value)
    assert f"make run PORT={taken_port + 1}" in str(refused.value)


def test_a_free_port_passes():
    port_check(_free_port())


@pytest.mark.parametrize("port", [0, 70000])
def test_a_port_out_of_range_is_refused(port):
    with pytest.raises(PortUnavailable, match="not a TCP port"):
        port_check(port)


def test_the_make_step_exits_non_zero_with_one_line_on_the_system_python(taken_port):
    """What `make run` runs before building the virtualenv: it must not need it."""
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    completed = subprocess.run(  # noqa: S603 - a Python, our module
        [python, "-m", "registry.devrun", "check-port", str(taken_port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 1
    (line,) = completed.stderr.strip().splitlines()
    assert "is taken" in line and completed.stdout == ""


def test_the_banner_frames_the_key_once_with_the_addresses_and_make_demo_key():
    text = Banner(port=8001, logins="logins: alice", organization="Demo AI Lab", api_key=KEY).text()

    framed = text.strip().splitlines()
    assert framed[0] == framed[-1] and set(framed[0]) == {"+", "-"}
    assert {len(line) for line in framed} == {len(framed[0])}
    assert all(line.startswith("|  ") and line.endswith("  |") for line in framed[1:-1])
    assert text.count(KEY) == 1
    assert "http://127.0.0.1:8001/admin/" in text and "http://127.0.0.1:8001/api/v1/docs" in text
    assert "make demo-key" in text


def test_without_a_new_key_the_banner_points_to_make_demo_key():
    text = Banner(port=8000, logins="", organization="Demo AI Lab", api_key=None).text()

    assert "make demo-key" in text and "shown at the first `make run`" in text


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_the_watch_waits_for_the_server_and_the_worker_then_stops_both(tmp_path, capfd):
    port = _free_port()
    server = process_start(
        "web server", [sys.executable, "-m", "http.server", str(port), "-b", "127.0.0.1",
                       "-d", str(tmp_path)], env={}
    )  # fmt: skip
    worker = process_start(
        "worker",
        _python("import time; time.sleep(1); print('celery@test ready.'); time.sleep(60)"),
        env={},
        ready_line=WORKER_READY,
    )
    try:
        wait_until_up(server, worker, live_url=f"http://127.0.0.1:{port}/", timeout=60)
        assert worker.ready.is_set()
    finally:
        processes_stop([server, worker], timeout=10)

    assert server.popen.returncode is not None and worker.popen.returncode is not None
    assert "celery@test ready." in capfd.readouterr().out  # the worker's log is passed on


def test_a_worker_that_stops_during_start_up_is_named():
    server = process_start("web server", _python("import time; time.sleep(60)"), env={})
    worker = process_start(
        "worker", _python("import sys; sys.exit(3)"), env={}, ready_line=WORKER_READY
    )
    try:
        with pytest.raises(StartFailed, match=r"The worker stopped \(exit 3\)"):
            wait_until_up(server, worker, live_url="http://127.0.0.1:9/", timeout=60)
    finally:
        processes_stop([server, worker], timeout=10)
