"""Structured logs: one JSON object per line, for the web server, the worker and beat alike.

Log collectors (Docker's json-file driver, journald, Loki, CloudWatch) index these fields
instead of parsing prose. `LOG_FORMAT=plain` keeps the human format for a terminal.
"""

import json
import logging
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
# Django puts the request object itself on django.request records: not a loggable value.
_NOT_LOGGED = frozenset({"request", "server_time", "taskName"})

# gunicorn hands its access log the request's "atoms": these are the ones worth a field.
_ACCESS_FIELDS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "q": "query",
    "H": "protocol",
    "s": "status",
    "B": "response_bytes",
    "a": "user_agent",
    "{x-forwarded-for}i": "forwarded_for",
    "{x-request-id}i": "request_id",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry.update(_access_fields(record.args))
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in _NOT_LOGGED:
                entry[key] = _loggable(value)
        status_code = getattr(record, "status_code", None)
        if status_code is not None:
            entry["status"] = status_code
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, ensure_ascii=False, default=str)


def _access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    fields = {name: atoms.get(atom) for atom, name in _ACCESS_FIELDS.items()}
    # "D" is the request time in microseconds; milliseconds read better next to the p95s.
    duration = atoms.get("D")
    if isinstance(duration, int):
        fields["duration_ms"] = round(duration / 1000, 1)
    status = str(fields.get("status") or "")
    if status.isdigit():
        fields["status"] = int(status)
    return {name: value for name, value in fields.items() if value not in (None, "", "-")}


def _loggable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | dict):
        return json.loads(json.dumps(value, default=str))
    return str(value)
