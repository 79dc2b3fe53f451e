"""`screen-urls`: a URL list, such as LAION's metadata parquet, checked before any download.

Streams the parquet file a batch at a time (memory stays flat however many rows it has),
asks POST /api/v1/urls/check about each batch, and writes the rows to keep with the
registry's answer beside them, plus one JSON line per URL.
"""

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from registry.client.api import Registry, applied_minimum

# The registry's published maximum; a smaller batch only costs more requests.
BATCH_SIZE = 10_000
# Longer URLs than the API takes are asked about as "", so they come back `unknown`.
MAX_URL_LENGTH = 4096
# What `--keep` may name: "not-denied" keeps what still has to be downloaded and screened by
# fingerprint (unknown URLs may be re-posts of registered works); "passing" keeps what the
# mode lets through on the URL alone.
KEEP_CHOICES = ("not-denied", "passing")


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


def screen_urls(registry: Registry, run: UrlRun, kept: Path, results: Path) -> UrlRun:
    """Check every URL of `run.source`; write the rows to keep to `kept` (parquet) and every
    answer to `results` (JSON Lines). Raises ValueError naming a missing column."""
    parquet = pq.ParquetFile(run.source)
    if run.url_column not in parquet.schema_arrow.names:
        names = ", ".join(parquet.schema_arrow.names)
        raise ValueError(f"{run.source} has no column {run.url_column!r} (it has: {names})")
    writer: pq.ParquetWriter | None = None
    try:
        with results.open("w", encoding="utf-8") as lines:
            for batch in parquet.iter_batches(batch_size=run.batch_size):
                answers = _check(registry, run, batch.column(run.url_column).to_pylist())
                lines.writelines(
                    json.dumps(answer, ensure_ascii=False) + "\n" for answer in answers
                )
                table = _kept_rows(batch, answers, run)
                writer = writer or pq.ParquetWriter(kept, table.schema)
                writer.write_table(table)
        if writer is None:  # no rows at all: still an empty file of the right shape
            empty = parquet.schema_arrow.empty_table()
            writer = pq.ParquetWriter(kept, _kept_rows_schema(empty))
    finally:
        if writer is not None:
            writer.close()
    return run


def _kept_rows_schema(empty: pa.Table) -> pa.Schema:
    schema = empty.schema.append(pa.field("consentry_decision", pa.string()))
    return schema.append(pa.field("consentry_credit", pa.string()))


def _check(registry: Registry, run: UrlRun, column: list[Any]) -> list[dict[str, Any]]:
    answers = check_urls(
        registry,
        purpose=run.purpose,
        mode=run.mode,
        min_assurance=run.min_assurance,
        urls=column,
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
) -> list[dict[str, Any]]:
    """One answer per URL, in order, asked BATCH_SIZE at a time. A value that is not a string,
    or is longer than the API takes, is asked about as "" (so it comes back `unknown`). Each
    answer records the minimum assurance the registry says it applied."""
    answers: list[dict[str, Any]] = []
    for start in range(0, len(urls), BATCH_SIZE):
        given = [url if isinstance(url, str) else "" for url in urls[start : start + BATCH_SIZE]]
        sent = [url if len(url) <= MAX_URL_LENGTH else "" for url in given]
        body = {"purpose": purpose, "mode": mode, "min_assurance": min_assurance, "urls": sent}
        answered = registry.post("urls/check", json=body)
        applied_minimum(answered, min_assurance)
        results = answered["results"]
        for url, answer in zip(given, results, strict=True):
            answer["url"] = url
            answer["min_assurance"] = answered["min_assurance"]
        answers.extend(results)
    return answers


def _kept_rows(batch: pa.RecordBatch, answers: list[dict[str, Any]], run: UrlRun) -> pa.Table:
    mask = [_keeps(answer, run.keep) for answer in answers]
    run.kept += sum(mask)
    chosen = [answer for answer, keep in zip(answers, mask, strict=True) if keep]
    table = pa.Table.from_batches([batch]).filter(pa.array(mask, type=pa.bool_()))
    decisions = [str(answer["decision"]) for answer in chosen]
    table = table.append_column("consentry_decision", pa.array(decisions, type=pa.string()))
    credits = [json.dumps(answer["credit"], ensure_ascii=False) for answer in chosen]
    return table.append_column("consentry_credit", pa.array(credits, type=pa.string()))


def _keeps(answer: dict[str, Any], keep: str) -> bool:
    if keep == "passing":
        return bool(answer["passes"])
    return answer["decision"] != "denied"


def _json_lines(answers: list[dict[str, Any]]) -> Iterator[str]:
    return (json.dumps(answer, ensure_ascii=False) + "\n" for answer in answers)
