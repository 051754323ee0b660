"""The one exception type a user can cause (bad input, missing file, unknown pair...).

The CLI prints its message without a traceback and exits with status 1, so a message must name
the problem and, where there is one, the fix.
"""


class ForecasterError(Exception):
    """A problem the user can fix: the message says what is wrong and what would be accepted."""
