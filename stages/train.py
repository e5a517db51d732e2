"""Alias of `crmot train` (the card's stages/ folder): python stages/train.py <subcommand> [overrides]"""
import sys

from crmot.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
