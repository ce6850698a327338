"""`python -m bot` runs the `handoff` command."""

from bot.cli import main

main()
