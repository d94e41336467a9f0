"""Small helpers the emulator's account-behaviour tests share: a client per emulator, one call, uploads."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from batchtts.emulator import Emulator

__all__ = ["BRIAN", "JESSICA", "RACHEL", "call", "client", "silent_wav", "sts_form"]

JESSICA = "cgSgspJ2msm6clMCkdW9"  # a current default voice
BRIAN = "nPczCjzI2devNBz1zQrb"  # another
RACHEL = "21m00Tcm4TlvDq8ikWAM"  # a legacy voice: listed only with show_legacy, still usable by id


@asynccontextmanager
async def client(emu: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    """Start ``emu`` and yield a session that sends its key; both are closed afterwards."""
    async with emu, aiohttp.ClientSession(base_url=emu.base_url, headers={"xi-api-key": emu.api_key}) as api:
        yield api


async def call(api: aiohttp.ClientSession, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    """Status and body: parsed JSON for JSON answers, the bytes otherwise."""
    async with api.request(method, path, **kwargs) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.read()


def silent_wav(seconds: float, rate: int = 8000) -> bytes:
    """8-bit mono WAV of silence: small enough to upload minutes of it."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(b"\x80" * round(seconds * rate))
    return buffer.getvalue()


def sts_form(audio: bytes, **fields: str) -> aiohttp.FormData:
    """A speech-to-speech upload of ``audio`` with these form fields."""
    data = aiohttp.FormData()
    # A file object, not bytes: aiohttp warns on raw bodies over 1 MiB (and warnings are errors here).
    data.add_field("audio", io.BytesIO(audio), filename="input.wav", content_type="audio/wav")
    for name, value in fields.items():
        data.add_field(name, value)
    return data
