"""Figures for the report, drawn with matplotlib when the ``report`` extra is installed.

:func:`available` says whether matplotlib can be used; without it the report renders without figures, and
each extra lists the figures it did not draw (:func:`not_drawn`) among what it skipped.
"""

from __future__ import annotations

import io

from theory import optional


def available() -> bool:
    """Whether matplotlib can be imported (the figures are drawn only then).

    Returns:
        True when the ``report`` extra's matplotlib is installed.
    """
    return not optional.missing("matplotlib")


def not_drawn(name: str) -> str:
    """The line of an extra's ``skipped`` list for figure ``name`` (drawn only with matplotlib).

    Args:
        name: the figure's name.

    Returns:
        The line, naming the package to install.
    """
    return f"figure {name}: {optional.needs(['matplotlib'])}"


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend.

    Returns:
        The ``matplotlib.pyplot`` module.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig) -> bytes:
    """The figure as PNG bytes (closed afterwards).

    Args:
        fig: a matplotlib figure.

    Returns:
        The PNG file's bytes (110 dpi).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return buffer.getvalue()
