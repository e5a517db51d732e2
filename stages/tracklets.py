"""Alias of `crmot tracklets` (the card's stages/ folder): python stages/tracklets.py <subcommand> [overrides]"""
import sys

from crmot.cli import main

sys.exit(main(["tracklets", *sys.argv[1:]]))
