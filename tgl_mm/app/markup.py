"""Text from a request (sentences, file names, error messages) shown literally on the page.

The status box is Markdown (with HTML and, in Gradio, LaTeX between ``$`` signs):
:func:`escape_markdown` makes any text appear exactly as typed, never as markup, links, HTML or
math.
"""
from __future__ import annotations

import html
import re

#: characters with a meaning inside a Markdown line (emphasis, code, links, tables,
#: strikethrough) or in Gradio's LaTeX delimiters; ``<``, ``>`` and ``&`` become HTML entities.
#: (Line-start markers such as ``#``, ``-`` or ``1.`` need no escape: the text never starts a
#: line, see :func:`escape_markdown`.)
_MARKDOWN_SPECIAL = re.compile(r'([\\`*_\[\]$~|])')


def unescape_markdown(text: str) -> str:
    """The text :func:`escape_markdown` was given (newlines aside)."""
    return html.unescape(re.sub(r'\\(.)', r'\1', text))


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown inside a line (after a label such as ``**Error:**``):
    Markdown and ``$`` characters backslash-escaped, then ``&``, ``<`` and ``>`` as HTML
    entities, newlines as spaces (the status box is one line)."""
    text = ' '.join(str(text).splitlines())
    return html.escape(_MARKDOWN_SPECIAL.sub(r'\\\1', text), quote=False)


__all__ = ['escape_markdown', 'unescape_markdown']
