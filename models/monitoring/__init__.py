"""Monitoring: reference profiles, the prediction log's contents, drift and performance estimates."""
