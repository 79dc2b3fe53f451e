"""`make run`'s pieces that need no Django: is the port free, the closing banner with the demo
API key, and the web server and worker started side by side and watched until they are up.

Standard library only: `make run` checks the port with the system's python3 before it builds
the virtualenv, so a taken port is said at once rather than after minutes of installing.
`python -m registry.devrun check-port PORT` exits 1 with one line when the port is taken.
"""

import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

HOST = "127.0.0.1"
# Celery's log line once the worker consumes: "celery@host ready."
WORKER_READY = re.compile(r"celery@\S+ ready\.")


class PortUnavailable(Exception):
    """The port cannot be served on; the message is the one line to show."""


def port_check(port: int, host: str = HOST) -> None:
    """Bind the port as the development server will, and let it go at once.

    SO_REUSEADDR as the server sets it: a port left in TIME_WAIT by the last run is free."""
    if not 1 <= port <= 65535:
        raise PortUnavailable(f"PORT={port} is not a TCP port (1-65535).")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortUnavailable(
                    f"Port {port} on {host} is taken (another `make run`?): stop what uses it, "
                    f"or choose another port: make run PORT={port + 1}"
                ) from None
            raise PortUnavailable(f"Cannot serve on {host}:{port}: {error.strerror}.") from None


def port_parse(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise PortUnavailable(f"PORT={text!r} is not a number: make run PORT=8001") from None


@dataclass(frozen=True)
class Banner:
    port: int
    logins: str
    organization: str
    api_key: str | None

    def lines(self) -> list[str]:
        base = f"http://{HOST}:{self.port}"
        lines = [
            "Consentry is running. Stop it with Ctrl-C.",
            "",
            f"Admin:     {base}/admin/",
            f"           {self.logins}",
            f"API docs:  {base}/api/v1/docs",
            "",
        ]
        if self.api_key:
            lines += [
                f"API key of {self.organization} (shown this once, keep it):",
                f"    {self.api_key}",
                "Another key at any time: make demo-key",
            ]
        else:
            lines += [
                f"The API key of {self.organization} was shown at the first `make run`.",
                "Another key at any time: make demo-key",
            ]
        return lines

    def text(self) -> str:
        """The lines in a frame, so that the key stands out of the servers' logs above it."""
        lines = self.lines()
        width = max(len(line) for line in lines)
        edge = "+" + "-" * (width + 4) + "+"
        body = [f"|  {line.ljust(width)}  |" for line in lines]
        return "\n".join(["", edge, *body, edge, ""])


@dataclass
class Process:
    """A child; one that is watched for a line has its output copied to ours, line by line."""

    name: str
    popen: subprocess.Popen[str]
    ready_line: re.Pattern[str] | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    last_output: float = field(default_factory=time.monotonic)

    def copy_output(self, out: IO[str]) -> None:
        for line in self.popen.stdout or ():
            out.write(line)
            out.flush()
            self.last_output = time.monotonic()
            if self.ready_line and self.ready_line.search(line):
                self.ready.set()

    def quiet_for(self, seconds: float) -> bool:
        return time.monotonic() - self.last_output >= seconds


def process_start(
    name: str,
    command: Sequence[str],
    *,
    env: dict[str, str],
    ready_line: re.Pattern[str] | None = None,
) -> Process:
    watched = ready_line is not None
    popen = subprocess.Popen(  # noqa: S603 - our interpreter and our commands
        list(command),
        env={**env, "PYTHONUNBUFFERED": "1"} if watched else env,
        stdout=subprocess.PIPE if watched else None,
        stderr=subprocess.STDOUT if watched else None,
        text=True,
        bufsize=1 if watched else -1,
        # A group of its own (runserver's reloader, the worker's pool): Ctrl-C reaches only us,
        # and we stop each group whole, in order, with nothing left behind.
        start_new_session=True,
    )
    process = Process(name=name, popen=popen, ready_line=ready_line)
    if watched:
        threading.Thread(target=process.copy_output, args=(sys.stdout,), daemon=True).start()
    else:
        process.ready.set()
    return process


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class StartFailed(Exception):
    """A child stopped, or did not come up in time; the message says which."""


def wait_until_up(server: Process, worker: Process, *, live_url: str, timeout: float) -> None:
    """Until the server answers its liveness probe and the worker has logged that it is ready."""
    deadline = time.monotonic() + timeout
    while True:
        for process in (server, worker):
            code = process.popen.poll()
            if code is not None:
                raise StartFailed(f"The {process.name} stopped (exit {code}); its log is above.")
        server_up = answers(live_url)
        if server_up and worker.ready.is_set():
            break
        if time.monotonic() > deadline:
            waiting = [
                name
                for name, up in (("web server", server_up), ("worker", worker.ready.is_set()))
                if not up
            ]
            raise StartFailed(f"Not up after {timeout:.0f} s: the {' and the '.join(waiting)}.")
        time.sleep(0.5)
    # The worker logs a few lines more (beat, its peers) after it is ready; they go before the
    # banner, so that the banner stays last.
    settled = time.monotonic() + 5
    while not worker.quiet_for(1.0) and time.monotonic() < settled:
        time.sleep(0.2)


def wait_until_one_stops(processes: Sequence[Process]) -> Process:
    while True:
        for process in processes:
            if process.popen.poll() is not None:
                return process
        time.sleep(0.5)


def _signal_group(process: Process, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.popen.pid, signal_number)


def processes_stop(processes: Sequence[Process], *, timeout: float = 15) -> None:
    """SIGINT to each group, as Ctrl-C in a terminal would send it (the worker finishes its
    tasks, the server's reloader stops with it); SIGKILL to what outlives the timeout."""
    for process in processes:
        _signal_group(process, signal.SIGINT)
    deadline = time.monotonic() + timeout
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        _signal_group(process, signal.SIGKILL)
        process.popen.wait()


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or argv[0] != "check-port":
        print("usage: python -m registry.devrun check-port PORT", file=sys.stderr)
        return 2
    try:
        port_check(port_parse(argv[1]))
    except PortUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
