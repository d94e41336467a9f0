"""An API key that cannot leak through ``repr``, ``str``, logs or tracebacks by accident."""

from __future__ import annotations

__all__ = ["Secret", "redact"]


class Secret:
    """Holds a secret string; only :meth:`reveal` gives it back."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one header that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def redact(text: str, secret: Secret | None) -> str:
    """``text`` with every occurrence of the secret replaced, for messages built from foreign data."""
    if secret is None or not secret.reveal():
        return text
    return text.replace(secret.reveal(), "***")
