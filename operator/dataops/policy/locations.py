"""Sink locations as policies see them: one normal form, and fnmatch globs as RE2 regular expressions.

Pure. The same semantics are compiled into CEL by :mod:`dataops.policy.admission`, so the API server
and the operator's offline checks give the same verdict (tests compare the two on generated cases).

Normal form of a location (a sink path, or ``url#table`` for a JDBC sink):

1. A leading ``scheme://authority`` (``s3a://bucket``, ``jdbc:postgresql://db:5432``, ``file://``) is
   the *head*: kept verbatim. The rest is split on ``/``.
2. Empty and ``.`` segments are dropped (``//`` collapses, trailing slashes go).
3. ``..`` removes the segment before it. A ``..`` with nothing left to remove *climbs above the root*
   (``/data/../../etc``, ``s3a://bucket/../other``, ``../x``): such a location matches no pattern.
4. The result is the head, then ``/`` when the rest was absolute (and is not the bare root of a
   head), then the kept segments joined by ``/``.
5. A location with ``..`` segments and more than :data:`MAX_SEGMENTS` segments after its head matches
   no pattern (the API server's CEL cost budget).

Patterns are matched against the normal form with :func:`fnmatch.fnmatchcase` semantics: ``*``
matches any run of characters including ``/``, ``?`` one character, ``[seq]`` / ``[!seq]`` a set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEAD_PATTERN = r"^[A-Za-z][A-Za-z0-9+.:-]*://[^/]*"
"""``scheme://authority``; RE2 and Python read it the same way (used verbatim in CEL)."""
MAX_SEGMENTS = 48
"""A location with ``..`` segments may have at most this many segments after its head: resolving
``..`` costs CEL quadratic time and the API server evaluates under a cost budget. A deeper one
matches no pattern, on both sides."""

_HEAD = re.compile(HEAD_PATTERN)


@dataclass(frozen=True)
class NormalLocation:
    """The normal form of a location, or why it has none (then no pattern matches it)."""

    text: str | None
    problem: str | None = None


def split_head(location: str) -> tuple[str, str]:
    """(``scheme://authority`` or "", the rest)."""
    match = _HEAD.match(location)
    head = match.group(0) if match else ""
    return head, location[len(head) :]


def normalize_location(location: str) -> NormalLocation:
    head, rest = split_head(location)
    segments = rest.split("/")
    kept: list[str] = []
    if ".." not in segments:
        kept = [s for s in segments if s not in ("", ".")]
    elif len(segments) > MAX_SEGMENTS:
        return NormalLocation(None, f"has more than {MAX_SEGMENTS} segments to normalise")
    else:
        for segment in segments:
            if segment == "..":
                if not kept:
                    return NormalLocation(None, "climbs above its root with ..")
                kept.pop()
            elif segment not in ("", "."):
                kept.append(segment)
    lead = "/" if rest.startswith("/") and (kept or not head) else ""
    return NormalLocation(head + lead + "/".join(kept))


# -- fnmatch globs as RE2 ------------------------------------------------------------------------

_ANY = "."  # with the s flag: any character, newlines included (fnmatch compiles with re.DOTALL)
_NOTHING = r"[^\s\S]"  # an empty set: matches no character
_META = frozenset("\\.+*?()|[]{}^$")
_CLASS_META = frozenset("\\[]^-&~|")  # & ~ | escaped too: Python's re warns about set operations


def _escape(char: str, meta: frozenset[str] = _META) -> str:
    """One literal character, the same in RE2 and Python's re (no other character is special)."""
    return "\\" + char if char in meta else char


def _set_items(content: str) -> list[str]:
    """The items of a bracket expression's content (without ``[``, ``!`` and ``]``), as regex class
    items: single characters and ``lo-hi`` ranges, exactly as :func:`fnmatch.translate` reads them
    (a ``-`` first or last is literal; after a range, the next ``-`` starts no range; reversed
    ranges drop both of their ends)."""
    if "-" not in content:
        return [_escape(c, _CLASS_META) for c in content]
    chunks: list[str] = []
    start, k = 0, 1
    while True:
        k = content.find("-", k)
        if k < 0:
            break
        chunks.append(content[start:k])
        start = k + 1
        k += 3
    last = content[start:]
    if last:
        chunks.append(last)
    else:
        chunks[-1] += "-"
    for k in range(len(chunks) - 1, 0, -1):
        if chunks[k - 1][-1] > chunks[k][0]:
            chunks[k - 1] = chunks[k - 1][:-1] + chunks[k][1:]
            del chunks[k]
    # Consecutive chunks meet in a range: the last character of one to the first of the next.
    items: list[str] = []
    for index, chunk in enumerate(chunks):
        chars = [_escape(c, _CLASS_META) for c in chunk]
        if index > 0:
            items[-1] = f"{items[-1]}-{chars[0]}"
            chars = chars[1:]
        items.extend(chars)
    return items


def glob_to_re2(pattern: str) -> str:
    """An anchored RE2 (and Python) regular expression matching exactly what
    ``fnmatchcase(name, pattern)`` matches."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            if not out or out[-1] != f"{_ANY}*":
                out.append(f"{_ANY}*")
        elif c == "?":
            out.append(_ANY)
        elif c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(_escape("["))
                continue
            negated = pattern[i] == "!"
            items = _set_items(pattern[i + 1 if negated else i : j])
            i = j + 1
            if not items:
                out.append(_ANY if negated else _NOTHING)
            else:
                out.append("[" + ("^" if negated else "") + "".join(items) + "]")
        else:
            out.append(_escape(c))
    return "(?s)^" + "".join(out) + "$"
