"""Consentry inside datadiligence, Spawning's opt-out package used with img2dataset.

After `register(api=..., key=..., purpose=...)` a team's existing calls consult the registry:
`dd.is_allowed(urls=[...])` and `dd.filter_allowed(urls=[...])` through the URL check, and
`dd.is_allowed(name="consentry", body=image_bytes)` (or `path=`) through a fingerprint check
made locally. Errors propagate: an unreachable registry (retried for `retry_for` seconds, each
attempt said on stderr) raises RegistryUnreachable and never reads as "allowed".
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import datadiligence as dd
from datadiligence.evaluators import Evaluator
from datadiligence.rules import BulkRule, Rule

from registry.client.api import Registry
from registry.client.batch import fingerprint_one
from registry.client.urls import check_urls

NAME = "consentry"


class ConsentryUrlRule(BulkRule):
    """A URL is allowed unless the registry denies it: an `unknown` URL may still be a
    registered work, which the image check finds once it is downloaded."""

    def __init__(self, registry: Registry, purpose: str, mode: str) -> None:
        super().__init__()
        self.registry, self.purpose, self.mode = registry, purpose, mode

    def is_ready(self) -> bool:
        return True

    def is_allowed(
        self, urls: Sequence[str] | None = None, url: str | None = None, **kwargs: Any
    ) -> list[bool] | bool:
        if url is not None:
            return self._decisions([url])[0] != "denied"
        return [decision != "denied" for decision in self._decisions(list(urls or []))]

    def filter_allowed(self, urls: Sequence[str] | None = None, **kwargs: Any) -> list[str]:
        urls = list(urls or [])
        decisions = self._decisions(urls)
        return [url for url, decision in zip(urls, decisions, strict=True) if decision != "denied"]

    def _decisions(self, urls: list[str]) -> list[str]:
        answers = check_urls(self.registry, purpose=self.purpose, mode=self.mode, urls=urls)
        return [answer["decision"] for answer in answers]


class ConsentryImageRule(Rule):
    """An image is allowed when the gatekeeper's decision for it passes in the mode; an image
    that cannot be read or fingerprinted is not."""

    def __init__(self, registry: Registry, purpose: str, mode: str) -> None:
        super().__init__()
        self.registry, self.purpose, self.mode = registry, purpose, mode

    def is_ready(self) -> bool:
        return True

    def is_allowed(
        self,
        body: bytes | None = None,
        path: str | Path | None = None,
        url: str | None = None,
        **kwargs: Any,
    ) -> bool:
        if body is None and path is None:
            raise ValueError("the Consentry image check needs body= or path=")
        data = body if body is not None else Path(str(path)).read_bytes()
        # The fingerprint and the opt-outs embedded in the file (C2PA, IPTC), as every other
        # client path sends them: an artist's embedded reservation denies here too.
        wire = fingerprint_one(data)
        if "unreadable" in wire:
            return False
        item: dict[str, Any] = {"id": "item", **wire, **({"url": url} if url else {})}
        request: dict[str, Any] = {"purpose": self.purpose, "mode": self.mode, "items": [item]}
        answer = self.registry.post("check", json=request)
        return bool(answer["items"][0]["passes"])


class ConsentryEvaluator(Evaluator):
    name = NAME

    def __init__(self, url_rule: ConsentryUrlRule, image_rule: ConsentryImageRule) -> None:
        super().__init__()
        self.url_rule, self.image_rule = url_rule, image_rule
        self.rules = [url_rule, image_rule]

    def is_allowed(self, **kwargs: Any) -> list[bool] | bool:
        if "urls" in kwargs:
            return self.url_rule.is_allowed(**kwargs)
        if "body" in kwargs or "path" in kwargs:
            return self.image_rule.is_allowed(**kwargs)
        return self.url_rule.is_allowed(**kwargs)

    def filter_allowed(self, urls: Sequence[str] | None = None, **kwargs: Any) -> list[str]:
        return self.url_rule.filter_allowed(urls=urls)


def register(
    *,
    api: str,
    key: str,
    purpose: str,
    mode: str = "consent_required",
    into_defaults: bool = True,
    retry_for: float = 30,
) -> ConsentryEvaluator:
    """Register the "consentry" evaluator; with `into_defaults`, also add the URL rule to
    datadiligence's default "preprocess" evaluator, so that plain `dd.is_allowed(urls=...)`
    and `dd.filter_allowed(urls=...)` calls consult the registry too."""
    registry = Registry(api, key, retry_for=retry_for)
    url_rule = ConsentryUrlRule(registry, purpose, mode)
    evaluator = ConsentryEvaluator(url_rule, ConsentryImageRule(registry, purpose, mode))
    dd.register_evaluator(evaluator, name=NAME, overwrite=True)
    if into_defaults:
        preprocess = dd.get_evaluator("preprocess")
        preprocess.rules = [r for r in preprocess.rules if not isinstance(r, ConsentryUrlRule)]
        preprocess.add_rule(url_rule)
    return evaluator
