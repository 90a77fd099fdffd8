"""The IDE's one server-side form: open a session on a device."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from core.steps import PACKAGE_RE
from devices.models import Device

ANY_DEVICE = ""


class SessionOpenForm(forms.Form):
    device = forms.ChoiceField(label="Device", required=False)
    name = forms.CharField(label="Session name", required=False, max_length=200)
    app = forms.RegexField(
        label="App to open (package)",
        regex=PACKAGE_RE,
        required=False,
        max_length=255,
        error_messages={"invalid": "That is not an Android package name (like com.example.app)."},
    )

    def __init__(self, *args: Any, devices: Iterable[Device] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(ANY_DEVICE, "Any free device")]
        for device in devices:
            label = f"{device.name or device.serial} — {device.status}"
            choices.append((device.serial, label))
        self.fields["device"].choices = choices  # type: ignore[attr-defined]
