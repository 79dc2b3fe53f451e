"""`python -m registry.client screen ...` and `python -m registry.client verify-receipt ...`."""

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import requests

from registry.client.api import ApiError, checked, session
from registry.client.inputs import discover
from registry.client.run import Outputs, RunState, ScreeningRun
from registry.client.verify import check_results
from registry.receipts import ReceiptError, key_id, load_public_key, verify

PURPOSES = ("ai_training", "ai_generative_training", "data_mining", "ai_inference")
MODES = ("consent_required", "respect_opt_outs")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m registry.client")
    commands = parser.add_subparsers(dest="command", required=True)

    screen = commands.add_parser("screen", help="screen images against the registry")
    screen.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    screen.add_argument("--api", required=True, help="the registry, e.g. http://127.0.0.1:8000")
    screen.add_argument(
        "--key",
        default=os.environ.get("CONSENTRY_API_KEY"),
        help="API key (default: $CONSENTRY_API_KEY)",
    )
    screen.add_argument("--purpose", required=True, choices=PURPOSES)
    screen.add_argument("--mode", default="consent_required", choices=MODES)
    screen.add_argument("--out", required=True, type=Path, help="results, one JSON line per input")
    screen.add_argument("--chunk-size", type=int, default=5000)
    screen.add_argument(
        "--wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up waiting for the decisions after this long (default: wait)",
    )
    screen.add_argument("--quiet", action="store_true", help="no progress bars")

    check = commands.add_parser("verify-receipt", help="check a receipt's signature offline")
    check.add_argument("file", type=Path)
    key = check.add_mutually_exclusive_group(required=True)
    key.add_argument("--key-url", help="the registry's /api/v1/receipts/key")
    key.add_argument("--key-file", type=Path, help="a PEM public key saved earlier")
    check.add_argument("--results", type=Path, help="also check a results file line by line")
    return parser


def _screen(args: argparse.Namespace) -> int:
    if not args.key:
        print("An API key is needed: --key or CONSENTRY_API_KEY.", file=sys.stderr)
        return 2
    items = discover(args.paths)
    if not items:
        print("No image files found under the paths given.", file=sys.stderr)
        return 2
    outputs = Outputs(args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fresh = RunState(api=args.api, purpose=args.purpose, mode=args.mode, chunk_size=args.chunk_size)
    state = RunState.load_or_new(outputs.state, fresh)
    run = ScreeningRun(session(args.key), state, outputs, not args.quiet)
    screening = run.run(items, timeout=args.wait)
    counts = ", ".join(f"{name} {count}" for name, count in sorted(screening["counts"].items()))
    print(
        f"Screening {screening['id']}: {counts}. Results in {outputs.results}, "
        f"passing items in {outputs.manifest}, receipt in {outputs.receipt}."
    )
    return 0


def _public_key_pem(args: argparse.Namespace) -> bytes:
    if args.key_file:
        return Path(args.key_file).read_bytes()
    response = requests.get(args.key_url, timeout=30)
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
        return _verify_receipt(args)
    except (ApiError, ReceiptError, requests.RequestException) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"Error: {error.strerror}: {error.filename}", file=sys.stderr)
        return 1
    except (KeyError, ValueError) as error:
        print(f"Error: malformed input: {error}", file=sys.stderr)
        return 1
