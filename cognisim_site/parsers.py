"""The API's one request parser: JSON, read with limits (core/jsonsafe.py), refused as the API's JSON errors."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser

from core.jsonsafe import JsonRefused, json_load


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is too large."


class BodyRefused(exceptions.ParseError):
    """A body that is JSON but cannot be taken (too deep, NUL or lone surrogates); `code` says which."""

    def __init__(self, refused: JsonRefused) -> None:
        super().__init__(refused.message, code=refused.code)
        self.default_code = refused.code
        self.field = refused.field


class SafeJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        raw = stream.read(limit + 1) if stream is not None else b""
        try:
            return json_load(raw, max_bytes=limit, max_depth=settings.API_MAX_JSON_DEPTH)
        except JsonRefused as exc:
            if exc.code == "request_too_large":
                raise RequestTooLarge(f"The request body is larger than {limit} bytes.") from None
            if exc.code == "parse_error":
                raise exceptions.ParseError(f"JSON parse error - {exc.message}") from None
            raise BodyRefused(exc) from None
