"""swarmstack: a hardened, highly available Docker swarm from one command."""

# The one place the version is written: pyproject.toml reads it from here, and `--version`
# prints it without importing importlib.metadata (which costs start-up time).
__version__ = "0.1.0"

__all__ = ["__version__"]
