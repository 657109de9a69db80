"""The one exception type for user mistakes: the CLI prints its message and exits 2."""


class InceptionScoreError(Exception):
    """A problem with the user's input, options or environment, with a message that says what to do."""


class InceptionScoreWarning(UserWarning):
    """A result that may not mean what the user thinks: few images, other weights, class-sorted order,
    a statistics file made with other weights."""
