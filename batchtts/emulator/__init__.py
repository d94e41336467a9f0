"""An offline stand-in for the ElevenLabs HTTP API (placeholder: being written)."""
