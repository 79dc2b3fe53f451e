"""`python -m registry.client screen ...`, `screen-urls ...` and `verify-receipt ...`."""

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from registry.client.api import (
    CONNECT_TIMEOUT,
    RETRY_FOR,
    ApiError,
    Registry,
    checked,
    connection_problem,
)
from registry.client.datasets import DatasetError, Shard, find_shards
from registry.client.engines import ENGINES, INSTALL, EngineUnavailable, run_on_cluster
from registry.client.inputs import Discovery, InputError, discover
from registry.client.run import Outputs, RunState, ScreeningRun
from registry.client.shards import Settings, ShardRun, Totals
from registry.client.urls import KEEP_CHOICES, UrlRun, screen_urls
from registry.client.verify import check_results
from registry.receipts import ReceiptError, key_id, load_public_key, verify

PURPOSES = ("ai_training", "ai_generative_training", "data_mining", "ai_inference")
MODES = ("consent_required", "respect_opt_outs")


def _registry_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--api", required=True, help="the registry, e.g. http://127.0.0.1:8000")
    command.add_argument(
        "--key",
        default=os.environ.get("CONSENTRY_API_KEY"),
        help="API key (default: $CONSENTRY_API_KEY)",
    )
    command.add_argument(
        "--retry-for",
        type=float,
        default=RETRY_FOR,
        metavar="SECONDS",
        help=f"keep retrying an unreachable registry this long (default: {RETRY_FOR:.0f})",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m registry.client")
    commands = parser.add_subparsers(dest="command", required=True)

    screen = commands.add_parser("screen", help="screen images against the registry")
    screen.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="image files or folders; or a dataset: webdataset .tar shards (a file, a folder, "
        "or a pattern like 'shards/{00000..00009}.tar'), .parquet files with image bytes, or a "
        "Hugging Face dataset saved with save_to_disk",
    )
    _registry_options(screen)
    screen.add_argument("--purpose", required=True, choices=PURPOSES)
    screen.add_argument("--mode", default="consent_required", choices=MODES)
    screen.add_argument(
        "--out",
        required=True,
        type=Path,
        help="results, one JSON line per input; for a dataset, a folder with one folder per shard",
    )
    screen.add_argument(
        "--image-column", help="a dataset's image column (default: jpg, png, webp or image)"
    )
    screen.add_argument(
        "--filtered-out",
        type=Path,
        metavar="DIR",
        help="a dataset's passing samples, in its own format with their credit, and SHARD.uids.npy",
    )
    screen.add_argument("--chunk-size", type=int, default=5000)
    screen.add_argument(
        "--engine",
        default="local",
        choices=ENGINES,
        help="a dataset's shards: screened on this machine (local, the default), or one task "
        f"per shard on a Ray or Spark cluster (optional extras: {INSTALL})",
    )
    screen.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="--engine ray: the Ray address (default: RAY_ADDRESS, else a local Ray); "
        "--engine spark: the Spark master (default: spark-submit's, else local[*])",
    )
    screen.add_argument(
        "--wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up waiting for the decisions after this long (default: wait)",
    )
    screen.add_argument("--quiet", action="store_true", help="no progress bars")
    again = screen.add_mutually_exclusive_group()
    again.add_argument(
        "--reuse",
        action="store_true",
        help="keep the decisions of the finished screening OUT.state.json names, with which "
        "registry version they reflect and which items' consent was withdrawn since",
    )
    again.add_argument(
        "--restart",
        action="store_true",
        help="start a new screening even if an unfinished one is recorded in OUT.state.json",
    )

    urls = commands.add_parser("screen-urls", help="check a URL list before downloading it")
    urls.add_argument("source", type=Path, help="a parquet file with a URL column")
    urls.add_argument("--url-column", default="url", help="the column holding URLs (url)")
    _registry_options(urls)
    urls.add_argument("--purpose", required=True, choices=PURPOSES)
    urls.add_argument("--mode", default="consent_required", choices=MODES)
    urls.add_argument("--out", required=True, type=Path, help="the rows to keep (parquet)")
    urls.add_argument(
        "--keep",
        default="not-denied",
        choices=KEEP_CHOICES,
        help="not-denied (default): every row still to download and screen by fingerprint; "
        "passing: only rows the mode lets through on their URL alone",
    )

    check = commands.add_parser("verify-receipt", help="check a receipt's signature offline")
    check.add_argument("file", type=Path)
    key = check.add_mutually_exclusive_group(required=True)
    key.add_argument("--key-url", help="the registry's /api/v1/receipts/key")
    key.add_argument("--key-file", type=Path, help="a PEM public key saved earlier")
    check.add_argument("--results", type=Path, help="also check a results file line by line")
    return parser


INTERRUPTED = "interrupted; run the same command to resume"
SHOWN_SKIPPED = 10


def _state_for(args: argparse.Namespace, outputs: Outputs) -> tuple[RunState, bool]:
    """The run to go on with, and whether it resumes an interrupted one. A finished run is
    screened again, unless --reuse: consent may have changed since."""
    fresh = RunState(api=args.api, purpose=args.purpose, mode=args.mode, chunk_size=args.chunk_size)
    saved = None if args.restart else RunState.load(outputs.state)
    if saved is None:
        return fresh, False
    if saved.finished:
        if args.reuse and saved.same_settings(fresh):
            return saved, False
        print(
            f"Screening {saved.screening_id} finished earlier; screening again against the "
            "registry as it is now (--reuse keeps the earlier decisions).",
            file=sys.stderr,
        )
        return fresh, False
    if not saved.same_settings(fresh):
        raise ApiError(
            f"{outputs.state} records an unfinished run with other settings; run with --restart "
            "to start a new screening, or choose another --out."
        )
    return saved, True


def _summary(screening: dict[str, Any], discovery: Discovery, outputs: Outputs) -> str:
    counts = ", ".join(f"{name} {count}" for name, count in sorted(screening["counts"].items()))
    version = screening["registry_version"]["sequence"]
    lines = [
        f"Screening {screening['id']} (registry version {version}): {counts}.",
    ]
    if discovery.skipped:
        count = len(discovery.skipped)
        lines.append(f"{count} file{'s' if count != 1 else ''} skipped, not screened:")
        lines += [f"  {entry.path}: {entry.reason}" for entry in discovery.skipped[:SHOWN_SKIPPED]]
        if len(discovery.skipped) > SHOWN_SKIPPED:
            lines.append(f"  and {len(discovery.skipped) - SHOWN_SKIPPED} more")
    lines.append(
        f"Results in {outputs.results} (skipped files too), passing items in "
        f"{outputs.manifest}, receipt in {outputs.receipt}."
    )
    return "\n".join(lines)


def _screen(args: argparse.Namespace) -> int:
    if not args.key:
        print("An API key is needed: --key or CONSENTRY_API_KEY.", file=sys.stderr)
        return 2
    try:
        shards = find_shards(args.paths, args.image_column)
        if shards is not None:
            return _screen_dataset(args, shards)
        if args.engine != "local":
            raise InputError(
                f"--engine {args.engine} screens datasets (webdataset shards, parquet, a saved "
                "Hugging Face dataset); image folders are screened on this machine"
            )
        discovery = discover(args.paths)
    except (InputError, DatasetError, EngineUnavailable) as error:
        print(f"Error: {error}; nothing was screened.", file=sys.stderr)
        return 2
    outputs = Outputs(args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    state, resuming = _state_for(args, outputs)
    registry = Registry(args.api, args.key, retry_for=args.retry_for)
    run = ScreeningRun(registry, state, outputs, not args.quiet, resuming=resuming)
    if state.finished:
        screening = run.reuse(discovery.items, discovery.skipped)
    else:
        screening = run.run(discovery.items, discovery.skipped, timeout=args.wait)
    print(_summary(screening, discovery, outputs))
    return 0


def _dataset_summary(totals: Totals, out: Path, filtered: Path | None) -> str:
    seconds = time.monotonic() - totals.started
    lines = [
        f"{totals.shards} shards: {totals.screened} screened, {totals.skipped} skipped (finished "
        f"earlier), {len(totals.failed)} failed; {totals.samples:,} samples: "
        f"{totals.counts_text()}; {seconds:.1f} s, {totals.rate():,.1f} items/s screened.",
        f"Results in {out}/SHARD/results.parquet, receipts in {out}/SHARD/receipt.json.",
    ]
    if filtered is not None:
        lines.append(f"Passing samples with their credit in {filtered}, uids in SHARD.uids.npy.")
    if totals.failed:
        lines.append(f"Failed shards (run the same command to retry): {', '.join(totals.failed)}")
    return "\n".join(lines)


def _screen_dataset(args: argparse.Namespace, shards: list[Shard]) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise DatasetError(f"--out {args.out}: a dataset's results go in a folder, not a file")
    settings = Settings(
        api=args.api,
        purpose=args.purpose,
        mode=args.mode,
        chunk_size=args.chunk_size,
        filtered_out=args.filtered_out,
        progress=not args.quiet,
        timeout=args.wait,
    )
    registry = Registry(args.api, args.key, retry_for=args.retry_for)
    if args.engine == "local":
        run = ShardRun(registry, args.out, settings, restart=args.restart, reuse=args.reuse)
        totals = run.run(shards)
    else:
        totals = run_on_cluster(
            args.engine,
            registry,
            args.out,
            settings,
            shards,
            key=args.key,
            restart=args.restart,
            reuse=args.reuse,
            address=args.cluster,
        )
    print(_dataset_summary(totals, args.out, args.filtered_out))
    return 1 if totals.failed else 0


def _screen_urls(args: argparse.Namespace) -> int:
    if not args.key:
        print("An API key is needed: --key or CONSENTRY_API_KEY.", file=sys.stderr)
        return 2
    if not args.source.is_file():
        print(f"Error: no such file: {args.source}", file=sys.stderr)
        return 2
    results = args.out.with_name(args.out.stem + ".results.jsonl")
    run = UrlRun(args.source, args.url_column, args.purpose, args.mode, args.keep)
    screen_urls(Registry(args.api, args.key, retry_for=args.retry_for), run, args.out, results)
    counts = ", ".join(f"{name} {count}" for name, count in sorted(run.counts.items()))
    print(f"URLs checked: {counts}. {run.kept} rows kept in {args.out}; answers in {results}.")
    return 0


def _public_key_pem(args: argparse.Namespace) -> bytes:
    if args.key_file:
        return Path(args.key_file).read_bytes()
    response = requests.get(args.key_url, timeout=(CONNECT_TIMEOUT, 30))
    return str(checked(response)["public_key_pem"]).encode()


def _verify_receipt(args: argparse.Namespace) -> int:
    receipt = json.loads(Path(args.file).read_text(encoding="utf-8"))
    public_key = load_public_key(_public_key_pem(args))
    document = receipt["document"]
    if document.get("key_id") != key_id(public_key):
        raise ReceiptError("the receipt was signed with another key than the one given")
    verify(document, receipt["signature"], public_key)
    if args.results:
        return check_results(document, args.results)
    print(
        f"Valid receipt of screening {document['screening_id']} "
        f"({document['items']} items, registry version {document['registry_version']['sequence']})."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "screen":
            return _screen(args)
        if args.command == "screen-urls":
            return _screen_urls(args)
        return _verify_receipt(args)
    except KeyboardInterrupt:
        # One line, not the tracebacks of every frame and pool worker: the run resumes.
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except requests.RequestException as error:
        print(
            f"Error: the connection failed ({connection_problem(error)}); run the same command "
            "again.",
            file=sys.stderr,
        )
        return 1
    except (ApiError, ReceiptError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"Error: {error.strerror}: {error.filename}", file=sys.stderr)
        return 1
    except (KeyError, ValueError) as error:
        print(f"Error: malformed input: {error}", file=sys.stderr)
        return 1
