from unitconv import from_kelvin, to_kelvin


def test_celsius_round_trip():
    assert abs(from_kelvin(to_kelvin(21.5, "C"), "C") - 21.5) < 1e-9


def test_fahrenheit_to_kelvin():
    assert abs(to_kelvin(32, "F") - 273.15) < 1e-9
