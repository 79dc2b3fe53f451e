"""Load on the AI teams' API, as `python -m bench.load` runs it (locust, headless).

Each simulated client is an AI team's process holding an API key. Most of its calls are the
synchronous check of a batch of items (100, as an interactive tool sends; now and then
1,000, the published maximum); some read the matching configuration; some run a whole small
screening (create with items, poll, read the decisions back). Items are the runner's: a
fifth are re-posts of registered works, the rest strangers.

Environment: LOAD_API_KEY, LOAD_ITEMS (a JSON file of items), LOAD_HOST_HEADER.
"""

import json
import os
import random
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

ITEMS: list[dict[str, Any]] = json.loads(Path(os.environ["LOAD_ITEMS"]).read_text())
HEADERS = {
    "Authorization": f"Api-Key {os.environ['LOAD_API_KEY']}",
    "Host": os.environ.get("LOAD_HOST_HEADER", "consentry.test"),
    "X-Forwarded-Proto": "https",
}


def _batch(size: int) -> list[dict[str, Any]]:
    start = random.randrange(0, len(ITEMS) - size)
    return ITEMS[start : start + size]


class AiTeam(HttpUser):
    wait_time = between(0.05, 0.25)

    def _check(self, size: int) -> None:
        body = {"purpose": "ai_training", "items": _batch(size)}
        name = f"POST /api/v1/check ({size} items)"
        with self.client.post(
            "/api/v1/check", json=body, headers=HEADERS, name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
            elif len(response.json()["items"]) != size:
                response.failure("an item is missing from the answer")

    @task(20)
    def check_100(self) -> None:
        self._check(100)

    @task(2)
    def check_1000(self) -> None:
        self._check(1000)

    @task(3)
    def matching(self) -> None:
        self.client.get("/api/v1/matching", headers=HEADERS, name="GET /api/v1/matching")

    @task(1)
    def screening(self) -> None:
        items = _batch(500)
        created = self.client.post(
            "/api/v1/screenings",
            json={"purpose": "ai_training", "items": items},
            headers=HEADERS,
            name="POST /api/v1/screenings (500 items)",
        )
        if created.status_code != 202:
            return
        url = f"/api/v1/screenings/{created.json()['id']}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = self.client.get(url, headers=HEADERS, name="GET /api/v1/screenings/{id}")
            if status.status_code == 200 and status.json()["status"] == "finished":
                break
            time.sleep(0.5)
        with self.client.get(
            f"{url}/items",
            headers={**HEADERS, "Accept": "application/x-ndjson"},
            name="GET /api/v1/screenings/{id}/items (ndjson)",
            catch_response=True,
        ) as response:
            lines = [line for line in response.text.splitlines() if line]
            if response.status_code != 200 or len(lines) != len(items):
                response.failure(f"{len(lines)} decisions for {len(items)} items")
