"""The one exception type the helpers raise for problems an intern can fix."""


class HelperError(Exception):
    """A problem with a clear, one-line fix; shown without a traceback in notebooks."""


class Interrupted(KeyboardInterrupt):
    """The cell was interrupted (stop button) while a helper ran; shown as one line, the cell stops."""
