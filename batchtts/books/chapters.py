"""The book's blocks cut into chapters at its marks, with what is not prose left out and listed.

Every reader hands over the whole book as one run of blocks in reading order and the marks where
chapters may start. A navigation entry or a heading opens a chapter; the start of another EPUB file
does not (a long chapter is often split over several files) unless that file is not prose, which is
then skipped on its own. Stretches before the first mark that read as prose become chapters too,
titled by their first heading (or the book's title); those that do not are skipped with the reason
:mod:`batchtts.books.matter` gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from batchtts.books.blocks import Block, BlockKind
from batchtts.books.book import Chapter, Mark, MarkKind, Skipped
from batchtts.books.matter import (
    GUTENBERG_PARTS,
    gutenberg_masks,
    heading_runs,
    section_reason,
    semantic_reason,
)

__all__ = ["cut_chapters"]

_OPENS = (MarkKind.NAV, MarkKind.HEADING)
_PRIORITY = {MarkKind.NAV: 2, MarkKind.HEADING: 1, MarkKind.FILE: 0}
_HEADING_RUN = "a run of headings with no text between them (a title page or a contents list)"


@dataclass(slots=True)
class _Draft:
    title: str
    source: str
    blocks: list[Block] = field(default_factory=list)


def _first_heading(blocks: Sequence[Block]) -> str:
    return next((b.title for b in blocks if b.kind is BlockKind.HEADING and b.title), "")


def _marks(blocks: Sequence[Block], marks: Sequence[Mark], skipped: list[Skipped]) -> list[Mark]:
    """Marks in order, one per place: a mark at the start, and the strongest where several meet.

    Two navigation entries at one place (a part and its first chapter pointing at one file): the
    later, deeper one is kept and the other listed as skipped, having no text of its own.
    """
    by_start: dict[int, Mark] = {}
    for mark in sorted(marks, key=lambda m: m.start):
        start = min(max(mark.start, 0), len(blocks))
        mark = Mark(start=start, kind=mark.kind, title=mark.title, source=mark.source)
        held = by_start.get(start)
        if held is None or _PRIORITY[mark.kind] >= _PRIORITY[held.kind]:
            if held is not None and held.kind is MarkKind.NAV and mark.kind is MarkKind.NAV:
                reason = f"starts where {mark.title!r} starts, with no text of its own"
                skipped.append(Skipped(title=held.title, source=held.source, reason=reason, characters=0))
            by_start[start] = mark
    if 0 not in by_start:
        source = blocks[0].source if blocks else ""
        by_start[0] = Mark(start=0, kind=MarkKind.FILE, source=source)
    return [by_start[start] for start in sorted(by_start)]


def cut_chapters(
    blocks: Sequence[Block],
    marks: Sequence[Mark],
    *,
    book_title: str,
    masks: Mapping[int, str] | None = None,
) -> tuple[list[Chapter], list[Skipped]]:
    """Cut ``blocks`` into chapters at ``marks``; ``masks`` leaves blocks out for a reason of the reader's.

    Returns the chapters in reading order and every stretch skipped, with its reason.
    """
    skipped: list[Skipped] = []
    # Why each left-out block is left out: the boilerplate, the markup, then the reader's own reason.
    reasons: dict[int, str] = gutenberg_masks(blocks)
    for index, block in enumerate(blocks):
        if index not in reasons and (semantic := semantic_reason(block)) is not None:
            reasons[index] = semantic
    for index, reason in (masks or {}).items():
        reasons.setdefault(index, reason)
    ordered = _marks(blocks, marks, skipped)
    ends = [mark.start for mark in ordered[1:]] + [len(blocks)]
    spans = [range(mark.start, end) for mark, end in zip(ordered, ends, strict=True)]
    kept = [[blocks[i] for i in span if i not in reasons] for span in spans]
    runs = heading_runs(
        [
            section if mark.kind is MarkKind.HEADING else []
            for mark, section in zip(ordered, kept, strict=True)
        ]
    )
    last_opening = max((i for i, mark in enumerate(ordered) if mark.kind in _OPENS), default=-1)
    drafts: list[_Draft] = []
    current: _Draft | None = None
    for index, (mark, span, section) in enumerate(zip(ordered, spans, kept, strict=True)):
        # What to call the stretch: its entry's title, else its first heading, else its file's title.
        name = (
            (mark.title if mark.kind in _OPENS else "")
            or _first_heading([blocks[i] for i in span])
            or mark.title
        )
        name = name or ("front matter" if not drafts else f"untitled part after {drafts[-1].title!r}")
        masked = _masked_groups(blocks, span, reasons, name, whole=not section)
        skipped.extend(masked)
        if not section and masked:
            if mark.kind in _OPENS:
                current = None
            continue
        # Only a stretch no entry or heading opened, before the first chapter, may be a title page.
        front = not drafts and mark.kind not in _OPENS and index < last_opening
        verdict = _HEADING_RUN if index in runs else section_reason(name, section, front=front)
        if verdict is not None:
            characters = sum(len(block.text) for block in section)
            # The implicit mark at the start points at no place of its own: say where the text is.
            source = section[0].source if mark.kind is MarkKind.FILE and section else mark.source
            skipped.append(Skipped(title=name, source=source, reason=verdict, characters=characters))
            if mark.kind in _OPENS:
                current = None
            continue
        if mark.kind in _OPENS or current is None:
            title = mark.title if mark.kind in _OPENS else ""
            title = title or _first_heading(section) or (book_title if not drafts else mark.title)
            current = _Draft(title=title, source=mark.source)
            drafts.append(current)
        current.blocks.extend(section)
    chapters = [
        Chapter(
            title=draft.title or f"Chapter {number}",
            text="\n\n".join(block.text for block in draft.blocks),
            source=draft.source,
        )
        for number, draft in enumerate(drafts, 1)
    ]
    return chapters, _merge_runs(skipped)


def _merge_runs(skipped: list[Skipped]) -> list[Skipped]:
    """One entry for each run of headings skipped as a contents list (and for each part of
    Project Gutenberg's boilerplate), not one per heading it spans."""
    merged: list[Skipped] = []
    count = 1
    for item in skipped:
        last = merged[-1] if merged else None
        if last is not None and item.reason == last.reason and item.reason in GUTENBERG_PARTS:
            characters = last.characters + item.characters
            merged[-1] = Skipped(
                title=last.title, source=last.source, reason=item.reason, characters=characters
            )
            continue
        if last is not None and item.reason == _HEADING_RUN == last.reason:
            count += 1
            first = last.title.split(" … ")[0]
            title = f"{first} … {item.title} ({count} headings)"
            characters = last.characters + item.characters
            merged[-1] = Skipped(title=title, source=last.source, reason=item.reason, characters=characters)
            continue
        count = 1
        merged.append(item)
    return merged


def _masked_groups(
    blocks: Sequence[Block], span: range, reasons: Mapping[int, str], name: str, *, whole: bool
) -> list[Skipped]:
    """Consecutive left-out blocks of one stretch, one Skipped per run of one reason."""
    groups: list[Skipped] = []
    run: list[Block] = []
    reason = ""
    for i in [*span, None]:
        this = reasons.get(i) if i is not None else None
        if run and this != reason:
            title = GUTENBERG_PARTS.get(reason) or (
                name if whole else _first_heading(run) or f"part of {name}"
            )
            source = run[0].source or name
            characters = sum(len(block.text) for block in run)
            groups.append(Skipped(title=title, source=source, reason=reason, characters=characters))
            run = []
        if i is not None and this is not None:
            run.append(blocks[i])
            reason = this
    return groups
