"""Decisions built on probabilities: risk bands, the session model, overbooking, denial fixes, worklist."""
