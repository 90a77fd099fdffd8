"""Django middleware of the web process."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.deprecation import MiddlewareMixin


class NulPathMiddleware(MiddlewareMixin):
    """A path holding a NUL (`%00`) names nothing: a 404 (`not_found` for the API) before any view runs.

    No id, serial or hash holds one, and PostgreSQL refuses NUL in text (a DataError, a 500 once);
    the WebSocket routing does the same check (cognisim_site/asgi.py).
    """

    def process_request(self, request: Any) -> None:
        if "\x00" in request.path:
            raise Http404("No such resource.")
