"""Mastered chapters, measured here independently: RMS and peaks from the decoded samples with plain
Python, loudness with FFmpeg's ``loudnorm`` meter (not the ``ebur128`` filter mastering uses).

The emulator's audio is tone bursts, not speech: level, peaks and room tone apply all the same.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import itertools
import json
import math
import sys
import wave
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mutagen.mp3
import pytest

from batchtts import RunConfig, run
from batchtts.api.formats import parse_output_format
from batchtts.emulator import Emulator
from batchtts.exceptions import UsageError
from batchtts.manifest.job import Mastering
from batchtts.outputs.levels import Levels, acx_misses
from batchtts.outputs.mastering import master_file
from batchtts.store.files import sha256_file
from batchtts.store.ledger import Ledger
from tests.helpers import DATA, config_for, no_backoff, temporaries, tts_records

av = pytest.importorskip("av", reason="the master extra (PyAV) is not installed")
from av.audio.resampler import AudioResampler  # noqa: E402 - after the importorskip that guards the module
from av.filter import loudnorm  # noqa: E402

CHAPTERS = ("book/ch1", "book/ch2")


# --- measuring, independently -------------------------------------------------------------------------


def decoded(path: Path) -> tuple[array[float], int]:
    """Every sample of ``path`` (mono floats, as a player decodes it) and its sample rate."""
    samples: array[float] = array("f")
    with av.open(str(path)) as container:
        rate = container.streams.audio[0].codec_context.sample_rate
        resampler = AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in itertools.chain(container.decode(audio=0), [None]):
            for chunk in resampler.resample(frame):
                samples.frombytes(bytes(chunk.planes[0])[: chunk.samples * 4])
    return samples, rate


def rms_db(samples: array[float]) -> float:
    energy = math.fsum(x * x for x in samples) / len(samples)
    return 10 * math.log10(energy) if energy else -math.inf


def peak_db(samples: array[float]) -> float:
    return 20 * math.log10(max(abs(x) for x in samples))


def loudness(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) by the loudnorm filter's own meter."""
    with av.open(str(path)) as container:
        stats = json.loads(loudnorm.stats("i=-18:tp=-1:lra=11", container.streams.audio[0]))
    return float(stats["input_i"]), float(stats["input_tp"])


def seconds(path: Path) -> float:
    samples, rate = decoded(path)
    return len(samples) / rate


def figures(path: Path) -> dict[str, float]:
    samples, rate = decoded(path)
    half = rate // 2
    lufs, true_peak = loudness(path)
    return {
        "rms": rms_db(samples),
        "peak": peak_db(samples),
        "lufs": lufs,
        "true_peak": true_peak,
        "head": rms_db(samples[:half]),
        "tail": rms_db(samples[-half:]),
        "seconds": len(samples) / rate,
    }


def mp3_stream(path: Path) -> dict[str, Any]:
    """An MP3's bitrate mode, bitrate and sample rate, as mutagen reads them."""
    info = mutagen.mp3.MP3(str(path)).info
    return {"mode": info.bitrate_mode, "bit_rate": info.bitrate, "sample_rate": info.sample_rate}


# --- a small book -------------------------------------------------------------------------------------


def paragraphs() -> Iterator[str]:
    text = (DATA / "chapter_en.txt").read_text(encoding="utf-8")
    return iter(p for p in text.split("\n\n")[1:] if p.strip())


def write_book(folder: Path, *, mastering: str, output_format: str = "mp3_44100_128") -> Path:
    """Two chapters of ~220 characters (two chunks each, a paragraph gap) and a book of them."""
    source = paragraphs()
    for n in (1, 2):
        first, second = next(source), next(source)
        (folder / f"ch{n}.txt").write_text(f"{first[:110]}.\n\n{second[:110]}.", encoding="utf-8")
    jobs = "".join(
        f"  - {{name: {name}, voice: Studio Narrator, text_file: ch{n}.txt, title: Chapter {n}}}\n"
        for n, name in enumerate(CHAPTERS, 1)
    )
    manifest = folder / "book.yaml"
    manifest.write_text(
        "book: {output: book/book.m4b, title: A Book, author: Someone, narrator: Studio Narrator}\n"
        f"defaults: {{chunk_chars: 150, silence_ms: 300, mastering: {mastering},"
        f" output_format: {output_format}}}\n"
        f"jobs:\n{jobs}",
        encoding="utf-8",
    )
    return manifest


def chapter_files(out: Path, extension: str = "mp3") -> list[Path]:
    return [out / f"{name}.{extension}" for name in CHAPTERS]


def stamps(paths: list[Path]) -> list[tuple[int, str]]:
    return [(path.stat().st_mtime_ns, sha256_file(path)) for path in paths]


def metadata_rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        return {row["file_name"]: row for row in csv.DictReader(fh)}


# --- acx ----------------------------------------------------------------------------------------------


async def test_acx_chapters_meet_acx_with_room_tone_and_make_the_book(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Two chapters: RMS in -23…-18 dBFS, peaks ≤ -3, quiet room tone at both ends, 192 kb/s CBR, in the book."""
    out = tmp_path / "out"
    manifest = write_book(tmp_path, mastering="acx")
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, out))
    assert report.exit_code == 0, report.failures
    assert (report.book, report.book_built) == ("book/book.m4b", True)
    assert [entry["name"] for entry in sorted(report.mastering, key=lambda e: e["name"])] == list(CHAPTERS)

    measured = {}
    for path in chapter_files(out):
        got = measured[path.name] = figures(path)
        assert -23 <= got["rms"] <= -18, got
        assert max(got["peak"], got["true_peak"]) <= -3, got
        # Room tone, not digital silence, and under ACX's -60 dBFS noise floor.
        assert -math.inf < max(got["head"], got["tail"]) < -60, got
        assert min(got["head"], got["tail"]) > -math.inf, got
        assert mp3_stream(path) == {
            "mode": mutagen.mp3.BitrateMode.CBR,
            "bit_rate": 192_000,
            "sample_rate": 44_100,
        }

    entries = {entry["name"]: entry for entry in report.mastering}
    rows = metadata_rows(out)
    with Ledger.for_output(out) as ledger:
        for name, path in zip(CHAPTERS, chapter_files(out), strict=True):
            entry = entries[name]
            assert entry["acx_pass"] is True
            assert entry["rms_dbfs"] == pytest.approx(measured[path.name]["rms"], abs=0.1)
            assert entry["peak_dbfs"] == pytest.approx(measured[path.name]["peak"], abs=0.1)
            # The ledger holds the mastered file, so the book and the next run see it whole.
            row = ledger.done_row(name)
            assert row is not None
            assert (row.sha256, row.size) == (sha256_file(path), path.stat().st_size)
            csv_row = rows[f"{name}.mp3"]
            assert (csv_row["mastering"], csv_row["acx_pass"]) == ("acx", "True")
            assert float(csv_row["rms_dbfs"]) == entry["rms_dbfs"]
            assert float(csv_row["lufs"]) == entry["lufs"]

    # The book's marks fall where the mastered files' decoded audio ends.
    with av.open(str(out / "book/book.m4b")) as book:
        starts = [float(c["start"] * c["time_base"]) for c in book.chapters()]
    lengths = [measured[path.name]["seconds"] for path in chapter_files(out)]
    assert starts == pytest.approx([0.0, lengths[0]], abs=0.03)
    assert temporaries(out) == []


async def test_unchanged_rerun_sends_nothing_and_an_edit_remasters_only_its_chapter(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A re-run touches no file and sends nothing; editing chapter 2 re-masters chapter 2 alone."""
    out = tmp_path / "out"
    manifest = write_book(tmp_path, mastering="acx")
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        before = stamps(chapter_files(out))
        sent = len(tts_records(emu.access_log))

        again = await run(manifest, config_for(emu, out))
        assert (again.skipped, again.rendered, again.mastering, again.book_built) == (2, 0, [], False)
        assert len(tts_records(emu.access_log)) == sent
        assert stamps(chapter_files(out)) == before

        chapter = tmp_path / "ch2.txt"
        chapter.write_text(chapter.read_text(encoding="utf-8") + " And one more line.", encoding="utf-8")
        third = await run(manifest, config_for(emu, out))
    assert [entry["name"] for entry in third.mastering] == ["book/ch2"]
    assert third.book_built
    after = stamps(chapter_files(out))
    assert after[0] == before[0]
    assert after[1][1] != before[1][1]
    got = figures(chapter_files(out)[1])
    assert -23 <= got["rms"] <= -18, got
    assert got["peak"] <= -3, got


async def test_changing_mastering_remasters_from_the_chunks_without_a_request(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """none → r128 → acx → none: each change re-joins and re-masters from cached chunks, billing nothing."""
    out = tmp_path / "out"
    async with make_emulator() as emu:
        first = await run(write_book(tmp_path, mastering="none"), config_for(emu, out))
        assert first.mastering == []
        sent = len(tts_records(emu.access_log))
        joined = stamps(chapter_files(out))
        plain = {path.name: seconds(path) for path in chapter_files(out)}

        r128 = await run(write_book(tmp_path, mastering="r128"), config_for(emu, out))
        assert (r128.chunks_requested, r128.characters_sent, len(r128.mastering)) == (0, {}, 2)
        loud = {path.name: figures(path) for path in chapter_files(out)}

        acx = await run(write_book(tmp_path, mastering="acx"), config_for(emu, out))
        assert (acx.chunks_requested, len(acx.mastering)) == (0, 2)

        back = await run(write_book(tmp_path, mastering="none"), config_for(emu, out))
        assert (back.chunks_requested, back.mastering) == (0, [])
        assert len(tts_records(emu.access_log)) == sent
    for name, got in loud.items():
        assert got["lufs"] == pytest.approx(-18, abs=1), (name, got)  # EBU R128 for speech
        assert got["true_peak"] <= -1, (name, got)
        assert got["seconds"] == pytest.approx(plain[name], abs=0.06)  # nothing added
    # Back to none: the very same join as at first, and metadata no longer claims any mastering.
    assert [sha for _, sha in stamps(chapter_files(out))] == [sha for _, sha in joined]
    assert {row["mastering"] for row in metadata_rows(out).values()} == {""}


async def test_wav_chapters_stay_wav_and_timings_follow_the_room_tone(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A WAV chapter is mastered as 16-bit WAV at its rate; its timings move by the head's room tone."""
    out, plain_out = tmp_path / "out", tmp_path / "plain"
    manifest = write_book(tmp_path, mastering="acx", output_format="wav_24000")
    text = manifest.read_text(encoding="utf-8").replace(
        "mastering: acx,", "mastering: acx, timestamps: true,"
    )
    manifest.write_text(text, encoding="utf-8")
    plain = tmp_path / "plain.yaml"
    plain.write_text(text.replace("mastering: acx", "mastering: none"), encoding="utf-8")
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, out))
        await run(plain, config_for(emu, plain_out))
    assert report.exit_code == 0, report.failures
    path = chapter_files(out, "wav")[0]
    with wave.open(str(path)) as wav:
        assert (wav.getsampwidth(), wav.getframerate(), wav.getnchannels()) == (2, 24_000, 1)
    got = figures(path)
    assert -23 <= got["rms"] <= -18, got
    assert got["peak"] <= -3, got
    assert -math.inf < got["head"] < -60, got
    mastered = json.loads((out / "book/ch1.alignment.json").read_text(encoding="utf-8"))["characters"]
    original = json.loads((plain_out / "book/ch1.alignment.json").read_text(encoding="utf-8"))["characters"]
    # The emulator's audio starts at once: all 0.75 s of room tone is added before it.
    assert [c["start"] for c in mastered] == pytest.approx([c["start"] + 0.75 for c in original], abs=0.002)


# --- master_file on audio made here -------------------------------------------------------------------


def write_peaky_wav(path: Path, *, rate: int = 44_100) -> None:
    """1.5 s of silence, 4 s of a -30 dBFS tone with full-scale clicks, 3 s of silence."""
    samples = array("h", bytes(2 * int(1.5 * rate)))
    for i in range(4 * rate):
        value = 0.95 if i % (rate // 4) < 20 else 0.0447 * math.sin(2 * math.pi * 220 * i / rate)
        samples.append(round(value * 32767))
    samples.extend(array("h", bytes(2 * 3 * rate)))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())


def first_sound(samples: array[float], rate: int, threshold_db: float = -40) -> tuple[float, float]:
    """Seconds of quiet before the first and after the last sample above ``threshold_db``."""
    level = 10 ** (threshold_db / 20)
    loud = [i for i, x in enumerate(samples) if abs(x) > level]
    return loud[0] / rate, (len(samples) - loud[-1] - 1) / rate


@pytest.mark.parametrize("output_format", ["wav_44100", "mp3_44100_128"])
def test_a_quiet_peaky_file_gets_one_gain_and_a_limiter_and_its_ends_cut_to_size(
    tmp_path: Path, output_format: str
) -> None:
    """+10 dB would clip the clicks: a limiter holds them under -3; 1.5 s/3 s of silence become 0.75 s/2 s."""
    source = tmp_path / "source.wav"
    write_peaky_wav(source)
    path = source
    if output_format.startswith("mp3"):
        import lameenc

        samples, rate = decoded(source)
        encoder = lameenc.Encoder()
        encoder.set_bit_rate(128)
        encoder.set_in_sample_rate(rate)
        encoder.set_channels(1)
        pcm = array("h", (round(x * 32767) for x in samples)).tobytes()
        path = tmp_path / "chapter.mp3"
        path.write_bytes(encoder.encode(pcm) + encoder.flush())
    mastered = master_file(
        path, mode=Mastering.ACX, fmt=parse_output_format(output_format), root=tmp_path, tags={"title": "T"}
    )
    assert mastered.limit_db is not None
    got = figures(path)
    assert -23 <= got["rms"] <= -18, got
    assert max(got["peak"], got["true_peak"]) <= -3, got
    samples, rate = decoded(path)
    head, tail = first_sound(samples, rate)
    assert 0.5 <= head <= 1.0  # ACX: 0.5–1 s of room tone first
    assert 1.0 <= tail <= 5.0  # and 1–5 s at the end
    assert mastered.shift_s == pytest.approx(head - 1.5, abs=0.05)
    assert temporaries(tmp_path) == []


def test_without_pyav_mastering_stops_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest that masters a chapter needs the master extra: a UsageError naming it, nothing billed."""
    manifest = write_book(tmp_path, mastering="acx")
    manifest.write_text(manifest.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")  # no book
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError
    with pytest.raises(UsageError, match=r"pip install 'batchtts\[master\]'"):
        asyncio.run(run(manifest, RunConfig(offline=True, out_dir=tmp_path / "out", retry=no_backoff())))
    assert not (tmp_path / "out" / ".batchtts" / "ledger.sqlite").exists()


def test_what_misses_acx_is_said_in_words() -> None:
    """Each of ACX's three figures a file misses is named, with the value measured."""
    levels = Levels(
        samples=44_100,
        sample_rate=44_100,
        rms_db=-25.04,
        peak_db=-4.0,
        true_peak_db=-2.5,
        lufs=-24.0,
        noise_floor_db=-55.0,
        lead_s=0.0,
        trail_s=0.0,
    )
    assert not levels.acx_pass
    assert acx_misses(levels) == (
        "its RMS is -25.0 dBFS, outside -23…-18; a peak reaches -2.5 dBFS, over -3;"
        " its noise floor is -55.0 dBFS, not under -60"
    )
    fine = dataclasses.replace(levels, rms_db=-20.0, true_peak_db=-3.2, noise_floor_db=-math.inf)
    assert (fine.acx_pass, acx_misses(fine)) == (True, "")
    assert fine.to_json()["noise_floor_dbfs"] is None  # digital silence: JSON has no -inf
