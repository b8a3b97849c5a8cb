"""The one family of errors that carry a message for the user, each with the exit code the CLI returns.

Exit codes (the same for every command, documented in the README and ``facechain --help``):

====  =====================================================================================
0     done
1     an unexpected failure: a bug. Its traceback is printed; nothing here catches it
2     nothing usable: the inputs were read, but none could be used (no usable photo, ...)
3     bad arguments: a value, path or combination the user passed (the message says which)
4     environment: a base model, package, model pack or file that is not there, or offline
130   interrupted (Ctrl-C); checkpoints written so far are kept
====  =====================================================================================

Only ``FacechainError`` is caught by the CLI and the app and shown as one line; any other exception
is a bug and keeps its traceback. Each concrete error derives from one of the three categories below,
so its code follows from what went wrong, not from where it was raised.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    DONE = 0
    UNEXPECTED = 1
    NOTHING_USABLE = 2
    BAD_ARGUMENTS = 3
    ENVIRONMENT = 4
    INTERRUPTED = 130


class FacechainError(RuntimeError):
    """Something the user can fix; ``str(error)`` says what and how, ``exit_code`` what the CLI returns."""

    exit_code: ExitCode = ExitCode.BAD_ARGUMENTS


class BadArguments(FacechainError, ValueError):
    """A value, path or combination the caller passed cannot be used (also a ``ValueError`` for the API)."""

    exit_code = ExitCode.BAD_ARGUMENTS


class NothingUsable(FacechainError):
    """The inputs were read, but not one of them could be used."""

    exit_code = ExitCode.NOTHING_USABLE


class EnvironmentProblem(FacechainError):
    """Something the machine lacks: a model, a package, a model pack, a file, or the network."""

    exit_code = ExitCode.ENVIRONMENT
