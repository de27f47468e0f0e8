"""Tests for serving."""
