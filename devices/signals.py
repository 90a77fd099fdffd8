"""What the device layer tells the layers above it, which it never imports.

Sent inside the transaction that makes the change, so a receiver's writes commit with it.
"""

from django.dispatch import Signal

device_went_offline = Signal()
"""A device went offline. Arguments: `device` (locked in the transaction), `reason` (words for people)."""
