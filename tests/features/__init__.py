"""Tests for features."""
