import os
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.devrun import (
    HOST,
    WORKER_READY,
    Banner,
    PortUnavailable,
    StartFailed,
    port_check,
    process_start,
    processes_stop,
    wait_until_one_stops,
    wait_until_up,
)
from registry.services.demo import DEMO_ARTISTS, DEMO_ORGANIZATION, DEMO_PASSWORD, demo_load


class Command(BaseCommand):
    help = (
        "`make run`'s last step, after migrate: load the demo data, start the web server and a "
        "Celery worker, and once both are up print the admin's address and the demo API key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="the web server's port")
        parser.add_argument(
            "--timeout", type=float, default=180, help="seconds the two have to come up"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Stopped by a service manager or `kill` as by Ctrl-C: the children are stopped too.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        port = options["port"]
        try:
            port_check(port)
        except PortUnavailable as error:
            raise CommandError(str(error)) from None
        result = demo_load()
        logins = ", ".join([*(spec.username for spec in DEMO_ARTISTS), "operator"])
        banner = Banner(
            port=port,
            logins=f"logins: {logins}; password: {DEMO_PASSWORD}",
            organization=DEMO_ORGANIZATION,
            api_key=result.api_key,
        )
        env = dict(os.environ)
        server = process_start(
            "web server",
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "runserver", f"{HOST}:{port}"],
            env=env,
        )
        worker = process_start(
            "worker",
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat",
             "--loglevel=INFO", "--concurrency=2",
             "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")],
            env=env,
            ready_line=WORKER_READY,
        )  # fmt: skip
        processes = [server, worker]
        try:
            wait_until_up(
                server,
                worker,
                live_url=f"http://{HOST}:{port}/health/live",
                timeout=options["timeout"],
            )
            self.stdout.write(banner.text())
            stopped = wait_until_one_stops(processes)
            raise CommandError(f"The {stopped.name} stopped (exit {stopped.popen.returncode}).")
        except StartFailed as error:
            if result.api_key:  # shown once: never lost to a failed start
                self.stderr.write(f"API key of {DEMO_ORGANIZATION}: {result.api_key}")
            raise CommandError(str(error)) from None
        except KeyboardInterrupt:
            self.stdout.write("Stopping the web server and the worker.")
        finally:
            processes_stop(processes)
