"""How the client sends a screening's chunks: in two phases on the wire by default, JSON when
asked or when the registry does not take binary bodies; decided the same either way."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from registry.chunk_wire import HASHES_MEDIA_TYPE, VERIFICATION_MEDIA_TYPE, encode_hashes
from registry.client.api import ApiError, Registry
from registry.client.chunks import ChunkSender
from registry.client.hashing import fingerprint_item
from registry.client.inputs import InputItem
from registry.fingerprints import FINGERPRINT_VERSION
from registry.models import ScreeningChunk
from registry.services.organizations import api_key_create
from registry.services.screenings import chunk_decide
from tests.api.conftest import item, screenshot_bytes, screenshot_item


def _decide_pending() -> None:
    for chunk in ScreeningChunk.objects.filter(decided_at__isnull=True).order_by("pk"):
        chunk_decide(chunk_id=chunk.pk)


def _screen(registry: Registry, sender: ChunkSender, items: list[dict]) -> dict[str, tuple]:
    created = registry.post("screenings", json={"purpose": "ai_training", "keep_open": True})
    sender.send(created["id"], 0, items)
    sender.send(created["id"], 0, items)  # a resumed run sends it again: nothing changes
    registry.post(f"screenings/{created['id']}/close")
    _decide_pending()
    page = registry.get(f"screenings/{created['id']}/items", params={"page_size": 100})
    return {
        entry["id"]: (entry["decision"], entry["reason"], entry["matches"], entry["credit"])
        for entry in page["results"]
    }


def test_by_default_only_candidates_send_their_payload_and_decisions_match_json(
    live_server, acme, works
):
    _, key = api_key_create(organization=acme)
    registry = Registry(live_server.url, key, retry_for=5)
    items = [item("mine", 1), item("theirs", 2)] + [item(f"{n:09d}", 40 + n) for n in range(10)]
    items.append({"id": "broken", "unreadable": "cannot identify image file"})
    binary, plain = ChunkSender(registry), ChunkSender(registry, wire="json")

    two_phase = _screen(registry, binary, items)
    one_phase = _screen(registry, plain, items)

    assert two_phase == one_phase
    assert two_phase["mine"][0] == "allowed" and two_phase["theirs"][0] == "denied"
    assert binary.verified_items == 2  # once: the second sending found nothing left to verify
    assert binary.sent_bytes["json"] == 0 and plain.sent_bytes["hashes"] == 0
    assert binary.sent_bytes["hashes"] < plain.sent_bytes["json"] / 30
    assert plain.sent_bytes["json"] / (2 * len(items)) > 2000


def test_the_client_sends_a_screenshots_regions_on_both_wires_and_it_matches_the_work(
    live_server, acme, works, tmp_path
):
    """The client fingerprints the screenshot with its regions; as hashes, the regions' codes
    make it a candidate and their descriptors go with its payload; as JSON, they go whole."""
    _, key = api_key_create(organization=acme)
    registry = Registry(live_server.url, key, retry_for=5)
    shot = tmp_path / "shot.jpg"
    shot.write_bytes(screenshot_bytes(1))
    items = [fingerprint_item(InputItem(path=str(shot), id="shot")), item("stranger", 40)]
    assert items[0]["regions"]
    binary, plain = ChunkSender(registry, wire="binary"), ChunkSender(registry, wire="json")

    two_phase = _screen(registry, binary, items)
    one_phase = _screen(registry, plain, items)

    assert two_phase == one_phase
    # Found through its region: the app frame around the work is unregistered content, so in
    # consent_required the screenshot does not pass, and the work it shows is named.
    assert two_phase["shot"][0] == "unregistered"
    assert [match["work_id"] for match in two_phase["shot"][2]] == [works["allowed"].pk]
    assert binary.verified_items == 1 and binary.sent_bytes["json"] == 0


def test_an_unregistered_item_costs_at_most_64_bytes_on_the_wire():
    stranger = item("000000000", 40)
    items = [{**stranger, "id": f"{n:09d}"} for n in range(10_001)]

    chunk = len(encode_hashes(0, FINGERPRINT_VERSION, items[:10_000]))
    one_more = len(encode_hashes(0, FINGERPRINT_VERSION, items)) - chunk

    # 1 + 9 bytes of id (a LAION key), 48 of hashes and 2 of information.
    assert one_more == 60
    assert chunk / 10_000 <= 64


def test_a_region_costs_8_bytes_in_phase_1_and_its_count_1_an_item():
    """Phase 1 carries a region's pHash alone (its box and dHash go in phase 2): an item with
    two regions, in a chunk where items have regions, costs 1 + 16 bytes more than one
    without."""
    shot = screenshot_item("000000000", 1)
    regions = shot["regions"][:2]
    plain = [{**item("000000000", 40), "id": f"{n:09d}"} for n in range(101)]
    with_regions = [{**entry, "regions": regions} for entry in plain]

    def one_more(items):
        return len(encode_hashes(0, FINGERPRINT_VERSION, items)) - len(
            encode_hashes(0, FINGERPRINT_VERSION, items[:100])
        )

    assert one_more(with_regions) == 60 + 1 + 2 * 8
    assert one_more([*with_regions[:100], plain[100]]) == 60 + 1


def test_an_upright_region_costs_8_bytes_more_and_items_without_one_nothing():
    """Phase 1 carries the upright region's dHash (it is searched): 8 bytes an item that has
    one, and 18 once in a chunk where one does (the field's name and length); its mark rides
    in the region count's byte. An item without one costs what it did in layout 2."""
    shot = screenshot_item("000000000", 1)
    regions = shot["regions"][:2]
    upright = [regions[0], {**regions[1], "upright": True}]
    plain = [{**item("000000000", 40), "id": f"{n:09d}"} for n in range(101)]
    with_regions = [{**entry, "regions": regions} for entry in plain]
    with_upright = [{**entry, "regions": upright} for entry in plain]

    def size(items):
        return len(encode_hashes(0, FINGERPRINT_VERSION, items))

    def one_more(items):
        return size(items) - size(items[:100])

    assert one_more(with_upright) == 60 + 1 + 2 * 8 + 8
    assert one_more([*with_upright[:100], with_regions[100]]) == 60 + 1 + 2 * 8
    assert one_more([*with_upright[:100], plain[100]]) == 60 + 1
    assert size([*with_regions[:100], with_upright[100]]) - size(with_regions) == 8 + 18


class _Recorder(BaseHTTPRequestHandler):
    """Answers JSON chunks like a registry; binary ones with `binary_status`."""

    binary_status = 415
    seen: list[str]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        kind = self.headers["Content-Type"]
        type(self).seen.append(kind)
        status = self.binary_status if kind != "application/json" else 202
        if kind == "application/json":
            json.loads(body)
        answer = json.dumps({"detail": "Unsupported media type"} if status >= 400 else {})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def older_registry() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"seen": [], "binary_status": 415})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_a_registry_without_binary_chunks_gets_json_and_the_client_says_so(older_registry, db):
    url, handler = older_registry
    said: list[str] = []
    sender = ChunkSender(Registry(url, "key", retry_for=2), say=said.append)
    items = [item("a", 40)]

    sender.send("s", 0, items)
    sender.send("s", 1, items)

    assert handler.seen == [HASHES_MEDIA_TYPE, "application/json", "application/json"]
    assert said == ["The registry does not take binary chunks; sending JSON."]


def test_binary_asked_for_explicitly_does_not_fall_back(older_registry, db):
    url, _ = older_registry
    sender = ChunkSender(Registry(url, "key", retry_for=2), wire="binary")

    with pytest.raises(ApiError, match="415"):
        sender.send("s", 0, [item("a", 40)])


def test_items_the_binary_layout_cannot_carry_as_they_are_go_as_json(older_registry, db):
    url, handler = older_registry
    handler.binary_status = 500  # never asked: the chunk goes as JSON from the start
    sender = ChunkSender(Registry(url, "key", retry_for=2))
    shouting = item("a", 40)
    shouting["sha256"] = shouting["sha256"].upper()  # invalid in JSON; binary would hide it

    sender.send("s", 0, [shouting])
    sender.send("s", 1, [item("b", 41, version=1), item("c", 42)])  # two fingerprint versions

    assert handler.seen == ["application/json", "application/json"]
    assert VERIFICATION_MEDIA_TYPE not in handler.seen


def test_a_chunk_with_a_malformed_fingerprint_goes_as_json(older_registry, db):
    url, handler = older_registry
    handler.binary_status = 500  # never asked: the chunk goes as JSON from the start
    sender = ChunkSender(Registry(url, "key", retry_for=2))
    malformed = [
        item("short-descriptor", 40, descriptor="00" * 10),
        item("no-width", 41, width=0),
        item("quality-101", 42, pdq_quality=101),
        item("short-pdq", 43, pdq="00" * 4),
    ]

    for number, stranger in enumerate(malformed):
        sender.send("s", number, [item("fine", 44), stranger])

    assert handler.seen == ["application/json"] * len(malformed)


def test_items_decided_without_their_late_payloads_are_reported(live_server, acme, works):
    _, key = api_key_create(organization=acme)
    registry = Registry(live_server.url, key, retry_for=5)
    said: list[str] = []
    sender = ChunkSender(registry, say=said.append)
    items = [item("stranger", 40), item("mine", 1)]
    created = registry.post("screenings", json={"purpose": "ai_training", "keep_open": True})
    body = encode_hashes(0, FINGERPRINT_VERSION, items)
    # Phase 1 went out, then the client stopped for longer than the registry waits.
    registry.request(
        "POST",
        f"screenings/{created['id']}/chunks",
        data=body,
        headers={"Content-Type": HASHES_MEDIA_TYPE},
    )
    _decide_pending()

    sender.send(created["id"], 0, items)  # the resumed run

    assert sender.expired_items == ["mine"]
    assert len(said) == 1 and "came too late (mine)" in said[0]


def test_json_chunks_are_split_to_fit_the_registrys_published_request_limit(
    live_server, acme, works, tmp_path, settings
):
    """Items with four regions take about 10 KB each as JSON: a chunk of the client's count
    would pass the registry's limit, so the run sizes its chunks by bytes as well."""
    from registry.client.run import Outputs, RunState, ScreeningRun

    settings.CONSENTRY_MAX_REQUEST_BYTES = 64 * 1024
    shot = screenshot_item("shot", 1)
    items = [
        {**shot, "id": f"shot-{n:03d}", "regions": [shot["regions"][0]] * 4} for n in range(40)
    ]
    assert len(json.dumps({"number": 0, "items": items})) > 6 * 64 * 1024
    _, key = api_key_create(organization=acme)
    state = RunState(
        api=live_server.url, purpose="ai_training", mode="consent_required", chunk_size=5000
    )
    run = ScreeningRun(
        Registry(live_server.url, key, retry_for=5),
        state,
        Outputs(tmp_path / "r.jsonl"),
        False,
        wire="json",
    )

    screening_id = run._start()
    run._send(screening_id, items)
    _decide_pending()

    screening = run.registry.get(f"screenings/{screening_id}")
    assert screening["progress"] == {**screening["progress"], "done": 40, "total": 40}
    assert len(state.sent_chunks) > 6


@pytest.mark.parametrize("wire", ["binary", "json"])
def test_a_screening_started_under_other_matching_takes_no_new_chunk(
    live_server, acme, works, wire
):
    """Its receipt names the matching it started with: chunks the registry's current matching
    would decide are refused, and the client says to start a new screening."""
    from registry.models import Screening

    _, key = api_key_create(organization=acme)
    registry = Registry(live_server.url, key, retry_for=5)
    created = registry.post("screenings", json={"purpose": "ai_training", "keep_open": True})
    screening = Screening.objects.get(pk=created["id"])
    screening.matching = {**screening.matching, "fingerprint_version": 2, "min_information": 8}
    screening.save(update_fields=["matching"])

    with pytest.raises(ApiError, match=r"409.*start a new screening"):
        ChunkSender(registry, wire=wire).send(created["id"], 0, [item("stranger", 40)])

    assert not ScreeningChunk.objects.filter(screening=screening).exists()


def test_a_client_of_another_fingerprint_version_stops_before_hashing(
    live_server, acme, tmp_path, monkeypatch
):
    from registry.client.inputs import InputItem
    from registry.client.run import Outputs, RunState, ScreeningRun
    from registry.client.shards import registry_version
    from tests.api.conftest import image_bytes

    monkeypatch.setattr("registry.api.public.FINGERPRINT_VERSION", FINGERPRINT_VERSION + 1)
    _, key = api_key_create(organization=acme)
    registry = Registry(live_server.url, key, retry_for=5)
    image = tmp_path / "a.jpg"
    image.write_bytes(image_bytes(1))
    outputs = Outputs(tmp_path / "results.jsonl")
    state = RunState(
        api=live_server.url, purpose="ai_training", mode="consent_required", chunk_size=10
    )

    with pytest.raises(ApiError, match=f"version {FINGERPRINT_VERSION + 1}; this client"):
        ScreeningRun(registry, state, outputs, False).run([InputItem(path=str(image), id="a")], [])
    with pytest.raises(ApiError, match="nothing was screened"):
        registry_version(registry)  # a dataset run asks this before its first shard

    assert not outputs.cache.exists()  # nothing was hashed
    assert state.screening_id is None


def _pipelined_items() -> list[dict]:
    """Re-posts of registered works, strangers, an item opted out by its header and an
    unreadable one, spread over six chunks of three."""
    return [
        item("mine", 1),
        item("s-40", 40),
        item("theirs", 2),
        item("s-41", 41),
        item("licensed", 3),
        item("noai", 42, headers={"X-Robots-Tag": "noai"}),
        item("s-43", 43),
        item("mine-again", 1, sha256="ab" * 32),
        {"id": "broken", "unreadable": "cannot identify image file"},
        *(item(f"s-{seed}", seed) for seed in range(44, 53)),
    ]


def _in_chunks(items: list[dict], size: int = 3) -> list[tuple[int, list[dict]]]:
    return [
        (number, items[start : start + size])
        for number, start in enumerate(range(0, len(items), size))
    ]


def _decisions_of(registry: Registry, screening_id: str) -> dict[str, Any]:
    registry.post(f"screenings/{screening_id}/close")
    _decide_pending()
    page = registry.get(f"screenings/{screening_id}/items", params={"page_size": 100})
    listed = {
        entry["id"]: (entry["decision"], entry["reason"], entry["matches"], entry["credit"])
        for entry in page["results"]
    }
    screening = registry.get(f"screenings/{screening_id}")
    return {"listed": listed, "counts": screening["counts"], "progress": screening["progress"]}


@pytest.mark.parametrize("wire", ["binary", "json"])
def test_chunks_sent_two_at_a_time_are_decided_exactly_as_one_after_another(
    live_server, acme, works, wire
):
    _, key = api_key_create(organization=acme)
    registry = Registry(live_server.url, key, retry_for=5)
    chunks = _in_chunks(_pipelined_items())
    outcomes, senders = [], []
    for in_flight in (1, 2, 3):
        sender = ChunkSender(registry, wire=wire)
        created = registry.post("screenings", json={"purpose": "ai_training", "keep_open": True})
        done = list(sender.send_all(created["id"], chunks, in_flight=in_flight))
        assert done == [number for number, _ in chunks]  # in order, each once
        outcomes.append(_decisions_of(registry, created["id"]))
        senders.append(sender)

    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert outcomes[0]["listed"]["mine"][0] == "allowed"
    assert outcomes[0]["listed"]["theirs"][0] == "denied"
    assert outcomes[0]["progress"]["done"] == outcomes[0]["progress"]["total"] == 18
    assert len({tuple(sorted(sender.sent_bytes.items())) for sender in senders}) == 1
    assert len({sender.verified_items for sender in senders}) == 1


class _FailsOnce(ChunkSender):
    """A sender whose chunk `failing` is refused the first time it is sent (the registry
    went away, say): the error reaches the caller as it would from any chunk."""

    def __init__(self, *args, failing: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.failing, self.failed = failing, False
        self.started: list[int] = []

    def send(self, screening_id, number, items) -> None:
        self.started.append(number)
        if number == self.failing and not self.failed:
            self.failed = True
            raise ApiError(f"chunk {number}: the registry went away")
        super().send(screening_id, number, items)


@pytest.mark.parametrize("failing", [0, 2, 5])
def test_a_chunk_that_fails_mid_pipeline_loses_nothing_and_the_run_resumes(
    live_server, acme, works, failing
):
    """The chunks before the failed one are reported sent; the failed one and those in
    flight beside it are not, so the resumed run sends them (again): every item is decided,
    once, exactly as in a run that never failed."""
    _, key = api_key_create(organization=acme)
    registry = Registry(live_server.url, key, retry_for=5)
    chunks = _in_chunks(_pipelined_items())
    created = registry.post("screenings", json={"purpose": "ai_training", "keep_open": True})
    sender = _FailsOnce(registry, failing=failing)
    sent: list[int] = []

    with pytest.raises(ApiError, match="went away"):
        for number in sender.send_all(created["id"], chunks):
            sent.append(number)
    assert sent == list(range(failing))
    # The resumed run: what was not reported sent goes again, some of it a second time.
    sent += sender.send_all(created["id"], [chunk for chunk in chunks if chunk[0] not in sent])
    resumed = _decisions_of(registry, created["id"])

    other = registry.post("screenings", json={"purpose": "ai_training", "keep_open": True})
    list(ChunkSender(registry).send_all(other["id"], chunks, in_flight=1))
    assert sorted(sent) == [number for number, _ in chunks]
    assert resumed == _decisions_of(registry, other["id"])
    assert resumed["progress"]["done"] == resumed["progress"]["total"] == 18


def test_a_run_stopped_mid_pipeline_resumes_from_the_chunks_it_recorded(
    live_server, acme, works, tmp_path
):
    """The screen command records a chunk as sent only once the registry has all it needs:
    stopped by a failure with two chunks in flight, the same command finishes the screening."""
    from registry.client.run import Outputs, RunState, ScreeningRun

    _, key = api_key_create(organization=acme)
    items = _pipelined_items()
    state = RunState(
        api=live_server.url, purpose="ai_training", mode="consent_required", chunk_size=3
    )
    run = ScreeningRun(
        Registry(live_server.url, key, retry_for=5), state, Outputs(tmp_path / "r.jsonl"), False
    )
    run.chunks = _FailsOnce(run.registry, failing=3)
    screening_id = run._start()

    with pytest.raises(ApiError, match="went away"):
        run._send(screening_id, items)
    assert sorted(state.sent_chunks) == [0, 1, 2] and not state.closed
    run._send(screening_id, items)
    _decide_pending()

    screening = run.registry.get(f"screenings/{screening_id}")
    assert sorted(state.sent_chunks) == list(range(6)) and state.closed
    assert screening["status"] == "finished"
    assert screening["progress"]["done"] == screening["progress"]["total"] == 18
