"""The client as a training team runs it unattended: `python -m registry.client screen` against a
live server and a worker. Never stale, never silently wrong, clear when something fails."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from registry.client.cli import INTERRUPTED
from registry.client.cli import main as client_main
from registry.demo_art import artwork
from registry.models import (
    Permission,
    Purpose,
    Screening,
    ScreeningChunk,
    ScreeningItem,
    WithdrawalNotice,
)
from registry.services.organizations import api_key_create, organization_create
from registry.services.terms import terms_set
from tests.conftest import _SEED_BASE
from tests.e2e.conftest import ROOT, wait_for
from tests.factories import ArtistFactory


def _jpeg(seed: int, scale: float = 1.0) -> bytes:
    image = artwork(_SEED_BASE + seed)
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def acme_key(transactional_db) -> str:
    _, key = api_key_create(organization=organization_create(name="Acme AI"))
    return key


def _command(path, api, key, out, *extra):
    return ["screen", str(path), "--api", api, "--key", key, "--purpose", "ai_training",
            "--out", str(out), "--quiet", "--wait", "120", *extra]  # fmt: skip


def _client(arguments: list[str]) -> subprocess.Popen[str]:
    """The client in its own process group, as a terminal runs it: Ctrl-C reaches the group."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "registry.client", *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("missing", "no such file or folder"),
        ("empty", "the folder holds no files"),
        ("no image", "no image to screen among 2 files"),
    ],
)
def test_a_path_with_nothing_to_screen_exits_non_zero_and_creates_nothing(
    live_server, acme_key, tmp_path, capsys, layout, message
):
    path = tmp_path / "scraped"
    if layout != "missing":
        path.mkdir()
    if layout == "no image":
        (path / "notes.txt").write_text("captions")
        (path / "photo.jpg").write_text("<html>a saved error page, not an image</html>")
    out = tmp_path / "results.jsonl"

    code = client_main(_command(path, live_server.url, acme_key, out))

    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error and str(path) in error
    assert Screening.objects.count() == 0
    assert not out.exists() and not out.with_name("results.state.json").exists()


def test_an_unreachable_registry_is_named_within_seconds_then_the_client_gives_up(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on: a mistyped --api, or an outage
        probe.bind(("127.0.0.1", 0))
        api = f"http://127.0.0.1:{probe.getsockname()[1]}"
    (tmp_path / "a.jpg").write_bytes(_jpeg(1))
    arguments = _command(tmp_path / "a.jpg", api, "some-key", tmp_path / "out.jsonl")
    started = time.monotonic()

    client = _client([*arguments, "--retry-for", "4"])
    assert client.stderr is not None
    first_line = client.stderr.readline()
    reported_after = time.monotonic() - started
    rest = client.communicate(timeout=60)[1]

    assert f"cannot reach {api} (connection refused); retrying" in first_line
    assert reported_after < 10
    assert client.returncode == 1
    assert rest.count("retrying") >= 1  # it kept trying, and said so each time
    assert rest.splitlines()[-1].startswith(f"Error: cannot reach {api}")
    assert "gave up after 4 s" in rest and "Traceback" not in rest + first_line
    assert "Max retries exceeded" not in rest + first_line


@pytest.fixture
def mixed_folder(tmp_path, register_work):
    """alice's allowed work as a re-post, her refused one saved as .jfif, a stranger without an
    extension, and files that are no image the client reads: text, AVIF, a text "jpg"."""
    alice = ArtistFactory.create(
        user__username="alice", display_name="Alice Liu", verified_with="e2e: staff saw her ID"
    )
    allowed = register_work(alice, seed=1)
    register_work(alice, seed=2)  # refused: consent first
    terms_set(
        artist=alice,
        works=[allowed],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.ALLOWED,
        license="CC-BY-4.0",
    )
    folder = tmp_path / "scraped"
    folder.mkdir()
    (folder / "repost.jpg").write_bytes(_jpeg(1, scale=0.6))
    (folder / "refused.jfif").write_bytes(_jpeg(2, scale=0.8))
    (folder / "stranger").write_bytes(_jpeg(77))
    (folder / "notes.txt").write_text("captions for the crawl")
    avif = io.BytesIO()
    Image.open(io.BytesIO(_jpeg(78))).save(avif, format="AVIF")
    (folder / "cover.avif").write_bytes(avif.getvalue())
    (folder / "error.jpg").write_text("<html>403 Forbidden</html>")
    return {"path": folder, "alice": alice, "allowed": allowed}


def test_files_are_recognised_by_content_and_a_rerun_screens_again_after_a_consent_change(
    mixed_folder, worker, live_server, acme_key, tmp_path, capsys
):
    out = tmp_path / "results.jsonl"
    arguments = _command(mixed_folder["path"], live_server.url, acme_key, out)

    assert client_main(arguments) == 0
    summary = capsys.readouterr().out
    first = _lines(out)
    screened = {Path(line["path"]).name: line["decision"] for line in first if "decision" in line}
    skipped = {Path(line["path"]).name: line["skipped"] for line in first if "skipped" in line}
    assert screened == {
        "repost.jpg": "allowed",
        "refused.jfif": "denied",
        "stranger": "unregistered",
    }
    assert skipped.keys() == {"notes.txt", "cover.avif", "error.jpg"}
    assert skipped["cover.avif"].startswith("AVIF image")
    assert skipped["notes.txt"].startswith("not an image")
    assert "3 files skipped" in summary and all(name in summary for name in skipped)
    first_id = first[0]["screening_id"]

    terms_set(
        artist=mixed_folder["alice"],
        works=[mixed_folder["allowed"]],
        purpose=Purpose.AI_TRAINING,
        permission=Permission.NOT_ALLOWED,
    )
    wait_for(WithdrawalNotice.objects.exists, message="the withdrawal to reach Acme AI's feed")

    # Asked to reuse: the old decisions, saying how old they are and what changed since.
    assert client_main([*arguments, "--reuse"]) == 0
    warning = capsys.readouterr().err
    repost_id = str(mixed_folder["path"] / "repost.jpg")
    assert f"REUSING screening {first_id}" in warning and "registry version" in warning
    assert "CHANGED SINCE" in warning and repost_id in warning
    reused = {line["path"]: line for line in _lines(out)}
    assert reused[repost_id]["screening_id"] == first_id
    assert "withdrawn_since" in reused[repost_id]
    assert out.with_name("results.manifest.jsonl").read_text() == ""  # nothing passes now

    # By default: a new screening against the registry as it is now.
    assert client_main(arguments) == 0
    assert "screening again" in capsys.readouterr().err
    again = {line["path"]: line for line in _lines(out)}
    assert again[repost_id]["decision"] == "denied"
    assert again[repost_id]["screening_id"] != first_id
    assert Screening.objects.count() == 2
    receipt = json.loads(out.with_name("results.receipt.json").read_text())
    assert receipt["document"]["screening_id"] == again[repost_id]["screening_id"]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def test_ctrl_c_while_hashing_prints_one_line_and_a_resumed_run_decides_every_item_once(
    worker, live_server, acme_key, tmp_path
):
    folder = tmp_path / "scraped"
    folder.mkdir()
    originals = [_jpeg(seed) for seed in range(30, 36)]
    count = 120  # enough that the hashing pool is still at work when Ctrl-C comes
    for number in range(count):
        (folder / f"{number:04}.jpg").write_bytes(originals[number % len(originals)])
    out = tmp_path / "results.jsonl"
    arguments = _command(folder, live_server.url, acme_key, out, "--chunk-size", "25")
    cache = out.with_name("results.fingerprints.jsonl")

    client = _client(arguments)
    wait_for(
        lambda: cache.exists() and len(cache.read_bytes().splitlines()) >= 4,
        timeout=120,
        message="the client to hash a few images",
    )
    pool = _children(client.pid)
    assert pool, "the hashing pool was not running"
    os.killpg(client.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, stderr = client.communicate(timeout=60)

    assert client.returncode == 130
    assert stderr.strip() == INTERRUPTED, stderr
    assert not any(_alive(pid) for pid in pool)
    hashed = len(cache.read_bytes().splitlines())
    assert hashed < count, "the run was interrupted after hashing everything"

    resumed = _client(arguments)
    _, stderr = resumed.communicate(timeout=240)

    assert resumed.returncode == 0, stderr
    assert "Resuming" in stderr and f"of {count} images were hashed already" in stderr
    results = _lines(out)
    assert len(results) == count and len({line["id"] for line in results}) == count
    assert {line["decision"] for line in results} == {"unregistered"}
    screening = Screening.objects.get()
    # Unregistered items are counted on their chunk, once each, and get no row.
    chunks = list(ScreeningChunk.objects.filter(screening=screening))
    decided = sum(chunk.unregistered_items for chunk in chunks)
    assert decided == count == screening.total_items == screening.done_items
    assert sum(chunk.item_count for chunk in chunks) == count
    assert len({chunk.number for chunk in chunks}) == len(chunks)
    assert not ScreeningItem.objects.filter(screening=screening).exists()
