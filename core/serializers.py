"""Request bodies read strictly: unknown fields refused, and every value of the JSON type its schema says.

DRF turns `0` into `"0"` for a CharField, `"5"` into 5 for an IntegerField and `"yes"` into True for
a BooleanField; the OpenAPI document says string, integer and boolean, so those are refused here
(as unknown fields are: a StrictSerializer's schema has `additionalProperties: false`).
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from .jsonsafe import CONTROL_CHARS, control_problem


def _json_type_error(field: serializers.Field, value: Any) -> str | dict[str, Any] | None:
    """Why `value` is not of the JSON type `field` is documented with, or None; for an object's entry, by its
    key (`{"A": ["Must be a string."]}`: the caller is told `env.A`, not only `env`)."""
    if value is None:
        return None  # null: the field's own allow_null decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be an integer."
    if isinstance(field, serializers.FloatField):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else "Must be a number."
    if isinstance(field, serializers.CharField | serializers.ChoiceField):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.DictField):
        if not isinstance(value, dict):
            return "Must be an object."
        for key, item in value.items():
            if why := _json_type_error(field.child, item):
                return {str(key): why if isinstance(why, dict) else [why]}
        return None
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return "Must be a list."
        return next((e for e in (_json_type_error(field.child, v) for v in value) if e), None)
    return None


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, and values not of their documented JSON type, naming the first one."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({unknown[0]: ["Unknown field."]})
            for name, field in self.fields.items():
                if name in data and not field.read_only and (why := _json_type_error(field, data[name])):
                    raise serializers.ValidationError({name: why if isinstance(why, dict) else [why]})
        return super().to_internal_value(data)


class NoControlCharacters(RegexValidator):
    """A name without control characters (they break JUnit XML and the console), the one found named in the error;
    a RegexValidator, so that the OpenAPI document states it as the field's `pattern`."""

    def __init__(self, field: str) -> None:
        super().__init__(regex=rf"^[^{CONTROL_CHARS}]*$")
        self.field = field

    def __call__(self, value: Any) -> None:
        if problem := control_problem(self.field, str(value)):
            raise serializers.ValidationError(problem, code="invalid")
