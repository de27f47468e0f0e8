"""Tests for training."""
