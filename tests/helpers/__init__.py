"""What several test modules share: fakes, fixtures and sample data (no tests live here)."""
