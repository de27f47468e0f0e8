"""careops test suite, mirroring the packages."""
