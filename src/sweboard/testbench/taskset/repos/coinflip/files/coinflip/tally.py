"""Counting the faces of a string of coin tosses ("H" heads, "T" tails)."""


def tally(tosses):
    """How many heads and tails: ``tally("HTH") == {"H": 2, "T": 1}``; other letters are refused."""
    counts = {"H": 0, "T": 0}
    for face in tosses:
        if face not in counts:
            raise ValueError(f"not a coin face: {face!r}")
        counts[face] += 1
    return counts
