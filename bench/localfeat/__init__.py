"""Local features with an inverted index and geometric verification: a measured prototype."""
