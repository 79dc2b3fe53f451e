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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.client.api import (
    CONNECT_TIMEOUT,
    RETRY_FOR,
    ApiError,
    Registry,
    checked,
    connection_problem,
)
from registry.client.chunks import WIRES
from registry.client.datasets import DatasetError, Shard, find_shards
from registry.client.engines import ENGINES, INSTALL, EngineUnavailable, run_on_cluster
from registry.client.inputs import Discovery, InputError, discover
from registry.client.run import Outputs, RunState, ScreeningRun
from registry.client.shards import Settings, ShardRun, Totals
from registry.client.urls import KEEP_CHOICES, UrlRun, screen_urls
from registry.client.verify import (
    URL_RUN,
    check_proof,
    check_results,
    item_proof,
    merkle_mismatches,
    url_attestation_document,
    url_run_document,
)
from registry.gatekeeper import Mode, Purpose
from registry.merkle import ItemProof, ProofError
from registry.receipts import ReceiptError, key_id, load_public_key, verify
from registry.url_receipts import ATTESTATION_TYPE, RUN_RECEIPT_TYPE, URL_SCOPE, URL_SCOPE_NOTE

# Plain strings (not the enum members) so that argparse names them plainly in its messages.
PURPOSES = tuple(purpose.value for purpose in Purpose)
MODES = tuple(mode.value for mode in Mode)
MIN_ASSURANCES = ("verified", "operator_verified")


def _min_assurance_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--min-assurance",
        default="verified",
        choices=MIN_ASSURANCES,
        help="the least assurance a rights claim needs for its permission to count: any "
        "verified level (default) or only claims the registry's staff verified; below it a "
        "matched item is denied with the reason consent_unverified",
    )


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
    _min_assurance_option(screen)
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
        "--wire",
        choices=WIRES,
        default="auto",
        help="how chunks travel: binary (hashes first, then verification payloads only for "
        "the items the registry finds candidates for), json (every field of every item), or "
        "auto (binary, JSON where the registry does not take it; the default)",
    )
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
    _min_assurance_option(urls)
    urls.add_argument("--out", required=True, type=Path, help="the rows to keep (parquet)")
    urls.add_argument(
        "--keep",
        default="not-denied",
        choices=KEEP_CHOICES,
        help="not-denied (default): every row still to download and screen by fingerprint; "
        "passing: only rows the mode lets through on their URL alone (still to screen by "
        "fingerprint: a URL is not the picture found there)",
    )

    check = commands.add_parser("verify-receipt", help="check a receipt's signature offline")
    check.add_argument(
        "file",
        type=Path,
        help="a screening's receipt, a screen-urls run's receipt, or one URL check's attestation",
    )
    key = check.add_mutually_exclusive_group(required=True)
    key.add_argument("--key-url", help="the registry's /api/v1/receipts/key")
    key.add_argument("--key-file", type=Path, help="a PEM public key saved earlier")
    check.add_argument("--results", type=Path, help="also check a results file line by line")
    check.add_argument(
        "--item",
        help="with --results: print the proof of this item's decision (its Merkle path) after "
        "checking it against the receipt",
    )
    check.add_argument(
        "--proof", type=Path, help="check a proof of one item's decision printed by --item"
    )
    return parser


INTERRUPTED = "interrupted; run the same command to resume"
SHOWN_SKIPPED = 10


def _state_for(args: argparse.Namespace, outputs: Outputs) -> tuple[RunState, bool]:
    """The run to go on with, and whether it resumes an interrupted one. A finished run is
    screened again, unless --reuse: consent may have changed since."""
    fresh = RunState(
        api=args.api,
        purpose=args.purpose,
        mode=args.mode,
        chunk_size=args.chunk_size,
        min_assurance=args.min_assurance,
    )
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
    minimum = screening.get("min_assurance", "?")
    lines = [
        f"Screening {screening['id']} (registry version {version}, minimum assurance "
        f"{minimum}): {counts}.",
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
    with Registry(args.api, args.key, retry_for=args.retry_for) as registry:
        run = ScreeningRun(
            registry, state, outputs, not args.quiet, resuming=resuming, wire=args.wire
        )
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
        min_assurance=args.min_assurance,
        chunk_size=args.chunk_size,
        filtered_out=args.filtered_out,
        progress=not args.quiet,
        timeout=args.wait,
        wire=args.wire,
    )
    with Registry(args.api, args.key, retry_for=args.retry_for) as registry:
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
    receipt = args.out.with_name(args.out.stem + ".receipt.json")
    run = UrlRun(
        args.source, args.url_column, args.purpose, args.mode, args.keep, args.min_assurance
    )
    with Registry(args.api, args.key, retry_for=args.retry_for) as registry:
        screen_urls(registry, run, args.out, results, receipt)
    counts = ", ".join(f"{name} {count}" for name, count in sorted(run.counts.items()))
    print(
        f"URLs checked (minimum assurance {run.min_assurance}): {counts}. {run.kept} rows kept "
        f"in {args.out}; answers in {results}; receipt ({run.attestations} signed batches) in "
        f"{receipt}. The answers are about the URLs only, not the images found there: screen "
        "what you download by fingerprint."
    )
    return 0


def _public_key_pem(args: argparse.Namespace) -> bytes:
    if args.key_file:
        return Path(args.key_file).read_bytes()
    response = requests.get(args.key_url, timeout=(CONNECT_TIMEOUT, 30))
    return str(checked(response)["public_key_pem"]).encode()


# A URL check's "allowed" must never read as a screening's: every valid URL answer says so.
URL_ONLY = "about the URL only, not the image found there: screen the downloaded image"


def _url_scope(document: dict[str, Any]) -> str:
    """The scope line of a valid URL receipt; receipts from before the signed scope get it too,
    since a URL check has only ever answered about URLs."""
    if "scope" in document:
        return f"Scope: {document['scope']} only (signed). {document['scope_note']}"
    return (
        f"Scope: url only (version {document.get('version', 1)} predates the signed statement "
        f"of scope; it holds all the same). {URL_SCOPE_NOTE}"
    )


def _url_answer(leaf: dict[str, Any]) -> str:
    return f"Valid: {leaf['url']!r} was answered {leaf['decision']} ({leaf['reason']}), {URL_ONLY}."


def _verify_url_run(
    args: argparse.Namespace, receipt: dict[str, Any], public_key: Ed25519PublicKey
) -> int:
    """A screen-urls receipt: every batch's attestation signed, the summary theirs, and with
    --results every answer; --item URL proves one."""
    document = url_run_document(receipt, public_key)
    if args.item is not None:
        if not args.results:
            raise ReceiptError("--item needs --results: the proof is built from the results file")
        proof = item_proof(document, args.results, args.item, URL_RUN)
        # Labelled, since the proof file may travel alone (its check needs the receipt anyway).
        labelled = {"scope": URL_SCOPE, **proof.as_dict()}
        print(json.dumps(labelled, indent=2, ensure_ascii=False))
        print(_url_answer(json.loads(proof.leaf)), file=sys.stderr)
        return 0
    if args.proof is not None:
        proof = ItemProof.from_dict(json.loads(args.proof.read_text(encoding="utf-8")))
        check_proof(document, proof, URL_RUN)
        print(_url_answer(json.loads(proof.leaf)))
        return 0
    summary = (
        f"URL run of {document['source']}: {document['urls']} URLs in "
        f"{len(document['batches'])} signed batches, registry version(s) "
        f"{', '.join(map(str, document['registry_versions']))}"
    )
    if args.results:
        mismatches = merkle_mismatches(document, args.results, URL_RUN)
        for mismatch in mismatches:
            print(f"Mismatch: {mismatch}", file=sys.stderr)
        if mismatches:
            print(f"{args.results} does not match the receipt.", file=sys.stderr)
            return 1
        print(f"Valid receipt of a {summary}; {args.results} holds exactly its answers.")
    else:
        print(f"Valid receipt of a {summary}.")
    print(_url_scope(document))
    return 0


def _verify_url_attestation(
    args: argparse.Namespace, attestation: dict[str, Any], public_key: Ed25519PublicKey
) -> int:
    """One URL check's attestation, as POST /api/v1/urls/check answered it."""
    if args.results or args.item is not None or args.proof is not None:
        raise ReceiptError(
            "--results, --item and --proof check a screen-urls run's receipt (OUT.receipt.json), "
            "not one URL check's attestation"
        )
    document = url_attestation_document(attestation, public_key)
    counts = ", ".join(f"{name} {count}" for name, count in sorted(document["counts"].items()))
    print(
        f"Valid attestation of a URL check of {document['urls']} URLs ({counts}), registry "
        f"version {document['registry_version']['sequence']}, at {document['checked_at']}."
    )
    print(_url_scope(document))
    return 0


def _proved(document: dict[str, Any], proof: ItemProof) -> str:
    leaf = json.loads(proof.leaf)
    return (
        f"Valid: item {leaf['id']!r} was decided {leaf['decision']} ({leaf['reason']}) in "
        f"screening {document['screening_id']}, chunk {proof.chunk}, position {proof.index}."
    )


def _verify_receipt(args: argparse.Namespace) -> int:
    receipt = json.loads(Path(args.file).read_text(encoding="utf-8"))
    public_key = load_public_key(_public_key_pem(args))
    document = receipt["document"]
    if document.get("type") == RUN_RECEIPT_TYPE:
        return _verify_url_run(args, receipt, public_key)
    if document.get("type") == ATTESTATION_TYPE:
        return _verify_url_attestation(args, receipt, public_key)
    if document.get("key_id") != key_id(public_key):
        raise ReceiptError("the receipt was signed with another key than the one given")
    verify(document, receipt["signature"], public_key)
    if args.item is not None:
        if not args.results:
            raise ReceiptError("--item needs --results: the proof is built from the results file")
        proof = item_proof(document, args.results, args.item)
        print(json.dumps(proof.as_dict(), indent=2, ensure_ascii=False))
        print(_proved(document, proof), file=sys.stderr)
        return 0
    if args.proof is not None:
        proof = ItemProof.from_dict(json.loads(args.proof.read_text(encoding="utf-8")))
        check_proof(document, proof)
        print(_proved(document, proof))
        return 0
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
    except (ApiError, ReceiptError, ProofError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"Error: {error.strerror}: {error.filename}", file=sys.stderr)
        return 1
    except (KeyError, ValueError) as error:
        print(f"Error: malformed input: {error}", file=sys.stderr)
        return 1
