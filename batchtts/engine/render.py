"""One request for one unit: send it holding a slot, record its acceptance, stream the audio.

A stream cut (or otherwise spoiled) after the API accepted the request is fetched again from
history (:mod:`batchtts.engine.recover`: not billed, and outside the model group's slot) before
anything is regenerated.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from batchtts.api.client import ApiClient
from batchtts.engine.dialogue import dialogue_body
from batchtts.engine.limiter import Pass
from batchtts.engine.plan import RenderTask
from batchtts.engine.recover import recover_from_history
from batchtts.engine.retry import RetryPolicy
from batchtts.engine.stream import Accepted, Rendered, stream_to
from batchtts.engine.units import Unit
from batchtts.exceptions import RateLimited, StreamCut
from batchtts.manifest.job import JobKind
from batchtts.store.files import ensure_inside

__all__ = ["Unanswered", "render_unit", "sts_fields", "tts_body"]


class Unanswered:
    """Requests sent whose response headers have not arrived yet: whether they are billed is unknown.

    A run stopping on a signal waits (briefly) for this to reach zero, so that every request the
    API may have billed has its acceptance in the ledger before the rest is cancelled.
    """

    def __init__(self) -> None:
        self._count = 0
        self._settled = asyncio.Event()
        self._settled.set()

    @property
    def count(self) -> int:
        """Requests sent and not yet answered."""
        return self._count

    @contextmanager
    def sent(self) -> Iterator[Callable[[], None]]:
        """Count one request until its headers arrive (call the yielded function) or it ends."""
        self._count += 1
        self._settled.clear()
        answered = False

        def answer() -> None:
            nonlocal answered
            if not answered:
                answered = True
                self._count -= 1
                if self._count == 0:
                    self._settled.set()

        try:
            yield answer
        finally:
            answer()

    async def settled(self) -> None:
        """Wait until no request is waiting for its headers."""
        await self._settled.wait()


def tts_body(task: RenderTask, unit: Unit) -> dict[str, Any]:
    """The JSON body of ``unit``'s text-to-speech request, with unset fields left out."""
    job = task.job
    body: dict[str, Any] = {"text": unit.text, "model_id": task.model.model_id}
    if job.voice_settings is not None and (settings := job.voice_settings.to_json()):
        body["voice_settings"] = settings
    if job.seed is not None:
        body["seed"] = job.seed
    if job.language_code is not None:
        body["language_code"] = job.language_code
    return body | text_options(task, unit.text)


def text_options(task: RenderTask, text: str | None) -> dict[str, Any]:
    """What text to speech and text to dialogue both take about the text: normalisation, lexicons.

    The locators go only with a request whose text holds one of the rules' words: a rule that
    cannot match changes nothing, and its unit's content key leaves it out too.
    """
    job = task.job
    options: dict[str, Any] = {}
    if job.text_normalization is not None:
        options["apply_text_normalization"] = job.text_normalization
    if task.locators and job.lexicon is not None and job.lexicon.used_by(text):
        options["pronunciation_dictionary_locators"] = [
            {"pronunciation_dictionary_id": dictionary_id, "version_id": version_id}
            for dictionary_id, version_id in task.locators
        ]
    return options


def sts_fields(task: RenderTask) -> dict[str, str]:
    """The multipart form fields (besides the audio file) of a speech-to-speech request."""
    job = task.job
    fields = {"model_id": task.model.model_id}
    if job.voice_settings is not None and (settings := job.voice_settings.to_json()):
        fields["voice_settings"] = json.dumps(settings)
    if job.seed is not None:
        fields["seed"] = str(job.seed)
    if job.remove_background_noise is not None:
        fields["remove_background_noise"] = "true" if job.remove_background_noise else "false"
    return fields


async def render_unit(
    client: ApiClient,
    task: RenderTask,
    unit: Unit,
    lane: Pass,
    *,
    on_accepted: Callable[[Accepted], None],
    history_policy: RetryPolicy,
    unanswered: Unanswered,
    body: dict[str, Any] | None = None,
) -> Rendered:
    """One attempt at ``unit``. ``on_accepted`` runs as soon as the API has billed the request.

    ``body`` overrides the unit's own request body (a chapter's chunk carries its stitching).
    The request holds a slot of ``lane`` while it is sent and streamed, and no longer; from the
    moment it is sent until its headers arrive it counts in ``unanswered``.
    """
    accepted: Accepted | None = None
    target = unit.output
    timestamps = task.job.timestamps and task.job.kind is JobKind.TTS
    ensure_inside(target, task.out_dir)  # now, before the API bills a request we could not write
    limiter = lane.limiter
    try:
        async with lane.slot():
            try:
                if task.job.kind is JobKind.STS:
                    assert task.job.audio_file is not None
                    fields, fmt = sts_fields(task), task.fmt.name
                    request = client.sts_stream(task.voice_id, task.job.audio_file, fields, output_format=fmt)
                elif unit.is_dialogue:
                    request = client.dialogue_stream(
                        [{"text": text, "voice_id": voice_id} for voice_id, text in unit.inputs],
                        {**dialogue_body(task), **text_options(task, unit.text)},
                        output_format=task.fmt.name,
                        timestamps=timestamps,
                    )
                else:
                    request = client.tts_stream(
                        unit.voice_id or task.voice_id,
                        body or tts_body(task, unit),
                        output_format=task.fmt.name,  # the client sends wav_* as its pcm_*
                        timestamps=timestamps,
                    )
                with unanswered.sent() as answered:
                    async with request as response:
                        answered()
                        limiter.learn_account_limit(response.maximum_concurrency)
                        accepted = Accepted(
                            request_id=response.request_id,
                            history_item_id=response.history_item_id,
                            character_cost=response.character_cost,
                        )
                        on_accepted(accepted)
                        written = await stream_to(target, response, task, timestamps=timestamps)
            except RateLimited as exc:
                if exc.concurrency:
                    limiter.on_concurrency_rejected()  # while this request still holds its slot
                raise
    except StreamCut:
        if accepted is None or not accepted.history_item_id:
            raise
        # Billed already: the history holds the whole audio, and fetching it costs nothing.
        return await recover_from_history(client, task, unit, accepted, history_policy)
    limiter.on_success()
    assert accepted is not None
    return Rendered.written(target, written, accepted, recovered=False)
