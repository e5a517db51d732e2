"""How every stage's command line runs: INFO logging, and crmot's own errors (bad input, a missing
file or setting) as one line naming the file (exit code 2) rather than a traceback."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from crmot.constants import CONF_DIR
from crmot.errors import CrmotError

#: Warnings that say nothing to a crmot user: the frozen SAM2 is kept in eval mode on purpose, the
#: demo drives the CLIs from Python, and Lightning's own use of a deprecated torch API.
KNOWN_WARNINGS = (r"Found \d+ module\(s\) in eval mode", r"LightningCLI's args parameter", r".*LeafSpec.* is deprecated",
                  r"No seed found, seed set to")

#: Loggers whose INFO lines are third-party banners.
BANNERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
           "lightning.fabric.utilities.seed", "lightning.pytorch.accelerators.cuda")

#: What a user can cause and fix: a malformed root, a missing file or checkpoint, a wrong setting.
INPUT_ERRORS: tuple[type[Exception], ...] = (CrmotError,)


def configure_logging(*handlers: logging.Handler) -> None:
    """INFO to the root handlers, once per message: Lightning installs its own handler when it is
    imported before logging is set up, which printed every line twice, and its advertising tips go."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=list(handlers) or None)
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        lightning = logging.getLogger(name)
        for handler in list(lightning.handlers):
            lightning.removeHandler(handler)
        lightning.propagate = True
    for handler in logging.getLogger().handlers:
        handler.addFilter(_not_a_tip)  # the same function each call: added once per handler
    for message in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    for chatty in BANNERS:  # "GPU available: ...", "Seed set to 0": not what a crmot user needs to read
        logging.getLogger(chatty).setLevel(logging.WARNING)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # its "Loading weights" bars and notices
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _not_a_tip(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("💡 Tip")


def run_stage(cli: Callable[[], object]) -> None:
    configure_logging()
    try:
        cli()
    except INPUT_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def with_packaged_config(args: list[str] | None, name: str) -> list[str]:
    """The stage's arguments with its packaged YAML (``crmot/conf/<name>``) as the config when the user
    names none, so that ``crmot <stage> <subcommand> [overrides]`` runs from any directory."""
    args = list(sys.argv[1:] if args is None else args)
    if not args or args[0].startswith("-") or any(a == "--config" or a.startswith("--config=") for a in args):
        return args
    return [args[0], "--config", str(Path(CONF_DIR) / name), *args[1:]]
