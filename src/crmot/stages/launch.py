"""How every stage's command line runs: INFO logging, and bad input as one line naming the file
(exit code 2) rather than a traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from crmot.data.crtrack import CRTrackFormatError

#: What a user can cause and fix: a malformed root, a missing file or checkpoint, a wrong setting.
INPUT_ERRORS: tuple[type[Exception], ...] = (CRTrackFormatError, FileNotFoundError, ValueError)


def run_stage(cli: Callable[[], object], errors: tuple[type[Exception], ...] = INPUT_ERRORS) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cli()
    except errors as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
