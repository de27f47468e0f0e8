"""Canonical data: schemas, loaders with quarantine, X12, synthetic generators and the service's stores."""
