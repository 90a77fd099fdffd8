"""What the session layer tells the layers above it, which it never imports (docs/architecture.md).

Both are sent inside the transaction that makes the change, so a receiver's writes commit with it.
"""

from django.dispatch import Signal

session_ended = Signal()
"""A session reached COMPLETED, FAILED or CANCELLED. Arguments: `session` (locked in the transaction)."""

input_answered = Signal()
"""An `ask_user` step got its answer (or was cancelled). Arguments: `session`, `step`."""
