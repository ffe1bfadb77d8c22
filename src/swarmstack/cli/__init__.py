"""The `swarmstack` command line: one module per command group."""
