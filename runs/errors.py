"""Errors of runs and capture bundles; the API answers each as `{"code", "message", …details}`."""

from __future__ import annotations

from sessions.errors import ServiceError


class FlowRejected(ServiceError):
    """The flow does not parse or validate; `errors` lists every problem with its line."""

    code = "invalid_flow"
    status = 400


class BundleInvalid(ServiceError):
    code = "invalid_bundle"
    status = 400
