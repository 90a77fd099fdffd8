"""The OpenAPI document tells the truth about errors: every status an operation answers, with its body.

drf-spectacular describes each view's success answer from its serializers; this post-processing hook
adds the error answers, all with the API's one error body (`Error`: `{"code", "message", "field"?,
…details}`, cognisim_site/errors.py):

- every operation that needs a token: 401 (no or a bad token);
- every operation with a JSON body: 400 (unreadable, too deep, bad characters, invalid fields),
  413 (over MAX_REQUEST_BYTES) and 415 (a body that is not `application/json`: text, a form); with
  query parameters: 400;
- every operation on a path with ids: 404 (no such thing, or someone else's);
- and each operation's own, from `OWN_ERRORS` below (checked against the code by schemathesis in
  `.ci/run`).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error: a machine-readable `code`, a message for people, the field at fault if one "
    "is, and details some errors add (`limit` of a cap, `errors` of a flow).",
    "properties": {
        "code": {"type": "string", "examples": ["invalid", "not_found", "session_limit"]},
        "message": {"type": "string"},
        "field": {"type": "string", "description": "The request field at fault (dotted), when one is."},
    },
    "required": ["code", "message"],
    "additionalProperties": True,
}

WHY = {
    400: "The request is not valid (the body, a field, a query parameter); `field` names it.",
    401: "No token, or not a valid one.",
    403: "The token may not do this.",
    404: "No such resource, or not yours.",
    409: "The resource is not in a state that allows this.",
    413: "The body is larger than MAX_REQUEST_BYTES.",
    415: "`unsupported_media_type`: the body is not sent as `Content-Type: application/json`.",
    429: "A per-user cap is reached; `limit` says which number.",
}

# The errors each operation answers besides the ones every operation of its kind does (see above).
OWN_ERRORS: dict[str, dict[int, str]] = {
    "sessions_create": {
        404: "`not_found`: no such device.",
        409: "`device_busy`, `device_unavailable`, `no_device_available` (without `queue`).",
        429: "`session_limit` (active sessions) or `waiting_limit` (sessions waiting for a device).",
    },
    "sessions_steps_create": {
        409: "`session_closed`, `device_busy` (an idle session whose device is taken), or `session_runs_a_flow` "
        "(a CI run's session takes no other step).",
    },
    "sessions_events_retrieve": {
        409: "`past_last_seq`: `after` is past the session's last event; `last_seq` says where it is."
    },
    "sessions_input_create": {
        409: "`input_not_expected`: the session is not waiting for that input; `session_closed`: it has ended."
    },
    "sessions_turns_create": {
        409: "`session_closed`, a turn already in progress, or `session_runs_a_flow` (a CI run's session)."
    },
    "runs_create": {
        400: "`invalid_flow`, with `errors` (file, line, column, message).",
        404: "`not_found`: no such device.",
        409: "`device_unavailable`: the named device is offline or in maintenance.",
        429: "`run_limit` (runs in flight) or `waiting_limit`.",
    },
    "replays_create": {
        400: "`invalid_bundle`: the bundle's shape, its steps, or an effect hash that does not match.",
        404: "`not_found`: no such device.",
        409: "`device_unavailable`.",
        429: "`run_limit` or `waiting_limit`.",
    },
    "flows_create": {400: "`invalid_flow` or `invalid_cron`.", 409: "`flow_exists`: you have a flow of that name."},
    "flows_run_create": {
        404: "`not_found`: no such flow, or its device.",
        409: "`device_unavailable`.",
        429: "`run_limit` or `waiting_limit`.",
    },
    "flows_trigger_create": {
        401: "`signature_missing`: no signature or bearer secret, or no valid timestamp and delivery id.",
        403: "`signature_invalid` (also for an unknown flow) or `signature_expired` (outside the replay window).",
        404: "`not_found`: the flow's device.",
        409: "`flow_disabled`, `duplicate_delivery` (a delivery id already received) or `device_unavailable`.",
        429: "`run_limit` or `waiting_limit`.",
    },
    "devices_register_create": {
        403: "`permission_denied` (not a host agent's token) or `host_mismatch` (another host named).",
        409: "`device_of_another_host`: another host has the device online.",
    },
    "devices_heartbeat_create": {403: "`permission_denied` or `host_mismatch`."},
    "devices_offline_create": {403: "`permission_denied`: not a host agent's token."},
}


class StrictSerializerExtension(OpenApiSerializerExtension):
    """A StrictSerializer refuses fields it does not know: its schema says so (`additionalProperties: false`)."""

    target_class = "core.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


def _openapi_30(schema: Any) -> None:
    """JSON Schema 2020-12 keywords pydantic writes, in their OpenAPI 3.0 form (numeric exclusive bounds)."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for keyword, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
                value = node.get(keyword)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    node[bound] = value - 1 if keyword == "exclusiveMaximum" else value + 1
                    del node[keyword]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    _openapi_30(result["components"]["schemas"])
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            statuses: dict[int, str] = {}
            parameters = operation.get("parameters", [])
            if any(security for security in operation.get("security", [{}]) if security):
                statuses[401] = WHY[401]
            if "requestBody" in operation:
                statuses[400] = WHY[400]
                statuses[413] = WHY[413]
                statuses[415] = WHY[415]
                body = operation["requestBody"]
                if any("oneOf" in media.get("schema", {}) for media in body.get("content", {}).values()):
                    body["required"] = True  # a body given as alternatives (each with required fields) is needed
            if any(p.get("in") == "query" for p in parameters):
                statuses[400] = WHY[400]
            if any(p.get("in") == "path" for p in parameters):
                statuses[404] = WHY[404]
            for status, why in OWN_ERRORS.get(operation.get("operationId", ""), {}).items():
                statuses[status] = f"{WHY[status]} {why}"
            responses = operation.setdefault("responses", {})
            for status, why in sorted(statuses.items()):
                responses.setdefault(str(status), _response(why))
    return result
