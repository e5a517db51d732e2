"""The one error type for malformed dataset files."""

from __future__ import annotations

import os

from crmot.errors import CrmotError


class CRTrackFormatError(CrmotError, ValueError):
    """A dataset file or folder does not follow the CRTrack layout.

    The message always names the path (and the 1-based line where one applies), so a user can
    open the file and fix it without reading a traceback.
    """

    def __init__(self, path: str | os.PathLike, message: str, line: int | None = None):
        self.path = os.fspath(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
