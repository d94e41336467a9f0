"""Text: sentence boundaries and abbreviations (one table), and splitting text into requests."""
