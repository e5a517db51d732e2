"""crmot's own errors: what a user caused and can fix, each message naming the file or setting.

The ``crmot`` command and the stage launchers print these as one line (exit code 2); every other
exception is a bug or an environment problem and keeps its traceback. They subclass the builtin
they refine, so ``except ValueError`` around library code still catches them.
"""

from __future__ import annotations


class CrmotError(Exception):
    """Base of every error a user can fix from its message alone."""


class ConfigError(CrmotError, ValueError):
    """A setting or argument with a value crmot cannot use."""


class MissingFileError(CrmotError, FileNotFoundError):
    """A file, folder or checkpoint that a setting names and that is not there (or not finished)."""
