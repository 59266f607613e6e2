"""The one error type of bad user input (a model file, a token list, a command-line option).

The command line turns it into a one-line message and exit code 2, with nothing written."""


class InputError(ValueError):
    """Bad user input: the message says what is wrong and how to fix it."""


def listed(items: list[str], most: int = 3) -> str:
    """The first ``most`` of ``items`` for a one-line message, and how many more there are.

    Args:
        items: the names to show (missing keys, unknown tokens, files …), in the order the message lists them.
        most: how many of them to name before the rest is summarised as ``and N more``.

    Returns:
        ``"a, b, c and 4 more"``, or all of ``items`` joined by ``", "`` when there are at most ``most``.
    """
    return ", ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")
