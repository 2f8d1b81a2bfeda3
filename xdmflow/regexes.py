"""Regular expressions with linear-time semantics: every user-supplied pattern goes through here.

A thin wrapper of RE2 (``google-re2``, the engine Arrow compute uses): no backtracking, so no
pattern and input can take more than time linear in the input — ``^(a+)+$`` on ``"a"*28 + "!"``
is as fast as on ``"a"``. RE2 refuses what needs backtracking (backreferences ``\\1``, lookaround
``(?=…)``, possessive quantifiers): :func:`compile` raises :class:`RegexError` (a ``ValueError``
with a message saying why), which mapping and schema validation report as the user's error.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

from xdmflow.errors import InvalidValueError

__all__ = ["RegexError", "compile", "Pattern"]

Pattern = Any  # re2._Regexp: the module ships no type hints


class RegexError(InvalidValueError):
    """A pattern RE2 cannot compile (invalid, or needing backtracking)."""


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str | bytes) -> Pattern:
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        why = exc.args[0] if exc.args else exc
        why = why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)
        shown = pattern if isinstance(pattern, str) else pattern.decode("utf-8", "replace")
        raise RegexError(
            f"Regular expression {shown!r} is not supported: {why}. Patterns use RE2 syntax "
            "(no backreferences or lookaround)"
        ) from None


def compile(pattern: str | bytes) -> Pattern:  # noqa: A001 - mirrors re.compile
    """Compile ``pattern`` with RE2 (cached); :class:`RegexError` if RE2 cannot run it."""
    if not isinstance(pattern, str | bytes):
        raise RegexError(f"A regular expression must be a string, not {type(pattern).__name__}")
    return _compile(pattern)
