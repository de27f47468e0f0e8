"""Loaders: files and frames in, validated canonical tables out, bad rows quarantined with a reason."""
