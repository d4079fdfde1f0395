"""The ``freightyard`` CLI and the promotion controller."""
