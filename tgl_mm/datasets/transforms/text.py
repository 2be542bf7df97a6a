"""Expression text helpers."""
from __future__ import annotations

import re

_LR = re.compile(r'\b(left|right)(most|wards?|side|hand)?\b', re.IGNORECASE)
_SWAP = {'left': 'right', 'right': 'left'}


def _match_case(word: str, like: str) -> str:
    if like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word.capitalize()
    return word


def swap_left_right(text: str) -> str:
    """Swap the words *left* and *right* (also *leftmost*, *rightward(s)*, *left-hand*, ...),
    keeping their case: the expression of a horizontally flipped video.

    >>> swap_left_right('The dog on the LEFT moves to the right-hand side')
    'The dog on the RIGHT moves to the left-hand side'
    """
    def repl(m: re.Match) -> str:
        base, suffix = m.group(1), m.group(2) or ''
        return _match_case(_SWAP[base.lower()], base) + suffix
    return _LR.sub(repl, text)
