"""The re-implemented torchtext ``basic_english`` tokenizer, rule by rule.  Every expected output is written by
hand from the rules in ``theory.models.tokenizer``'s docstring (torchtext's ``_patterns``/``_replacements``),
not produced by the implementation."""

import pytest

from theory.models.tokenizer import RULES, basic_english


@pytest.mark.parametrize(
    "text, expected",
    [
        ("You Can NOW", ["you", "can", "now"]),  # lower-casing
        ("don't", ["don", "'", "t"]),  # rule 1: apostrophe is a token
        ("'quoted'", ["'", "quoted", "'"]),
        ('a "great" film', ["a", "great", "film"]),  # rule 2: double quotes removed
        ('a"b', ["ab"]),  # ... without splitting
        ("end. next", ["end", ".", "next"]),  # rule 3
        ("3.5 stars", ["3", ".", "5", "stars"]),
        ("...", [".", ".", "."]),
        ("one<br />two", ["one", "two"]),  # rule 4
        ("one<BR />two", ["one", "two"]),  # after lower-casing
        ("one<br/>two", ["one<br/>two"]),  # no space: not a line break
        ("a,b", ["a", ",", "b"]),  # rule 5
        ("(aside)", ["(", "aside", ")"]),  # rules 6 and 7
        ("wow!", ["wow", "!"]),  # rule 8
        ("why?", ["why", "?"]),  # rule 9
        ("a;b", ["a", "b"]),  # rule 10: removed, separates
        ("a:b", ["a", "b"]),  # rule 11
        ("a \t\n  b\u00a0c", ["a", "b", "c"]),  # rule 12 (and str.split): Unicode whitespace
        ("well-made 10/10 & [cls] *", ["well-made", "10/10", "&", "[cls]", "*"]),  # not split
        ("", []),
        ("   ", []),
    ],
)
def test_rule(text, expected):
    assert basic_english(text) == expected


def test_rules_are_torchtexts_twelve_in_order():
    assert [p for p, _ in RULES] == [
        r"\'",
        r"\"",
        r"\.",
        r"<br \/>",
        r",",
        r"\(",
        r"\)",
        r"\!",
        r"\?",
        r"\;",
        r"\:",
        r"\s+",
    ]


def test_torchtext_docstring_example():
    """The example of torchtext's get_tokenizer docstring."""
    assert basic_english("You can now install TorchText using pip!") == [
        "you",
        "can",
        "now",
        "install",
        "torchtext",
        "using",
        "pip",
        "!",
    ]
