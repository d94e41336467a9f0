"""WebDataset: plain tar shards, each clip three consecutive members sharing its key.

::

    DIR/train-000000.tar            clips-0000.mp3  clips-0000.json  clips-0000.txt  clips-0001.mp3 …
    DIR/train-000001.tar
    DIR/validation-000000.tar

A key is the clip's id (no dots, so the reader's split of a member name at its first dot gives
the key and the extension back); keys are unique across the export and shards hold them in sorted
order. ``.json`` is the clip's provenance (voice, model, settings, seed, request id, duration,
characters, split, …), ``.txt`` its text in UTF-8. Shards are cut near the target size from
estimated sizes (see :mod:`batchtts.export.shards`) and named ``<split>-<n>.tar``, the pattern
``datasets`` reads splits from. Members carry no owner and a fixed time, so the same clips make
the same bytes. Only :mod:`tarfile` is used.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path

from batchtts.export.audio import clip_audio
from batchtts.export.pieces import Piece, fingerprint
from batchtts.export.select import Clip
from batchtts.export.shards import plan_shards

__all__ = ["pieces"]

_LAYOUT = "webdataset/1"
_BLOCK = 512  # a tar header, and the unit members are padded to


def _json(clip: Clip, rate: int | None) -> bytes:
    return json.dumps(clip.record(rate), ensure_ascii=False, sort_keys=True).encode("utf-8")


def _member_size(size: int) -> int:
    return _BLOCK + -(-size // _BLOCK) * _BLOCK


def _estimate(clip: Clip, rate: int | None) -> int:
    """Bytes the clip's three members take in a tar (its audio estimated when converted)."""
    text = len(clip.text.encode("utf-8"))
    return _member_size(clip.exported_size(rate)) + _member_size(len(_json(clip, rate))) + _member_size(text)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def _shard(path: str, clips: Sequence[Clip], rate: int | None) -> Piece:
    def write(target: Path) -> None:
        with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
            for clip in clips:
                _add(tar, clip.file_name(rate), clip_audio(clip, rate))
                _add(tar, f"{clip.id}.json", _json(clip, rate))
                _add(tar, f"{clip.id}.txt", clip.text.encode("utf-8"))

    content = [(clip.id, clip.sha256, clip.record(rate)) for clip in clips]
    return Piece(path=path, fingerprint=fingerprint(_LAYOUT, rate, content), write=write)


def pieces(clips: Sequence[Clip], splits: Sequence[str], rate: int | None, shard_size: int) -> list[Piece]:
    """The tar shards of ``clips`` (audio at ``rate``; None: as rendered), about ``shard_size`` each."""
    out: list[Piece] = []
    for split in splits:
        members = [clip for clip in clips if clip.split == split]
        for n, shard in enumerate(plan_shards(members, lambda c: _estimate(c, rate), shard_size)):
            out.append(_shard(f"{split}-{n:06d}.tar", shard, rate))
    return out
