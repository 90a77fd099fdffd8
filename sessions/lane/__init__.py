"""The device lane: the worker side of a session, the one owner of its device's queue (docs/architecture.md).

`drain` drains a session's work in order under the device's lease and applies its policy; `run` runs
one step on the device and records it.
"""
