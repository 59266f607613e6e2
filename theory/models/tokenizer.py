"""The authors' tokenizer — torchtext's ``basic_english`` (``torchtext.data.utils._basic_english_normalize``),
re-implemented here so that the suite does not depend on torchtext.

A line of text is lower-cased (``str.lower``), then these twelve substitutions are applied *in this order*
(regular expressions on the whole line), and the result is split on whitespace (``str.split``):

====  ===============  =====================  ====================================================
rule  pattern          replaced by            effect
====  ===============  =====================  ====================================================
1     ``'``            ``" '  "``             an apostrophe becomes a token of its own (``don't`` → ``don ' t``)
2     ``"``            ``""``                 double quotes are removed (no split: ``a"b`` → ``ab``)
3     ``.``            ``" . "``              a full stop becomes a token (also inside ``3.5`` → ``3 . 5``)
4     ``<br />``       ``" "``                the HTML line break of IMDB reviews separates words
5     ``,``            ``" , "``              a comma becomes a token
6     ``(``            ``" ( "``              an opening parenthesis becomes a token
7     ``)``            ``" ) "``              a closing parenthesis becomes a token
8     ``!``            ``" ! "``              an exclamation mark becomes a token
9     ``?``            ``" ? "``              a question mark becomes a token
10    ``;``            ``" "``                a semicolon separates words and is removed
11    ``:``            ``" "``                a colon separates words and is removed
12    ``\\s+``          ``" "``                any run of (Unicode) whitespace is one space
====  ===============  =====================  ====================================================

Nothing else is split: hyphens, slashes, digits, ``&``, ``*``, ``[`` … stay inside their token (``well-made``,
``10/10``, ``[cls]``).  Order matters once: rule 4 runs after rule 3, so ``<br />`` is still intact then
(it contains no full stop), but rule 2 removes a ``"`` before rule 4 could see it.  Since ``<br />`` is matched
after lower-casing, ``<BR />`` is a line break too; ``<br/>`` (no space) is not, and stays one token.
"""

from __future__ import annotations

import re

#: (pattern, replacement) in torchtext's order
RULES = (
    (r"\'", " '  "),
    (r"\"", ""),
    (r"\.", " . "),
    (r"<br \/>", " "),
    (r",", " , "),
    (r"\(", " ( "),
    (r"\)", " ) "),
    (r"\!", " ! "),
    (r"\?", " ? "),
    (r"\;", " "),
    (r"\:", " "),
    (r"\s+", " "),
)
_COMPILED = tuple((re.compile(pattern), replacement) for pattern, replacement in RULES)


def basic_english(line: str) -> list[str]:
    """The tokens of ``line`` under torchtext's ``basic_english`` rules (module docstring).

    Args:
        line: one line of text.

    Returns:
        Its tokens, lower-cased, in order.
    """
    line = line.lower()
    for pattern, replacement in _COMPILED:
        line = pattern.sub(replacement, line)
    return line.split()
