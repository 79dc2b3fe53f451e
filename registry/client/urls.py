"""`screen-urls`: a URL list, such as LAION's metadata parquet, checked before any download.

Streams the parquet file a batch at a time (memory stays flat however many rows it has),
asks POST /api/v1/urls/check about each batch, and writes the rows to keep with the
registry's answer beside them, plus one JSON line per URL and the run's receipt: the signed
attestation of each batch (the Merkle root of its decisions), collected in order.
"""

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from registry.client.api import ApiError, Registry, applied_minimum
from registry.merkle import leaf_hash
from registry.url_receipts import answers_root, run_document, url_leaf

# The registry's published maximum; a smaller batch only costs more requests.
BATCH_SIZE = 10_000
# Longer URLs than the API takes are asked about as "", so they come back `unknown`.
MAX_URL_LENGTH = 4096
# What `--keep` may name: "not-denied" keeps what still has to be downloaded and screened by
# fingerprint (unknown URLs may be re-posts of registered works); "passing" keeps what the
# mode lets through on the URL alone, which still has to be screened by fingerprint once
# downloaded: the page may serve another picture than the work that lists it.
KEEP_CHOICES = ("not-denied", "passing")
# The kept rows' added columns, named for what they are: the answer about the URL. A
# screening's columns (consentry_decision, consentry_credit: client/batch.py) are a decision on
# the image, and a URL's `allowed` must not read as one.
DECISION_COLUMN = "consentry_url_decision"
CREDIT_COLUMN = "consentry_url_credit"


@dataclass
class UrlRun:
    source: Path
    url_column: str
    purpose: str
    mode: str
    keep: str = "not-denied"
    min_assurance: str = "verified"
    batch_size: int = BATCH_SIZE
    counts: Counter[str] = field(default_factory=Counter)
    kept: int = 0
    attestations: int = 0


def screen_urls(
    registry: Registry, run: UrlRun, kept: Path, results: Path, receipt: Path | None = None
) -> UrlRun:
    """Check every URL of `run.source`; write the rows to keep to `kept` (parquet), every
    answer to `results` (JSON Lines) and the batches' signed attestations to `receipt`.
    Raises ValueError naming a missing column."""
    parquet = pq.ParquetFile(run.source)
    if run.url_column not in parquet.schema_arrow.names:
        names = ", ".join(parquet.schema_arrow.names)
        raise ValueError(f"{run.source} has no column {run.url_column!r} (it has: {names})")
    writer: pq.ParquetWriter | None = None
    spool = (receipt or results).with_name((receipt or results).name + ".part")
    try:
        with results.open("w", encoding="utf-8") as lines, spool.open("w") as attestations:
            for batch in parquet.iter_batches(batch_size=run.batch_size):
                signed: list[dict[str, Any]] = []
                answers = _check(registry, run, batch.column(run.url_column).to_pylist(), signed)
                attestations.writelines(json.dumps(entry) + "\n" for entry in signed)
                run.attestations += len(signed)
                lines.writelines(
                    json.dumps(answer, ensure_ascii=False) + "\n" for answer in answers
                )
                table = _kept_rows(batch, answers, run)
                writer = writer or pq.ParquetWriter(kept, table.schema)
                writer.write_table(table)
        if writer is None:  # no rows at all: still an empty file of the right shape
            empty = parquet.schema_arrow.empty_table()
            writer = pq.ParquetWriter(kept, _kept_rows_schema(empty))
        if receipt is not None:
            _write_receipt(receipt, spool, run)
    finally:
        if writer is not None:
            writer.close()
        spool.unlink(missing_ok=True)
    return run


def _write_receipt(receipt: Path, spool: Path, run: UrlRun) -> None:
    """The run's summary over its batches' attestations, which follow it in the file."""
    with spool.open() as lines:
        attestations = [json.loads(line) for line in lines]
    document = run_document(attestations, source=str(run.source), url_column=run.url_column)
    text = json.dumps({"document": document, "attestations": attestations}, ensure_ascii=False)
    draft = receipt.with_name(receipt.name + ".tmp")
    draft.write_text(text, encoding="utf-8")
    draft.replace(receipt)


def _kept_rows_schema(empty: pa.Table) -> pa.Schema:
    schema = empty.schema.append(pa.field(DECISION_COLUMN, pa.string()))
    return schema.append(pa.field(CREDIT_COLUMN, pa.string()))


def _check(
    registry: Registry, run: UrlRun, column: list[Any], signed: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    answers = check_urls(
        registry,
        purpose=run.purpose,
        mode=run.mode,
        min_assurance=run.min_assurance,
        urls=column,
        attestations=signed,
    )
    run.counts.update(answer["decision"] for answer in answers)
    return answers


def check_urls(
    registry: Registry,
    *,
    purpose: str,
    mode: str,
    urls: Sequence[object],
    min_assurance: str = "verified",
    attestations: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One answer per URL, in order, asked BATCH_SIZE at a time. A value that is not a string,
    or is longer than the API takes, is asked about as "" (so it comes back `unknown`). Each
    answer records the minimum assurance the registry says it applied. Each batch's answers
    must add up to the root its attestation signs (fail closed); the attestations are appended
    to `attestations`."""
    answers: list[dict[str, Any]] = []
    for start in range(0, len(urls), BATCH_SIZE):
        given = [url if isinstance(url, str) else "" for url in urls[start : start + BATCH_SIZE]]
        sent = [url if len(url) <= MAX_URL_LENGTH else "" for url in given]
        body = {"purpose": purpose, "mode": mode, "min_assurance": min_assurance, "urls": sent}
        answer = registry.post("urls/check", json=body)
        applied_minimum(answer, min_assurance)
        results = answer["results"]
        _check_attestation(results, answer.get("attestation"), len(sent))
        if attestations is not None:
            attestations.append(answer["attestation"])
        for url, asked, result in zip(given, sent, results, strict=True):
            result["leaf"] = leaf_hash(_leaf(result)).hex()
            if url != asked:  # the leaf names the URL as asked
                result["asked"] = asked
            result["url"] = url
            result["min_assurance"] = answer["min_assurance"]
        answers.extend(results)
    return answers


def _leaf(result: dict[str, Any]) -> bytes:
    return url_leaf(
        str(result["url"]), str(result["decision"]), str(result["reason"]), result["works"]
    )


def _check_attestation(
    results: list[dict[str, Any]], attestation: dict[str, Any] | None, asked: int
) -> None:
    document = (attestation or {}).get("document") or {}
    if len(results) != asked or document.get("urls") != asked:
        raise ApiError(f"the registry answered {len(results)} of {asked} URLs")
    if answers_root(results) != document.get("decisions_root"):
        raise ApiError(
            "the registry's answers do not add up to the Merkle root its attestation signs; "
            "nothing of this batch was kept"
        )


def _kept_rows(batch: pa.RecordBatch, answers: list[dict[str, Any]], run: UrlRun) -> pa.Table:
    mask = [_keeps(answer, run.keep) for answer in answers]
    run.kept += sum(mask)
    chosen = [answer for answer, keep in zip(answers, mask, strict=True) if keep]
    table = pa.Table.from_batches([batch]).filter(pa.array(mask, type=pa.bool_()))
    decisions = [str(answer["decision"]) for answer in chosen]
    table = table.append_column(DECISION_COLUMN, pa.array(decisions, type=pa.string()))
    credits = [json.dumps(answer["credit"], ensure_ascii=False) for answer in chosen]
    return table.append_column(CREDIT_COLUMN, pa.array(credits, type=pa.string()))


def _keeps(answer: dict[str, Any], keep: str) -> bool:
    if keep == "passing":
        return bool(answer["passes"])
    return answer["decision"] != "denied"


def _json_lines(answers: list[dict[str, Any]]) -> Iterator[str]:
    return (json.dumps(answer, ensure_ascii=False) + "\n" for answer in answers)
