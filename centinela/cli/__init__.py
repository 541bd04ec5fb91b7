"""The `centinela` command line."""
