"""One explanation of one document by one method: :class:`Explanation`, what every registered method returns
(:mod:`theory.explainers.registry`).

A method scores *features* in one of two units: ``"position"`` — the positions ``0..L`` of the document (CLS and the
words; padding is not explained), ``scores[k]`` of ``positions[k]`` — or ``"word"`` — the ``d`` distinct word ids
in order of first appearance (lime's feature order), ``scores[j]`` of ``words[j]``.  Whatever else the method
computes (standard errors, the intercept, the completeness gap, its options, the positions where it is exactly zero)
are its ``extras``, in the order the method reports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UNITS = ("position", "word")


@dataclass(frozen=True, eq=False)
class Explanation:
    """The explanation of one document by one method.

    ``features`` are the positions ``0..L`` (``unit = "position"``) or the distinct word ids (``unit = "word"``),
    one per score; ``positions`` and ``tokens`` are the document's explained positions and the token at each;
    ``f`` is the model's output on the document; ``extras`` the method's own results (e.g. ``stderr``,
    ``intercept``, ``completeness_gap``, ``exactly_zero``)."""

    method: str
    f: float
    unit: str
    features: list[int]
    scores: list[float]
    positions: list[int]
    tokens: list[int]
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unit {self.unit!r}: an explanation scores a position or a word")
        if len(self.features) != len(self.scores):
            raise ValueError(f"{self.method}: {len(self.scores)} scores for {len(self.features)} features")

    @property
    def stderr(self) -> list[float] | None:
        """The standard errors of the scores (estimators), None for an exact method."""
        return self.extras.get("stderr")

    def to_json(self) -> dict[str, Any]:
        """What ``attnverify explain --json`` prints for this explanation.

        Returns:
            ``{"method", "f", "positions", "tokens", "scores_of", "scores"}`` — ``scores_of`` is ``"positions"`` or
            ``"words"`` —, then ``"words"`` for a word method, then the extras.
        """
        words = {"words": self.features} if self.unit == "word" else {}
        return {
            "method": self.method,
            "f": self.f,
            "positions": self.positions,
            "tokens": self.tokens,
            "scores_of": self.unit + "s",
            "scores": self.scores,
            **words,
            **self.extras,
        }
