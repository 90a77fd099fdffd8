"""The ASGI handler: a body sent without a `Content-Length` (`Transfer-Encoding: chunked`) is read in full.

Django's ASGIRequest takes `CONTENT_LENGTH` from the headers only, and DRF reads no body when it is
absent (0), though daphne delivered the whole body. Here the length of the spooled body stands in
for the missing header, so the body is parsed and MAX_REQUEST_BYTES (the 413 `request_too_large`)
applies to it as to any other.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.handlers.asgi import ASGIHandler, ASGIRequest


class SpooledLengthRequest(ASGIRequest):
    def __init__(self, scope: dict[str, Any], body_file: Any) -> None:
        super().__init__(scope, body_file)
        if "CONTENT_LENGTH" not in self.META:
            size = body_file.seek(0, os.SEEK_END)
            body_file.seek(0)
            if size:
                self.META["CONTENT_LENGTH"] = str(size)


class CogniSimASGIHandler(ASGIHandler):
    request_class = SpooledLengthRequest
