"""Machine-readable opt-outs: read every standard from images and downloads, fail closed,
and emit them for artists.

Plain Python, no Django: the server, the client and the tests import it alike.
See docs/standards.md for every signal, its mapping to purposes and the wire shapes.
"""

from registry.optout.emit import (
    TaggedImage,
    ai_txt,
    data_mining_value,
    header_lines,
    image_with_data_mining,
    reserved_purposes,
    tdmrep_files,
    tdmrep_json,
    tdmrep_rules,
)
from registry.optout.headers import (
    DEFAULT_USER_AGENT,
    SIGNAL_HEADERS,
    UNREADABLE_HEADERS,
    headers_from_img2dataset_sidecar,
    read_headers,
)
from registry.optout.iptc import XmpWriteError, write_data_mining
from registry.optout.prefixes import (
    PrefixError,
    normalize_prefix,
    url_digest,
    url_key,
    url_matches_prefix,
)
from registry.optout.purposes import (
    AI_GENERATIVE_TRAINING,
    AI_INFERENCE,
    AI_TRAINING,
    ALL_PURPOSES,
    DATA_MINING,
    PURPOSES,
    Reservation,
    denied_purposes,
)
from registry.optout.wire import (
    embedded_reservations,
    embedded_to_wire,
    read_image,
    reservations_from_wire,
    summarize,
)

__all__ = [
    "AI_GENERATIVE_TRAINING",
    "AI_INFERENCE",
    "AI_TRAINING",
    "ALL_PURPOSES",
    "DATA_MINING",
    "DEFAULT_USER_AGENT",
    "PURPOSES",
    "SIGNAL_HEADERS",
    "UNREADABLE_HEADERS",
    "PrefixError",
    "Reservation",
    "TaggedImage",
    "XmpWriteError",
    "ai_txt",
    "data_mining_value",
    "denied_purposes",
    "embedded_reservations",
    "embedded_to_wire",
    "header_lines",
    "headers_from_img2dataset_sidecar",
    "image_with_data_mining",
    "normalize_prefix",
    "read_headers",
    "read_image",
    "reservations_from_wire",
    "reserved_purposes",
    "summarize",
    "tdmrep_files",
    "tdmrep_json",
    "tdmrep_rules",
    "url_digest",
    "url_key",
    "url_matches_prefix",
    "write_data_mining",
]
