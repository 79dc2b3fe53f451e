"""A deployment on this machine, run as docker/compose.yaml runs it, on services of its own.

The web server, the worker and beat are started with the compose file's commands and the
production settings. PostgreSQL, Redis and RabbitMQ are private instances on free ports
(a cluster made with initdb, a redis-server, a RabbitMQ node of its own name), so a test may
restart them without disturbing anyone else's tests on the shared ones.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from registry.receipts import new_private_pem

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
HOST = "consentry.test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def wait_for(condition: Callable[[], Any], timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")


def _as_service_user(user: str, command: list[str]) -> list[str]:
    # initdb refuses root, and rabbitmq-server switches to its own user: as root, run them
    # as their Debian users; as anyone else, as that user.
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--", *command]
    return command


def _give_to(user: str, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, user, user)


class PrivatePostgres:
    def __init__(self, workdir: Path) -> None:
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not versions:
            raise FileNotFoundError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = versions[-1].parent
        self.dir = workdir / "postgres"
        self.port = free_port()
        _give_to("postgres", self.dir)

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        command = [str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-w", "-t", "60"]
        subprocess.run(  # noqa: S603 - PostgreSQL's own tool
            _as_service_user(
                "postgres", [*command, "-o", options, "-l", str(self.dir / "log"), *args]
            ),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        if not (self.dir / "data").exists():
            subprocess.run(  # noqa: S603 - PostgreSQL's own tool
                _as_service_user(
                    "postgres",
                    [
                        *(str(self.bin / "initdb"), "-D", str(self.dir / "data")),
                        *("-A", "trust", "-U", "postgres", "--no-sync"),
                    ],
                ),
                check=True,
                capture_output=True,
            )
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("-m", "fast", "stop")

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        self._ctl("-m", "fast", "stop")
        try:
            yield
        finally:
            self._ctl("start")

    def ensure_running(self) -> None:
        if not port_open(self.port):
            self._ctl("start")

    def url(self, database: str, role: str = "postgres") -> str:
        # The cluster trusts local connections (initdb -A trust): a role needs no password
        # here, but it has only the privileges it was granted, as in production.
        return f"postgres://{role}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}"')
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class PrivateRedis:
    """A redis-server that keeps nothing on disk: a restart loses every queued message."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - the Debian redis-server
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.dir)),
            ],
            stdout=(self.dir / "log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: port_open(self.port), 30, "redis to listen")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        wait_for(lambda: not port_open(self.port), 30, "redis to stop")

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        self.stop()
        try:
            yield
        finally:
            self.start()

    def ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.start()


class PrivateRabbitMQ:
    """A RabbitMQ node of its own name and ports; `restart` is `stop_app` then `start_app`."""

    def __init__(self, workdir: Path) -> None:
        if not shutil.which("rabbitmq-server"):
            raise FileNotFoundError("rabbitmq-server is not installed")
        self.dir = workdir / "rabbitmq"
        self.node = f"consentry-faults-{os.getpid()}@localhost"
        self.port = free_port()
        _give_to("rabbitmq", self.dir)
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.dir / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _ctl(self, *args: str) -> None:
        subprocess.run(  # noqa: S603 - RabbitMQ's own tool
            ["rabbitmqctl", "-n", self.node, *args],  # noqa: S607 - Debian's, on the PATH
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        for path in ("mnesia", "log"):
            _give_to("rabbitmq", self.dir / path)
        subprocess.run(
            ["rabbitmq-server", "-detached"],  # noqa: S607 - Debian's, on the PATH
            env=self.env,
            check=True,
            capture_output=True,
        )
        wait_for(lambda: port_open(self.port), 90, "RabbitMQ to listen")

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """`rabbitmqctl stop_app`, then `start_app` however the block ends."""
        self._ctl("stop_app")
        wait_for(lambda: not port_open(self.port), 60, "RabbitMQ to stop")
        try:
            yield
        finally:
            self._ctl("start_app")
            wait_for(lambda: port_open(self.port), 90, "RabbitMQ to listen again")

    def ensure_running(self) -> None:
        if port_open(self.port):
            return
        try:
            self._ctl("start_app")
        except subprocess.CalledProcessError:  # the whole node is gone: start it again
            self.start()
        wait_for(lambda: port_open(self.port), 90, "RabbitMQ to listen again")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._ctl("stop")


# docker/compose.yaml's application role: it owns nothing and may only append to the ledger.
APP_ROLE = "consentry_app"


def app_role_url(owner_url: str) -> str:
    """The same database, connected to as the application's role instead of the owner."""
    scheme, _, rest = owner_url.partition("://")
    return f"{scheme}://{APP_ROLE}@{rest.partition('@')[2]}"


class Stack:
    """gunicorn, a Celery worker and beat, started with docker/compose.yaml's commands.

    As in compose: migrations run as the owner role (`database_url`), which then grants the
    application's role its privileges; the web server, the worker, beat and operators'
    commands connect as the application's role."""

    def __init__(self, workdir: Path, *, database_url: str, broker_url: str) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        secret_key = self.dir / "django_secret_key"
        secret_key.write_text("fault-tests-" + os.urandom(24).hex() + "\n")
        signing_key = self.dir / "receipt_signing_key.pem"
        signing_key.write_bytes(new_private_pem())
        inherited = {
            name: value
            for name, value in os.environ.items()
            if name in ("PATH", "LANG", "HOME", "TMPDIR") or name.startswith("PYTHON")
        }
        self.env = {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CONSENTRY_ENV": "production",
            "DJANGO_SECRET_KEY_FILE": str(secret_key),
            "CONSENTRY_RECEIPT_SIGNING_KEY_FILE": str(signing_key),
            "DATABASE_URL": app_role_url(database_url),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_QUEUE": f"consentry-faults-{self.port}",
            "DJANGO_ALLOWED_HOSTS": HOST,
            "CONSENTRY_PUBLIC_URL": f"https://{HOST}",
            "CONSENTRY_VAR_DIR": str(self.dir / "var"),
            "DJANGO_STATIC_ROOT": str(self.dir / "static"),
            "NUMBA_CACHE_DIR": str(self.dir.parent / "numba"),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "WEB_CONCURRENCY": "2",
            "CELERY_CONCURRENCY": "2",
            # A chunk whose task message was lost is re-sent by beat's next sweep (every 60 s).
            "CONSENTRY_STALLED_CHUNK_SECONDS": "10",
            "CONSENTRY_THROTTLE_RATE": "100000/min",
            "LOG_LEVEL": "INFO",
        }
        if os.geteuid() == 0:
            # Celery's warning about running as root (plain text in a JSON log); the image
            # runs as an unprivileged user and never prints it.
            self.env["PYTHONWARNINGS"] = "ignore:::celery.platforms"
        self.owner_database_url = database_url
        self.base_url = f"http://127.0.0.1:{self.port}"
        # compose.yaml's `restart: unless-stopped`: a process that exits on its own is started
        # again, and counted, so a test can say what crashed.
        self.restarts: dict[str, int] = {}
        self._lock = threading.RLock()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        while True:
            time.sleep(1)
            with self._lock:
                exited = [name for name, p in self.processes.items() if p.poll() is not None]
                for name in exited:
                    del self.processes[name]
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    self._spawn(name)

    # --- commands --------------------------------------------------------------------------

    def manage(self, *args: str, as_owner: bool = False) -> str:
        """A management command, as the application's role unless `as_owner` (migrations)."""
        env = self.env
        if as_owner:
            env = {
                **self.env,
                "DATABASE_URL": self.owner_database_url,
                # Unused by the trusting test cluster, required by grant_app_role to create it.
                "CONSENTRY_APP_DB_PASSWORD": "fault-tests-app-role",
            }
        result = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}")
        return result.stdout

    def prepare(self) -> None:
        """What the image build and compose's `migrate` service do."""
        self.manage("collectstatic", "--noinput", "--verbosity", "0")
        self.manage("migrate", "--noinput", "--verbosity", "0", as_owner=True)
        self.manage(
            "grant_app_role",
            APP_ROLE,
            "--create-with-password-env",
            "CONSENTRY_APP_DB_PASSWORD",
            as_owner=True,
        )

    COMMANDS = {
        "web": ["-m", "gunicorn", "--config", "docker/gunicorn.conf.py", "config.wsgi:application"],
        "worker": [
            *("-m", "celery", "--app=config", "--quiet", "worker", "--loglevel=INFO"),
            *("--concurrency=2", "--max-memory-per-child=4000000"),
        ],
        "beat": ["-m", "celery", "--app=config", "--quiet", "beat", "--loglevel=INFO"],
    }

    def log(self, name: str) -> Path:
        return self.dir / f"{name}.log"

    def _spawn(self, name: str) -> None:
        command = [PYTHON, *self.COMMANDS[name]]
        if name == "beat":
            command.append(f"--schedule={self.dir / 'celerybeat-schedule'}")
        self.processes[name] = subprocess.Popen(  # noqa: S603 - our own interpreter
            command,
            cwd=ROOT,
            env=self.env,
            stdout=self.log(name).open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self, name: str) -> None:
        offset = self.log(name).stat().st_size if self.log(name).exists() else 0
        with self._lock:
            self._spawn(name)
        if name == "worker":
            wait_for(lambda: b" ready." in self.log(name).read_bytes()[offset:], 120, "worker")
        if name == "web":
            wait_for(lambda: self.healthcheck("web") == 0, 300, "the web server to be ready")

    def start_all(self) -> None:
        for name in ("worker", "beat", "web"):
            self.start(name)

    def kill(self, name: str) -> None:
        """SIGKILL the process group: no cleanup, no acknowledgement, as a crash would."""
        with self._lock:
            process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self, name: str) -> int | None:
        with self._lock:
            process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            return None

    def stop_all(self) -> dict[str, int | None]:
        return {name: self.stop(name) for name in list(self.processes)}

    def healthcheck(self, kind: str) -> int:
        """docker/healthcheck.py, as the container's HEALTHCHECK runs it."""
        env = {
            **self.env,
            "HEALTHCHECK_URL": f"{self.base_url}/health/ready",
            "CELERY_BEAT_SCHEDULE_FILE": str(self.dir / "celerybeat-schedule"),
        }
        return subprocess.run(  # noqa: S603 - our own interpreter and script
            [PYTHON, "docker/healthcheck.py", kind],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=90,
            check=False,
        ).returncode

    # --- the API, as a client behind the TLS proxy sees it ----------------------------------

    def session(self, *, api_key: str = "", token: str = "") -> requests.Session:
        http = requests.Session()
        http.headers.update({"Host": HOST, "X-Forwarded-Proto": "https"})
        if api_key:
            http.headers["Authorization"] = f"Api-Key {api_key}"
        if token:
            http.headers["Authorization"] = f"Token {token}"
        return http

    def url(self, path: str) -> str:
        return self.base_url + path

    def local(self, link: str) -> str:
        """A link the API gave (https://consentry.test/...), sent to this server instead."""
        return link.replace(f"https://{HOST}", self.base_url, 1)


@contextlib.contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()
