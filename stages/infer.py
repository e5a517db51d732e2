"""Alias of `crmot infer` (the card's stages/ folder): python stages/infer.py <subcommand> [overrides]"""
import sys

from crmot.cli import main

sys.exit(main(["infer", *sys.argv[1:]]))
