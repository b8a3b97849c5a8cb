"""How a tab's handler fails: a user error (``FacechainError``, or a ``gr.Error`` a tab raises itself) is
shown as its message, with no traceback in the server log; anything else is a bug, logged once with its
traceback and shown as a message that says so (never Gradio's bare, empty "Error")."""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from ..errors import FacechainError

log = logging.getLogger("facechain.ui")
BUG_MESSAGE = (
    "Something went wrong on the server (a bug, not your input). It is logged with its traceback; "
    "please report it with what you did."
)


def shown(error: Exception) -> gr.Error:
    """The message the browser shows for ``error``."""
    if isinstance(error, gr.Error):
        error.print_exception = False
        return error
    if isinstance(error, FacechainError):
        return gr.Error(str(error), print_exception=False)
    log.error("unexpected error in a handler", exc_info=error)
    return gr.Error(BUG_MESSAGE, print_exception=False)


def user_errors(handler):
    """Wrap a Gradio handler (function or generator) so its failures are shown as above. Gradio reads
    the handler's parameters (``gr.Request``, ``gr.Progress``) through ``functools.wraps``."""
    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def stream(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except Exception as error:
                raise shown(error) from None

        return stream

    @functools.wraps(handler)
    def call(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Exception as error:
            raise shown(error) from None

    return call
