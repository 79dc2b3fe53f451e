"""The client's run state, as an earlier client version left it beside its results."""

import json

from registry.client.run import RunState

EARLIER = {
    "api": "http://127.0.0.1:8000",
    "purpose": "ai_training",
    "mode": "consent_required",
    "chunk_size": 5000,
    "screening_id": "6db7c79b-f875-4f69-9ee1-2004d3ba9a74",
    "sent_chunks": [0],
    "closed": True,
}


def test_a_finished_run_of_an_earlier_client_counts_as_finished(tmp_path):
    """Its rerun must screen again, not hand back the decisions it wrote."""
    state = tmp_path / "results.state.json"
    state.write_text(json.dumps(EARLIER))
    unwritten = RunState.load(state)
    assert unwritten is not None and not unwritten.finished  # closed; no decisions written yet

    (tmp_path / "results.receipt.json").write_text("{}")

    written = RunState.load(state)
    assert written is not None and written.finished
