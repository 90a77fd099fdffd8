"""Errors of runs and capture bundles; the API answers each as `{"code", "message", …details}`."""

from __future__ import annotations

from core.errors import ServiceError


class FlowRejected(ServiceError):
    """The flow does not parse or validate; `errors` lists every problem with its line."""

    code = "invalid_flow"
    status = 400


class RunLimit(ServiceError):
    """A user's runs in flight (running or waiting for a device) are capped (MAX_RUNS_IN_FLIGHT_PER_USER)."""

    code = "run_limit"
    status = 429


class BundleInvalid(ServiceError):
    code = "invalid_bundle"
    status = 400


class CronRejected(ServiceError):
    code = "invalid_cron"
    status = 400


class DeviceUnknown(ServiceError):
    """A run (and its dry run) or saved flow naming a device there is not: a bad field of the body,
    refused before anything starts or is saved."""

    code = "invalid"
    status = 400


class FlowExists(ServiceError):
    code = "flow_exists"
    status = 409


class FlowDisabled(ServiceError):
    code = "flow_disabled"
    status = 409


class SignatureMissing(ServiceError):
    """A webhook call with neither `X-CogniSim-Signature` nor `Authorization: Bearer`."""

    code = "signature_missing"
    status = 401


class SignatureInvalid(ServiceError):
    code = "signature_invalid"
    status = 403


class SignatureExpired(ServiceError):
    """A signed webhook whose timestamp is outside the replay window (WEBHOOK_TOLERANCE_SECONDS)."""

    code = "signature_expired"
    status = 403


class DeliveryDuplicate(ServiceError):
    """A signed webhook delivery id that this flow already received."""

    code = "duplicate_delivery"
    status = 409
