"""Passwords: hashed fast for the tests only, with Django's PBKDF2 everywhere else."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALGORITHM = (
    "import django; django.setup(); "
    "from django.contrib.auth.hashers import get_hasher; print(get_hasher().algorithm)"
)


def _algorithm(environment: str, tmp_path: Path) -> str:
    completed = subprocess.run(  # noqa: S603 - our interpreter
        [sys.executable, "-c", ALGORITHM],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CONSENTRY_ENV": environment,
            "CONSENTRY_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout.strip()


@pytest.mark.parametrize(
    ("environment", "algorithm"), [("test", "md5"), ("development", "pbkdf2_sha256")]
)
def test_only_the_tests_hash_passwords_the_fast_way(environment, algorithm, tmp_path):
    assert _algorithm(environment, tmp_path) == algorithm
