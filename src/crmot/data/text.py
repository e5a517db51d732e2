"""Reading a dataset root's text files (gt.txt, expressions, descriptions, seqinfo.ini, masks, JSON).

They are UTF-8. Editors on Windows often start such a file with a byte-order mark, which would glue
itself to the first id or sentence; it is dropped here, once, for every reader of the format.
"""

from __future__ import annotations

import os
from pathlib import Path

from crmot.data.errors import CRTrackFormatError

#: UTF-8 that drops a leading byte-order mark (and reads plain UTF-8 unchanged).
ENCODING = "utf-8-sig"


def read_text(path: str | os.PathLike) -> str:
    """The file's text; a missing file or one that is not UTF-8 raises :class:`CRTrackFormatError`."""
    try:
        return Path(path).read_text(encoding=ENCODING)
    except FileNotFoundError:
        raise CRTrackFormatError(path, "file not found") from None
    except UnicodeDecodeError as err:
        raise CRTrackFormatError(path, f"not UTF-8 text (byte {err.start}: {err.reason}); save it as UTF-8") from None
