"""Feature transformers that turn canonical tables (or API records) into model inputs."""
