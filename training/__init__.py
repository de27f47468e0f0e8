"""Fitting, evaluation, backtests, reports, MLflow logging, promotion and Dask batch scoring."""
