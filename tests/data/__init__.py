"""Tests for data."""
