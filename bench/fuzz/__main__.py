"""Fuzz the upload path: `python -m bench.fuzz [--runs 100000] [--jobs 2]`.

Runs bench.fuzz.target under atheris (coverage-guided libFuzzer) on a seed corpus of small
valid images of every allowed format, in --jobs processes that share the corpus. libFuzzer
stops a process at the first input that raises anything but ImageDecodeError, runs longer
than --timeout seconds (a hang) or takes the process over --rss-limit-mb; the input is kept
under var/fuzz/artifacts/. Prints the runs, the speed and the peak RSS; exits 1 on a finding.
"""

import argparse
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.fuzz.seeds import write_corpus

ROOT = Path(__file__).resolve().parents[2]
STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.MULTILINE)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000, help="inputs run, in all jobs")
    parser.add_argument("--jobs", type=int, default=2, help="fuzzing processes")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--rss-limit-mb", type=int, default=2048)
    parser.add_argument("--max-len", type=int, default=65536, help="largest input, bytes")
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "fuzz")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    seeds, corpus, artifacts = (args.workdir / name for name in ("seeds", "corpus", "artifacts"))
    print(f"seed corpus: {write_corpus(seeds)} images in {seeds}")
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    before = set(artifacts.iterdir())
    per_job = math.ceil(args.runs / args.jobs)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    began = time.perf_counter()
    jobs = []
    for number in range(args.jobs):
        log = (args.workdir / f"job-{number}.log").open("w")
        command = [
            sys.executable,
            "-m",
            "bench.fuzz.target",
            f"-runs={per_job}",
            f"-seed={number + 1}",
            f"-timeout={args.timeout}",
            f"-rss_limit_mb={args.rss_limit_mb}",
            f"-max_len={args.max_len}",
            f"-artifact_prefix={artifacts}/",
            "-print_final_stats=1",
            str(corpus),
            str(seeds),
        ]
        jobs.append((subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log), log))
    executed = peak_rss = slowest = 0
    failed = []
    for number, (process, log) in enumerate(jobs):
        code = process.wait()
        log.close()
        output = Path(log.name).read_text(errors="replace")
        stats = {name: int(value) for name, value in STAT.findall(output)}
        executed += stats.get("number_of_executed_units", 0)
        peak_rss = max(peak_rss, stats.get("peak_rss_mb", 0))
        slowest = max(slowest, stats.get("slowest_unit_time_sec", 0))
        if code != 0:
            failed.append(f"job {number} exited {code}; see {log.name}")
    seconds = time.perf_counter() - began
    findings = sorted(set(artifacts.iterdir()) - before)
    print(
        f"runs: {executed:,} inputs in {seconds:.0f} s ({executed / seconds:,.0f}/s, "
        f"{args.jobs} jobs); corpus now {len(list(corpus.iterdir()))} inputs"
    )
    print(
        f"limits: {args.timeout} s per input (slowest took {slowest} s), "
        f"{args.rss_limit_mb} MB RSS (peak {peak_rss} MB)"
    )
    for line in failed:
        print(f"FAILED: {line}")
    for finding in findings:
        print(f"FINDING: {finding}")
    if failed or findings or executed < args.runs:
        return 1
    print("no exception other than ImageDecodeError, no hang, no memory blow-up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
