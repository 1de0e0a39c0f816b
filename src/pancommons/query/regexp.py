"""The `regexp` operator, made safe: a pattern runs only if it cannot backtrack catastrophically.

Patterns come from anyone on the internet and run inside the database
(PostgreSQL's engine, or Python's for SQLite).  Catastrophic backtracking
needs a repetition of something that itself repeats (``(a+)+``, ``(a|a)*``)
or a back-reference; we refuse those, and bound the length and repeat counts,
so every accepted pattern runs in time linear in the text on both engines.
The parse is Python's own (``re._parser``), so what we check is what runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

try:  # Python 3.11+ names it _parser; 3.10 and before sre_parse
    from re import _constants as _c
    from re import _parser as _sre
except ImportError:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre  # type: ignore[no-redef]

MAX_PATTERN = 200
MAX_REPEAT = 100
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT)}
_REFUSED = {
    _c.GROUPREF: "back-references",
    _c.GROUPREF_EXISTS: "conditional groups",
    _c.ASSERT: "look-ahead/look-behind",
    _c.ASSERT_NOT: "look-ahead/look-behind",
}
_FLAGS = {"i", "g", "m"}  # JavaScript flags LoopBack clients send; g and m change nothing for a match test


class UnsafePattern(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Pattern:
    source: str
    ignore_case: bool


def parse_regexp(text: str) -> Pattern:
    """A LoopBack regexp value (``^foo``, ``/^foo/i``) checked for safety."""
    source, flags = text, ""
    match = re.fullmatch(r"/(.*)/([a-z]*)", text, re.DOTALL)
    if match:
        source, flags = match.group(1), match.group(2)
        unknown = set(flags) - _FLAGS
        if unknown:
            raise UnsafePattern(f"unknown regexp flag(s) {''.join(sorted(unknown))!r}; use i")
    if len(source) > MAX_PATTERN:
        raise UnsafePattern(f"pattern longer than {MAX_PATTERN} characters")
    _check(source)
    return Pattern(source, "i" in flags)


# Syntax the two engines read differently (PostgreSQL's \b is a backspace, Python has no [[:alpha:]]):
# refused, so a pattern means the same on SQLite and PostgreSQL.
_NOT_SHARED = re.compile(r"\\[bBNAZzG0-9]|\(\?P|\[\[[:=.]|\{,")


@lru_cache(maxsize=512)
def _check(source: str) -> None:
    shared = _NOT_SHARED.search(source)
    if shared:
        raise UnsafePattern(f"{shared.group()!r} is read differently by the databases; it is not supported")
    try:
        parsed = _sre.parse(source)
    except re.error as error:
        raise UnsafePattern(f"invalid pattern: {error}") from None
    if parsed.state.flags & ~(re.UNICODE | re.DEBUG) and "(?" in source:
        raise UnsafePattern("inline flags are not supported; use /pattern/i")
    _walk(parsed, inside_repeat=False)


def _walk(items, inside_repeat: bool) -> bool:
    """Refuse what can backtrack; returns whether this part can match more than one length."""
    variable = False
    for op, argument in items:
        if op in _REFUSED:
            raise UnsafePattern(f"{_REFUSED[op]} are not allowed")
        if op in _REPEATS:
            low, high, body = argument
            if high != _c.MAXREPEAT and high > MAX_REPEAT or low > MAX_REPEAT:
                raise UnsafePattern(f"repeat counts above {MAX_REPEAT} are not allowed")
            if inside_repeat:
                raise UnsafePattern("nested repetition (like (a+)+) is not allowed")
            _walk(body, inside_repeat=True)
            variable = True
        elif op == _c.SUBPATTERN:
            variable |= _walk(argument[-1], inside_repeat)
        elif op == _c.BRANCH:
            if inside_repeat:
                raise UnsafePattern("alternation inside a repetition (like (a|b)*) is not allowed")
            for branch in argument[1]:
                variable |= _walk(branch, inside_repeat)
        elif op == getattr(_c, "ATOMIC_GROUP", None):
            raise UnsafePattern("atomic groups are not allowed")
    return variable


@lru_cache(maxsize=512)
def compiled(source: str, ignore_case: bool) -> re.Pattern:
    return re.compile(source, re.IGNORECASE if ignore_case else 0)


def sqlite_regexp(source: str | None, value: str | None) -> bool | None:
    """SQLite's REGEXP function (``value REGEXP source``); patterns arrive checked."""
    if source is None or value is None:
        return None
    ignore_case = source.startswith("(?i)")
    return compiled(source[4:] if ignore_case else source, ignore_case).search(value) is not None
