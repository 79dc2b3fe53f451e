"""`make run`'s embedded default: SQLite and the file broker, with no server at all.

The rest of the suite runs on PostgreSQL; this runs the demo setup on SQLite in a subprocess,
so a PostgreSQL-only assumption in the write paths cannot slip into `make run` unnoticed.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = (
    "import json; from registry.models import Screening, ConsentEvent; "
    "s = Screening.objects.get(); "
    "print(json.dumps({'status': s.status, 'counts': s.counts, "
    "'events': ConsentEvent.objects.count()}))"
)


def _manage(*arguments: str, var: Path) -> str:
    env = {
        **os.environ,
        "CONSENTRY_ENV": "development",
        "CONSENTRY_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'consentry.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://localhost//",
    }
    completed = subprocess.run(  # noqa: S603 - our interpreter, our manage.py
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
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
