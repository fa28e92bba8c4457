"""A text stream that says it is a terminal: what a user at a console has as stderr, so
progress bars are drawn (``getvalue()`` gives what was drawn)."""
import io


class Terminal(io.StringIO):
    """An ``io.StringIO`` whose ``isatty()`` is True."""

    def isatty(self) -> bool:
        return True
