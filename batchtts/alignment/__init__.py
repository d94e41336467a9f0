"""Timings: with-timestamps streams decoded, fitted to the text, grouped into words and captions."""
