from textkit import collapse_whitespace, slugify


def test_slugify_ascii_words():
    assert slugify("Hello World") == "hello-world"


def test_slugify_punctuation():
    assert slugify("  Rock & Roll!  ") == "rock-roll"


def test_slugify_custom_separator():
    assert slugify("a b c", separator="_") == "a_b_c"


def test_collapse_whitespace():
    assert collapse_whitespace(" a \t b\n") == "a b"
