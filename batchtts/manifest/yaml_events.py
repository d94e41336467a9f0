"""The YAML parser's events, checked as they are taken: the one place a manifest meets PyYAML.

Nothing is ever constructed from the YAML. Aliases and anchors stop the read at once (no "billion
laughs"), as does nesting deeper than MAX_DEPTH; any tag beyond the plain standard ones is an issue.
"""

from __future__ import annotations

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.jobs import Issues
from batchtts.manifest.values import show

__all__ = ["MAX_DEPTH", "Events", "Stop", "is_null", "kind_of", "line_of"]

MAX_DEPTH = 20

# libyaml parses far faster than the pure-Python parser; both yield the same events.
_Loader: type[yaml.CSafeLoader] | type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


class Stop(Exception):
    """Reading cannot go on (syntax error, alias, too deep); the message is the issue."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line


def line_of(event: Event) -> int:
    """The line an event starts on, counted from 1."""
    # Both parsers mark every event; the stubs allow None only for hand-made ones.
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 1


def kind_of(event: Event) -> str:
    """What a node is, as messages say it: a list, a mapping or a single value."""
    if isinstance(event, SequenceStartEvent):
        return "a list"
    if isinstance(event, MappingStartEvent):
        return "a mapping"
    return "a single value"


def is_null(event: ScalarEvent) -> bool:
    """Whether a scalar is YAML's null (written as nothing, ``~`` or ``null``)."""
    if event.tag == "tag:yaml.org,2002:null":
        return True
    return event.tag is None and event.implicit[0] and event.value in _NULLS


class Events:
    """The parser's events, checked for aliases, anchors, tags and depth as they are taken."""

    def __init__(self, text: str, file: str, issues: Issues) -> None:
        self._loader = _Loader(text)
        self._file = file
        self._issues = issues
        self._depth = 0

    def close(self) -> None:
        """Free the parser."""
        self._loader.dispose()

    def peek(self) -> Event:
        """The next event, not taken."""
        event = self._loader.peek_event()
        if event is None:  # only after StreamEnd, which the walk never reads past
            raise Stop(None, "YAML ended unexpectedly")
        return event

    def take(self) -> Event:
        """Take the next event, checking it."""
        event = self.peek()
        self._loader.get_event()
        if isinstance(event, AliasEvent):
            msg = f"YAML aliases (*{event.anchor}) are not allowed; write each value out"
            raise Stop(line_of(event), msg)
        if isinstance(event, NodeEvent) and event.anchor is not None:
            msg = f"YAML anchors (&{event.anchor}) are not allowed; write each value out"
            raise Stop(line_of(event), msg)
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in _STANDARD_TAGS:
            shown = show(tag.replace("tag:yaml.org,2002:", "!!"))
            msg = f"YAML tag {shown} is not allowed; write plain values"
            self._issues.append(ManifestIssue(file=self._file, line=line_of(event), message=msg))
        if isinstance(event, CollectionStartEvent):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                msg = f"YAML is nested more than {MAX_DEPTH} levels deep"
                raise Stop(line_of(event), msg)
        elif isinstance(event, SequenceEndEvent | MappingEndEvent):
            self._depth -= 1
        return event

    def skip_node(self) -> Event:
        """Consume one whole node, storing nothing; return its first event."""
        first = self.take()
        depth = 1 if isinstance(first, CollectionStartEvent) else 0
        while depth:
            event = self.take()
            if isinstance(event, CollectionStartEvent):
                depth += 1
            elif isinstance(event, SequenceEndEvent | MappingEndEvent):
                depth -= 1
        return first

    def at_end(self) -> bool:
        """Whether the current mapping or sequence ends here (its end event is then consumed)."""
        if isinstance(self.peek(), MappingEndEvent | SequenceEndEvent):
            self.take()
            return True
        return False
