"""WebDataset: tar shards of <key>.<audio>, <key>.json, <key>.txt, consecutive, keys sorted and unique."""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections import defaultdict
from itertools import groupby
from pathlib import Path

from batchtts.export import ExportFormat, ExportOptions, Splits, export_dataset
from tests.export.readers import decoded, expected_texts, split_of_each


def _members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tar:
        out = []
        for info in tar.getmembers():
            assert info.isfile()
            fh = tar.extractfile(info)
            assert fh is not None
            out.append((info.name, fh.read()))
        return out


def test_each_clip_is_three_members_under_one_key(rendered: Path, tmp_path: Path) -> None:
    """Members group by key (the name up to its first dot); the json parses; the txt is the text."""
    spec = "train=0.6,validation=0.2,test=0.2"
    folder = tmp_path / "wds"
    export_dataset(
        rendered,
        ExportOptions(
            format=ExportFormat.WEBDATASET, to_dir=folder, splits=Splits.parse(spec), shard_size=60_000
        ),
    )
    shards = sorted(folder.glob("*.tar"))
    assert {p.name.split("-")[0] for p in shards} == {"train", "validation", "test"}
    seen: dict[str, str] = {}
    keys: list[str] = []
    for shard in shards:
        members = _members(shard)
        shard_keys = []
        for key, group in groupby(members, key=lambda m: m[0].split(".", 1)[0]):
            files = {name.split(".", 1)[1]: data for name, data in group}
            assert set(files) in ({"mp3", "json", "txt"}, {"wav", "json", "txt"})
            record = json.loads(files["json"])
            audio = files.get("mp3", files.get("wav", b""))
            assert record["id"] == key
            assert files["txt"].decode("utf-8") == record["text"]
            assert hashlib.sha256(audio).hexdigest() == record["source_sha256"]
            assert decoded(audio)[0] == record["sample_rate"]
            assert shard.name.startswith(record["split"] + "-")
            assert record["voice"] in {"Brian", "George", "Sarah"}
            assert record["settings"] == {"speed": 1.1, "stability": 0.4}
            seen[record["name"]] = record["split"]
            shard_keys.append(key)
        assert shard_keys == sorted(shard_keys)
        assert shard.stat().st_size < 60_000 * 1.2 or len(shard_keys) == 1
        keys.extend(shard_keys)
    assert len(keys) == len(set(keys))
    assert seen == split_of_each(spec)
    assert set(seen) == set(expected_texts())


def test_the_same_clips_make_the_same_bytes(rendered: Path, tmp_path: Path) -> None:
    """Two exports into two folders write identical shards (no owner, no time, one order)."""
    digests: dict[str, set[str]] = defaultdict(set)
    for name in ("a", "b"):
        export_dataset(rendered, ExportOptions(format=ExportFormat.WEBDATASET, to_dir=tmp_path / name))
        for shard in (tmp_path / name).glob("*.tar"):
            digests[shard.name].add(hashlib.sha256(shard.read_bytes()).hexdigest())
    assert list(digests) == ["train-000000.tar"]
    assert all(len(d) == 1 for d in digests.values())
