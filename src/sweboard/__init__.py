"""sweboard: a trustworthy leaderboard of coding LLMs on pinned slices of SWE-bench."""

__version__ = "0.1.0"
