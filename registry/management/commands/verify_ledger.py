import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.attestations import first_bad_attestation
from registry.exports.ledger_check import LedgerExportError, verify_ledger_export
from registry.ledger import first_broken_link
from registry.ledger_replay import replay
from registry.receipts import ReceiptError, load_public_key
from registry.selectors.ledger import ledger_rows, registry_version
from registry.selectors.ledger_check import first_difference, receipt_problem
from registry.signing import receipt_signing_key


class Command(BaseCommand):
    help = (
        "Recompute the consent ledger's hash chain, check each platform attestation's "
        "signature and that its key was the platform's key registered in the ledger, then replay "
        "it and compare the works, terms, grants, disputes, assurance, verified sites and "
        "platform settings with it; fail and name the first broken event or differing row. "
        "With --export FILE, verify an exported ledger offline instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--export", type=Path, help="an exported ledger (JSON Lines) to verify offline"
        )
        parser.add_argument(
            "--receipts",
            type=Path,
            help="a folder of saved receipts (*.json): each must be signed by the registry's key "
            "and name a registry version on this ledger",
        )
        parser.add_argument(
            "--key-file",
            type=Path,
            help="the registry's public key (PEM) for the checkpoint signature; "
            "default: this registry's own key",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["export"] is not None:
            key_file = options["key_file"]
            self._verify_export(Path(options["export"]), Path(key_file) if key_file else None)
            return
        broken = first_broken_link(ledger_rows())
        if broken is not None:
            raise CommandError(f"The ledger is broken at event {broken.sequence}: {broken.reason}.")
        bad = first_bad_attestation(ledger_rows())
        if bad is not None:
            raise CommandError(
                f"The {bad.subject} in event {bad.sequence} does not verify: {bad.reason}."
            )
        difference = first_difference(replay(ledger_rows()))
        if difference is not None:
            raise CommandError(f"The tables differ from the ledger: {difference}.")
        if options["receipts"] is not None:
            key_file = options["key_file"]
            self._verify_receipts(Path(options["receipts"]), Path(key_file) if key_file else None)
        head = registry_version()
        if head.sequence == 0:
            self.stdout.write("The ledger is empty.")
        else:
            self.stdout.write(f"The ledger holds: {head.sequence} events, head hash {head.hash}.")

    def _verify_receipts(self, folder: Path, key_file: Path | None) -> None:
        try:
            public_key = (
                load_public_key(key_file.read_bytes())
                if key_file is not None
                else receipt_signing_key().public_key()
            )
            paths = sorted(folder.glob("*.json"))
        except (OSError, ReceiptError) as error:
            raise CommandError(str(error)) from None
        if not paths:
            raise CommandError(f"No receipts (*.json) in {folder}.")
        for path in paths:
            try:
                receipt = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise CommandError(f"{path.name}: cannot be read: {error}") from None
            problem = receipt_problem(receipt, public_key)
            if problem is not None:
                raise CommandError(f"{path.name}: {problem}.")
        self.stdout.write(f"{len(paths)} receipts are signed and name versions on this ledger.")

    def _verify_export(self, path: Path, key_file: Path | None) -> None:
        try:
            if key_file is not None:
                public_key = load_public_key(key_file.read_bytes())
            else:
                public_key = receipt_signing_key().public_key()
            with path.open(encoding="utf-8") as lines:
                verified = verify_ledger_export(lines, public_key)
        except (OSError, ReceiptError, LedgerExportError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"The exported ledger holds: {verified.events} events"
            + (f" ({verified.withheld} withheld)" if verified.withheld else "")
            + ", head hash "
            f"{verified.head_hash}, checkpoint of {verified.checkpoint_time} signed by key "
            f"{verified.key_id}."
        )
