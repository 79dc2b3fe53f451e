"""Request input taken exactly as the schema describes it."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

# The one definition of a licence's shape; services.terms refuses any other.
from registry.services.terms import LICENSE_PATTERN, validate_license


class StrictCharField(serializers.CharField):
    """A string, and only a string. DRF's CharField turns a JSON number into its digits, which
    hides a client's mistake and accepts what the schema (type: string) refuses."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        text: str = super().to_internal_value(data)
        return text


class StrictBooleanField(serializers.BooleanField):
    """true or false: JSON's, or a form's text for them. DRF's BooleanField also reads 0, 1,
    "yes", "on" and more, which the schema (type: boolean) refuses."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        if data in ("true", "false"):
            return bool(data == "true")
        self.fail("invalid", input=data)


def refuse_empty(request: Request, *names: str) -> None:
    """A query parameter given empty is refused, not read as absent: the client meant one."""
    empty = [name for name in names if request.query_params.get(name) == ""]
    if empty:
        raise serializers.ValidationError(
            {name: [f"{name} is empty; leave it out or give a value."] for name in empty}
        )


@extend_schema_field(
    {
        "type": "string",
        "maxLength": 100,
        "pattern": LICENSE_PATTERN.pattern,  # allow_blank adds "" as the other oneOf
        "description": "An SPDX licence id (CC-BY-4.0), a LicenseRef- or DocumentRef- id, or "
        "a grant reference; empty for none.",
    }
)
class LicenseField(StrictCharField):
    """A licence, in the shape the terms service checks. Checked here as well, so that an
    upload refuses a bad licence once, before any file, instead of once per file."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=100,
            required=False,
            default="",
            allow_blank=True,
            validators=[validate_license],  # the service's own check, and its message
            **kwargs,
        )


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file part of a multipart request. The schema does not split request and response
    components, so a plain FileField would be documented as the URL it reads back as. An empty
    file passes: it is refused on its own, in the results, like any file that is no image."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_empty_file=True, **kwargs)
