from dataclasses import dataclass
from typing import Any

from registry.ledger import GENESIS_HASH
from registry.models import ConsentEvent


@dataclass(frozen=True)
class RegistryVersion:
    """The ledger head: every screening records the version it read."""

    sequence: int
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "hash": self.hash}


def registry_version() -> RegistryVersion:
    head = ConsentEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    if head is None:
        return RegistryVersion(0, GENESIS_HASH)
    return RegistryVersion(*head)
