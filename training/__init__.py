"""Fitting, evaluation, MLflow logging and registration, and the careops command line."""
