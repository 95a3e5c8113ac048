"""Tallies of coin tosses."""

from coinflip.tally import tally

__all__ = ["tally"]
