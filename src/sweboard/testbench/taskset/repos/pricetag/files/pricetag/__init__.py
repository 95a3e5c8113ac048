"""Amounts in cents, formatted as dollars."""

from pricetag.format import price

__all__ = ["price"]
