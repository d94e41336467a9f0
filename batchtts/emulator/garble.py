"""The garble fault: a clip whose audio says its text with words dropped or repeated.

Generative speech sometimes skips or repeats words; this is how the emulator makes such clips, so a
client's verification (speech to text) and retakes can be tested offline. Which requests are garbled
is :meth:`~batchtts.emulator.faults.FaultInjector.garbling`'s draw; this module corrupts the text:
each word is dropped or repeated with probability :data:`CHANGE_SHARE` (half each), at least one word
changes, and a text never loses all its words. The clip is then synthesised from the corrupted text,
so its duration follows, and speech to text reports the corrupted text.
"""

from __future__ import annotations

import random

__all__ = ["CHANGE_SHARE", "garble"]

CHANGE_SHARE = 0.25


def garble(text: str, rng: random.Random) -> str:
    """``text`` with words dropped or repeated (at least one changed), its words joined by spaces.

    A text without words comes back as it is: there is nothing to garble.
    """
    words = text.split()
    if not words:
        return text
    out: list[str] = []
    for word in words:
        if rng.random() >= CHANGE_SHARE:
            out.append(word)
        elif rng.random() >= 0.5:
            out += [word, word]
        # else: dropped
    if not out or out == words:
        # Nothing changed (or a drop and a repeat cancelled out, or every word went): repeat one word.
        index = rng.randrange(len(words))
        out = [*words[: index + 1], words[index], *words[index + 1 :]]
    return " ".join(out)
