"""The app's adapter of the progress protocol (``facechain.progress``) to Gradio's progress bar."""

from __future__ import annotations

from ..progress import Progress


def gradio_progress(progress, unit: str) -> Progress | None:
    """A ``Progress`` that moves the handler's ``gr.Progress``: "<unit> 3/8 · <message>"; None for none."""
    if progress is None:
        return None

    def report(step: int, total: int, message: str = "") -> None:
        progress(step / total if total else None, desc=f"{unit} {step}/{total}" + (f" · {message}" if message else ""))

    return report
