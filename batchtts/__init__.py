"""batchtts: render speech in bulk through the ElevenLabs HTTP API."""

from __future__ import annotations

__version__ = "0.1.0"
