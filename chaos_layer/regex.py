"""Regular expressions from a config, run in linear time: RE2 (the google-re2 package).

A `match.regex` runs on every invocation, on a value the function's callers choose. A
backtracking engine (Python's `re`) can take exponential time on a crafted input:
`^(a|a)*$`, `^(.*,){11}x`, `a*a*a*a*a*a*b` and `\\s*\\s*\\s*\\s*\\s*x$` each held an
invocation for more than ten seconds on a header of a few hundred characters. No check of
a pattern's shape catches every such pattern. RE2 has no backtracking: it matches in time
linear in the input, in memory bounded per pattern. Linear is not cheap for every pattern:
where its automaton outgrows RE2's memory, each byte costs up to the pattern's program size
(`[ab]*a[ab]{999}c` takes about 10 s per MB), so the blast radius matches only values of at
most 4,096 characters (chaos_layer.blast_radius). What it gives up for that (backreferences,
lookarounds, atomic groups) is refused when the config is read: such a pattern is a config
error, so nothing is injected.

google-re2 is imported only when a config has a regex. Patterns and values are matched as
UTF-8; a value's lone surrogate (valid in a Python string, not in UTF-8) is matched as its
three bytes, never an error raised into the handler. RE2's own error text quotes the
pattern, so messages name the kind of problem only, and RE2 is told not to log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# RE2's error codes (the text before ": " in its error) -> what they mean, without the pattern.
_REASONS = {
    "invalid escape sequence": "an escape RE2 does not have (a backreference such as \\1, or \\Z: write $)",
    "invalid perl operator": "a lookaround, a backreference by name or an atomic group, which RE2 does not have",
    "missing )": "a ( without its )",
    "unexpected )": "a ) without its (",
    "missing ]": "a [ without its ]",
    "bad repetition operator": "a repetition of a repetition, such as a** or a++",
    "invalid repetition size": "a repetition count above 1000, or in the wrong order",
    "no argument for repetition operator": "a repetition with nothing to repeat",
    "invalid character class": "an invalid character class",
    "invalid character class range": "an invalid character class or range",
    "trailing \\": "a trailing backslash",
    "invalid named capture group": "an invalid group name",
    "invalid UTF-8": "invalid UTF-8",
    "pattern too large - compile failed": "a pattern too large to compile",
    "pattern too large - reverse compile failed": "a pattern too large to compile",
}


def _compile(pattern: str) -> Any:
    import re2  # google-re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print the pattern on stderr
    options.never_capture = True  # found or not is all we ask: without groups RE2 keeps to its DFA
    return re2.compile(pattern.encode("utf-8"), options)


def problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used (safe to log: never the pattern), or None."""
    try:
        import re2
    except ImportError:
        return "cannot be checked: the google-re2 package is not installed"
    try:
        _compile(pattern)
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogate)"
    except re2.error as error:
        text = error.args[0] if error.args else b""
        code = (text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)).split(": ", 1)[0]
        reason = _REASONS.get(code, "a construct that does not compile")
        return f"must be a regular expression in RE2 syntax; this one has {reason}"
    return None


def searcher(pattern: str) -> Callable[[str], bool]:
    """`search(value)`: whether `pattern` (checked by `problem`) is found in `value`."""
    search = _compile(pattern).search

    def found(value: str) -> bool:
        return search(value.encode("utf-8", "surrogatepass")) is not None

    return found
