"""Canonical tables (appointments, claims): schemas, reference data, loaders, synthetic generators."""
