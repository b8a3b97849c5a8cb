"""The base of errors that carry a message for the user: the CLI prints them without a traceback."""


class FacechainError(RuntimeError):
    """Something the user can fix; ``str(error)`` says what and how."""
