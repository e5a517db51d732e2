"""Alias of `crmot associate` (the card's stages/ folder): python stages/associate.py <subcommand> [overrides]"""
import sys

from crmot.cli import main

sys.exit(main(["associate", *sys.argv[1:]]))
