"""Request parsers: DRF's own, with a clear 400 where theirs fails with a server error."""

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from registry.chunk_wire import (
    HASHES_MEDIA_TYPE,
    VERIFICATION_MEDIA_TYPE,
    WireFormatError,
    unpack,
)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than Python's decoder can follow
    (DRF lets the decoder's RecursionError through, a 500)."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None


class MessagePackParser(parsers.BaseParser):
    """A MessagePack body (registry.chunk_wire), decoded with a clear 400 when it is not one."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return unpack(stream.read() if stream is not None else b"")
        except WireFormatError as error:
            raise ParseError(f"MessagePack parse error - {error}") from None


class HashesParser(MessagePackParser):
    media_type = HASHES_MEDIA_TYPE


class VerificationParser(MessagePackParser):
    media_type = VERIFICATION_MEDIA_TYPE
