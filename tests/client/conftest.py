"""A local Ray cluster and a local Spark session, each started once for the whole test run
(starting one takes seconds), and the real Celery worker of tests/e2e."""

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import worker

__all__ = ["ray_cluster", "spark", "worker"]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A new local Ray of two CPUs (never another user's cluster on this machine)."""
    import ray  # requirements-cluster.txt, which `make test` installs

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024 * 1024,
        log_to_driver=False,
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A SparkSession on local[2], on the machine's Java 17, executing this interpreter."""
    from pyspark.sql import SparkSession  # requirements-cluster.txt

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("consentry-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
