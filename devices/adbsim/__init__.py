"""A simulated phone that a real adb server can `adb connect` to (see `AdbSimPhone`)."""

from .server import AdbSimPhone

__all__ = ["AdbSimPhone"]
