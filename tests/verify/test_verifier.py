"""The local Whisper transcriber is an optional extra: missing, it says how to install it."""

from __future__ import annotations

import importlib.util

import pytest

from batchtts.exceptions import UsageError
from batchtts.verify.verifier import Heard, WhisperTranscriber


@pytest.mark.skipif(
    importlib.util.find_spec("faster_whisper") is not None, reason="faster-whisper is installed"
)
def test_whisper_without_the_extra_names_the_install_command() -> None:
    """Asking for Whisper without faster-whisper is a usage error naming the extra, before any work."""
    with pytest.raises(UsageError, match=r"pip install 'batchtts\[whisper\]'"):
        WhisperTranscriber("small")


def test_heard_is_a_record() -> None:
    """What a transcriber heard is immutable, with its cost."""
    heard = Heard(text="hello", language_code="en", credits=0.0)
    with pytest.raises(AttributeError):
        heard.text = "changed"  # type: ignore[misc]
    assert heard == Heard(text="hello", language_code="en", credits=0.0)
