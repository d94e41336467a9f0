"""What a verifier engine implements (:class:`Transcriber`), and a local one over faster-whisper.

A transcriber turns a clip into the text it says (:class:`Heard`), with what that cost in credits:
ElevenLabs speech-to-text bills by duration, a local engine costs nothing. :class:`WhisperTranscriber`
runs faster-whisper (the optional ``whisper`` extra, imported only here and only when a transcriber is
made) with a model the user names: a size such as ``"small"`` or the path of a converted model.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from batchtts.exceptions import UsageError

__all__ = ["INSTALL_HINT", "Heard", "Transcriber", "WhisperTranscriber", "require_whisper"]

INSTALL_HINT = "pip install 'batchtts[whisper]'"


@dataclass(frozen=True, slots=True, kw_only=True)
class Heard:
    """What a transcriber heard in a clip."""

    text: str
    language_code: str | None  # the language it heard (or was told), when it says
    credits: float  # what the transcription cost; 0 for a local engine


class Transcriber(Protocol):
    """A speech-to-text engine that verification can use."""

    async def transcribe(self, audio: Path, *, language_code: str | None) -> Heard:
        """The text spoken in ``audio``; ``language_code`` (ISO 639, "en") when the text's is known."""
        ...


DEFAULT_WHISPER_MODEL = "small"  # multilingual, and fast enough on a CPU to keep up with a run
VERIFIERS = ("api", "whisper", "whisper:MODEL")  # what --verifier takes


def whisper_model(verifier: str) -> str | None:
    """The Whisper model ``--verifier`` names (``whisper`` → the default), or None for ``api``.

    Raises ValueError for anything else, naming what is accepted.
    """
    if verifier == "api":
        return None
    kind, colon, model = verifier.partition(":")
    if kind == "whisper" and (not colon or model.strip()):
        return model.strip() or DEFAULT_WHISPER_MODEL
    msg = (
        f"unknown verifier {verifier!r}: use {', '.join(VERIFIERS)} "
        "(MODEL a size such as large-v3, or a model folder)"
    )
    raise ValueError(msg)


def require_whisper() -> None:
    """Raise UsageError (naming ``pip install 'batchtts[whisper]'``) unless faster-whisper is installed."""
    if importlib.util.find_spec("faster_whisper") is None:
        msg = (
            "verifying with Whisper needs faster-whisper, which is not installed; "
            f"install it with: {INSTALL_HINT}"
        )
        raise UsageError(msg)


class WhisperTranscriber:
    """A local :class:`Transcriber`: faster-whisper, its blocking calls run in a worker thread.

    The model is loaded on the first transcription, once. ``condition_on_previous_text`` is off: fed
    its own earlier output, Whisper can loop on a phrase, which would read as a repeat the clip does
    not have.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        device: str = "auto",
        compute_type: str = "default",
        beam_size: int = 5,
        local_files_only: bool = False,
    ) -> None:
        """``model``: a size ("small", "large-v3") or the folder of a CTranslate2 model."""
        require_whisper()
        self._model_name = str(model)
        self._device = device
        self._compute_type = compute_type
        self._beam_size = beam_size
        self._local_files_only = local_files_only
        self._model: Any = None  # faster_whisper.WhisperModel, once loaded
        self._failed: UsageError | None = None  # why it cannot load: said once, not tried per clip
        self._loading = asyncio.Lock()

    async def load(self) -> None:
        """Load the model now (UsageError when it cannot be), before a run bills anything."""
        await self._loaded()

    async def transcribe(self, audio: Path, *, language_code: str | None) -> Heard:
        """The text spoken in ``audio``, heard in a worker thread; free."""
        model = await self._loaded()
        text, language = await asyncio.to_thread(self._transcribe, model, audio, language_code)
        return Heard(text=text, language_code=language, credits=0.0)

    async def _loaded(self) -> Any:
        async with self._loading:
            if self._failed is not None:
                raise self._failed
            if self._model is None:
                try:
                    self._model = await asyncio.to_thread(self._load)
                except UsageError as exc:
                    self._failed = exc
                    raise
            return self._model

    def _load(self) -> Any:
        faster_whisper = importlib.import_module("faster_whisper")
        try:
            return faster_whisper.WhisperModel(
                self._model_name,
                device=self._device,
                compute_type=self._compute_type,
                local_files_only=self._local_files_only,
            )
        except (OSError, ValueError, RuntimeError) as error:
            msg = f"cannot load the Whisper model {self._model_name!r}: {error}"
            raise UsageError(msg) from error

    def _transcribe(self, model: Any, audio: Path, language_code: str | None) -> tuple[str, str | None]:
        # Whisper knows languages by their two-letter codes; given another, it detects the language.
        language_hint = language_code if language_code is not None and len(language_code) == 2 else None
        segments, info = model.transcribe(
            str(audio),
            language=language_hint,
            beam_size=self._beam_size,
            condition_on_previous_text=False,
        )
        # The segments are a generator: the audio is decoded as they are read, here in the thread.
        text = " ".join(segment.text.strip() for segment in segments)
        language = getattr(info, "language", None)
        return text, language if isinstance(language, str) else language_code
