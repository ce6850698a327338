"""The `handoff` commands, one module per noun; `bot.cli` adds each module's commands."""
