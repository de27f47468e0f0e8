"""Synthetic generators that record each row's true probability beside the canonical columns."""
