"""`screen-urls` through the real client against a live server: a LAION-shaped parquet in,
the rows to keep and one answer per URL out."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from registry.client.api import Registry
from registry.client.cli import main as client_main
from registry.client.urls import UrlRun, screen_urls
from registry.models import Permission, Purpose
from registry.services.organizations import api_key_create, organization_create
from registry.services.terms import terms_set

ALLOWED_URL = "https://alice.example/art/fox.png"
REFUSED_URL = "https://bob.example/art/owl.png"
UNKNOWN_URL = "https://elsewhere.example/cat.png"
URLS = [ALLOWED_URL, REFUSED_URL, UNKNOWN_URL, None, "https://x.example/" + "a" * 5000]


@pytest.fixture
def laion_parquet(tmp_path, alice, bob, register_work):
    fox = register_work(alice, seed=1, title="Fox", source_urls=[ALLOWED_URL])
    register_work(bob, seed=2, title="Owl", source_urls=[REFUSED_URL])
    terms_set(
        artist=alice,
        works=[fox],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
    )
    path = tmp_path / "part-00000.parquet"
    table = pa.table({"url": URLS, "caption": [f"caption {n}" for n in range(len(URLS))]})
    pq.write_table(table, path, row_group_size=2)
    return path


@pytest.fixture
def key(transactional_db):
    _, secret = api_key_create(organization=organization_create(name="Acme AI"))
    return secret


def _run(live_server, key, source, out, *extra):
    arguments = ["screen-urls", str(source), "--api", live_server.url, "--key", key]
    return client_main([*arguments, "--purpose", "ai_training", "--out", str(out), *extra])


def test_rows_not_denied_are_kept_with_the_registry_answer(
    laion_parquet, live_server, key, tmp_path, capsys
):
    out = tmp_path / "kept.parquet"

    assert _run(live_server, key, laion_parquet, out) == 0

    kept = pq.read_table(out).to_pylist()
    assert [row["url"] for row in kept] == [ALLOWED_URL, UNKNOWN_URL, None, URLS[4]]
    assert [row["caption"] for row in kept] == ["caption 0", "caption 2", "caption 3", "caption 4"]
    assert [row["consentry_decision"] for row in kept] == [
        "allowed",
        "unknown",
        "unknown",
        "unknown",
    ]
    assert json.loads(kept[0]["consentry_credit"])[0]["title"] == "Fox"
    answers = [json.loads(line) for line in (tmp_path / "kept.results.jsonl").open()]
    assert [(a["url"], a["decision"]) for a in answers] == [
        (ALLOWED_URL, "allowed"),
        (REFUSED_URL, "denied"),
        (UNKNOWN_URL, "unknown"),
        ("", "unknown"),
        (URLS[4], "unknown"),
    ]
    assert "denied 1" in capsys.readouterr().out


def test_keep_passing_keeps_only_what_the_mode_lets_through(
    laion_parquet, live_server, key, tmp_path
):
    out = tmp_path / "kept.parquet"

    assert _run(live_server, key, laion_parquet, out, "--keep", "passing") == 0

    assert [row["url"] for row in pq.read_table(out).to_pylist()] == [ALLOWED_URL]


def test_batches_stream_in_order_across_row_groups(laion_parquet, live_server, key, tmp_path):
    run = UrlRun(laion_parquet, "url", "ai_training", "consent_required", batch_size=2)

    registry = Registry(live_server.url, key)
    screen_urls(registry, run, tmp_path / "k.parquet", tmp_path / "r.jsonl")

    assert (run.counts["allowed"], run.counts["denied"], run.counts["unknown"]) == (1, 1, 3)
    assert run.kept == 4


def test_a_missing_column_or_file_is_one_clear_error(
    laion_parquet, live_server, key, tmp_path, capsys
):
    out = tmp_path / "kept.parquet"
    assert _run(live_server, key, laion_parquet, out, "--url-column", "URL") == 1
    assert "no column 'URL'" in capsys.readouterr().err
    assert _run(live_server, key, tmp_path / "missing.parquet", out) == 2
    assert "no such file" in capsys.readouterr().err
    assert not out.exists()
