"""Where a dataset's shards are screened: `--engine local` (this machine, one process pool),
`ray` or `spark` (one task per shard on a cluster, as img2dataset distributes its downloads).

Every engine runs the same screening of a shard (`ShardRun.screen_shard`): the task hashes its
shard with `fingerprint_batch`, sends the fingerprints to the shard's own screening and writes
OUT/SHARD/ with its done marker. So a shard is resumable and idempotent whichever engine ran it,
and a rerun (with any engine) skips the shards a run finished. The driver only collects each
shard's outcome, prints its line and the totals. OUT and --filtered-out must be folders every
worker reaches: the local disk on one machine, a shared file system on a cluster.

Ray and PySpark are optional (requirements-cluster.txt): they are imported only when asked for.
"""

import logging
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import requests

from registry.client.api import ApiError, Registry, connection_problem
from registry.client.datasets import Shard
from registry.client.shards import (
    FAILED,
    Outcome,
    Settings,
    ShardRun,
    Totals,
    record,
    registry_version,
)

ENGINES = ("local", "ray", "spark")
INSTALL = "pip install -r requirements-cluster.txt"
# Tasks a driver keeps submitted per CPU of the cluster: enough to keep every CPU busy while
# outcomes come back, without handing the scheduler millions of shards at once.
IN_FLIGHT_PER_CPU = 2


class EngineUnavailable(RuntimeError):
    """The engine's package is not installed, with how to install it."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ShardJob:
    """Everything a task needs to screen one shard; pickled to the cluster's workers."""

    api: str
    key: str
    retry_for: float
    out: Path
    settings: Settings
    version: int
    restart: bool = False
    reuse: bool = False


def screen_shard(job: ShardJob, shard: Shard) -> Outcome:
    """The task: one shard screened in this worker process, or skipped when finished earlier.
    A registry that fails (after the client's retries) fails the shard, not the run; nothing
    of it counts as screened, and a rerun takes it up where it stopped."""
    notes: list[str] = []
    # One process per task: the cluster's parallelism is its tasks, not a pool inside each.
    settings = replace(job.settings, workers=1, progress=False)
    with Registry(job.api, job.key, retry_for=job.retry_for) as registry:
        run = ShardRun(
            registry, job.out, settings, restart=job.restart, reuse=job.reuse, say=notes.append
        )
        try:
            outcome = run.screen_shard(shard, job.version)
        except requests.RequestException as error:
            problem = f"the connection failed ({connection_problem(error)})"
            outcome = Outcome(shard.name, FAILED, error=problem)
        except (ApiError, OSError) as error:
            outcome = Outcome(shard.name, FAILED, error=str(error))
    return replace(outcome, notes=(*notes, *outcome.notes))


def _absolute(shard: Shard) -> Shard:
    # A worker's current folder is not the driver's.
    return replace(shard, path=shard.path.resolve())


def run_on_cluster(
    engine: str,
    registry: Registry,
    out: Path,
    settings: Settings,
    shards: list[Shard],
    *,
    key: str,
    restart: bool = False,
    reuse: bool = False,
    address: str | None = None,
    say: Callable[[str], None] = _stderr,
) -> Totals:
    """Screens every shard as a task of a Ray or Spark cluster; `address` is the Ray address or
    the Spark master (default: the cluster the job was submitted to, else a local one)."""
    outcomes_of = {"ray": ray_outcomes, "spark": spark_outcomes}
    if engine not in outcomes_of:
        raise ValueError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")
    require(engine)  # before the registry is asked anything: a missing extra says so at once
    version = registry_version(registry)
    out.mkdir(parents=True, exist_ok=True)
    filtered = settings.filtered_out.resolve() if settings.filtered_out else None
    job = ShardJob(
        api=registry.base,
        key=key,
        retry_for=registry.retry_for,
        out=out.resolve(),
        settings=replace(settings, filtered_out=filtered),
        version=version,
        restart=restart,
        reuse=reuse,
    )
    totals = Totals(len(shards))
    for outcome in outcomes_of[engine](job, [_absolute(shard) for shard in shards], address):
        record(outcome, totals, settings.progress, say)
    return totals


def require(engine: str) -> None:
    """Raises EngineUnavailable, saying how to install it, when the engine's package is missing."""
    if engine == "ray":
        _import_ray()
    elif engine == "spark":
        _import_pyspark()


# --- Ray ----------------------------------------------------------------------------------


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EngineUnavailable(
            f"--engine ray needs Ray, an optional extra of the client: {INSTALL}"
        ) from None
    return ray


def ray_outcomes(job: ShardJob, shards: list[Shard], address: str | None) -> Iterator[Outcome]:
    """One Ray task per shard (one CPU each), outcomes in the order they finish. Uses the Ray
    the process is connected to, else `ray.init(address)`: RAY_ADDRESS under `ray job submit`,
    else a new local Ray on this machine's cores."""
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, log_to_driver=True)
    # A worker that dies mid-shard is retried: its shard resumes from its state file.
    task = ray.remote(num_cpus=1, max_retries=3)(screen_shard)
    limit = max(1, int(ray.cluster_resources().get("CPU", 1)) * IN_FLIGHT_PER_CPU)
    waiting = iter(shards)
    running: dict[Any, Shard] = {}
    try:
        while True:
            for shard in waiting:
                running[task.remote(job, shard)] = shard
                if len(running) >= limit:
                    break
            if not running:
                return
            finished, _ = ray.wait(list(running), num_returns=1)
            shard = running.pop(finished[0])
            try:
                yield ray.get(finished[0])
            except ray.exceptions.RayError as error:
                yield Outcome(shard.name, FAILED, error=_first_line(error))
    finally:
        for ref in running:
            ray.cancel(ref)
        if started_here:
            ray.shutdown()


# --- Spark --------------------------------------------------------------------------------


def _import_pyspark() -> Any:
    try:
        import pyspark
    except ImportError:
        raise EngineUnavailable(
            "--engine spark needs PySpark (and Java 17), an optional extra of the client: "
            + INSTALL
        ) from None
    return pyspark


def _spark_session(master: str | None) -> tuple[Any, bool]:
    """The active SparkSession, else a new one: on `master`, else on spark-submit's master,
    else on `local[*]`; and whether it is new (then the run stops it)."""
    _import_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active, False
    builder = SparkSession.builder.appName("consentry-screen")
    # Under spark-submit, its JVM is already up with the --master it was given.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    if master is not None or not submitted:
        master = master or "local[*]"
        builder = builder.master(master)
        if master.startswith("local"):
            # Local executors run this interpreter (the one with the client), not `python3`.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return builder.getOrCreate(), active is None


def spark_outcomes(job: ShardJob, shards: list[Shard], master: str | None) -> Iterator[Outcome]:
    """One Spark job of one task per shard, as many at once as the cluster has cores, outcomes
    in the order they finish."""
    # Py4J logs each closed connection of a finished driver thread; the shard lines say enough.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    spark, started_here = _spark_session(master)
    context = spark.sparkContext
    task = partial(screen_shard, job)

    def one(shard: Shard) -> Outcome:
        context.setJobDescription(f"consentry: screen {shard.name}")
        outcome: Outcome = context.parallelize([shard], 1).map(task).collect()[0]
        return outcome

    parallel = max(1, int(context.defaultParallelism))
    waiting = iter(shards)
    running: dict[Future[Outcome], Shard] = {}
    pool = ThreadPoolExecutor(parallel, thread_name_prefix="consentry-shard")
    try:
        while True:
            for shard in waiting:
                running[pool.submit(one, shard)] = shard
                if len(running) >= parallel:
                    break
            if not running:
                return
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                shard = running.pop(future)
                try:
                    yield future.result()
                except Exception as error:  # Py4J's error for a failed job: that shard fails
                    yield Outcome(shard.name, FAILED, error=_first_line(error))
    finally:
        if running:
            context.cancelAllJobs()
        pool.shutdown(wait=True, cancel_futures=True)
        if started_here:
            spark.stop()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
