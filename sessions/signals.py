"""What the session layer tells the layers above it, which it never imports (docs/architecture.md).

The first two are sent inside the transaction that makes the change, so a receiver's writes commit with it.
"""

from django.dispatch import Signal

session_ended = Signal()
"""A session reached COMPLETED, FAILED or CANCELLED. Arguments: `session` (locked in the transaction)."""

input_answered = Signal()
"""An `ask_user` step got its answer (or was cancelled). Arguments: `session`, `step`."""

lane_recovered = Signal()
"""A device's new worker took its lane over (its predecessor died, or the stack started again): a task that was
on its way through the device's queue for this session (a chat turn's drain, with the rest of its chain) may be
lost. Sent after the lane's own recovery, outside any transaction. Arguments: `session_id`."""
