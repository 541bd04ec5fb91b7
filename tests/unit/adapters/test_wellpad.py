from __future__ import annotations

from centinela.adapters.wellpad import POINTS, RIG, THINGS, WellPad

TUBING_1 = "org.acme.wells:well-01/pressure/tubing"
TUBING_2 = "org.acme.wells:well-02/pressure/tubing"


def test_the_model_is_a_pure_function_of_seed_and_time() -> None:
    assert WellPad(7).sample(12.3) == WellPad(7).sample(12.3)
    assert WellPad(7).sample(12.3) != WellPad(8).sample(12.3)
    assert WellPad(7).sample(0.0) != WellPad(7).sample(1.0)  # noise moves


def test_every_point_of_every_thing_is_simulated() -> None:
    sample = WellPad().sample(0.0)
    assert {p.thing for p in POINTS} == set(THINGS)
    assert set(sample) == {p.key() for p in POINTS}


def test_well_01_tubing_pressure_exceeds_its_limit_for_about_forty_seconds() -> None:
    pad = WellPad(3)
    above = [t for t in range(0, 120) if pad.sample(float(t))[TUBING_1] > 3000]
    assert above[0] == 15
    assert 38 <= len(above) <= 44
    assert pad.sample(100.0)[TUBING_1] < 2600


def test_well_02_tubing_pressure_stops_updating_for_a_while() -> None:
    pad = WellPad()
    assert TUBING_2 in pad.sample(20.0)
    assert TUBING_2 not in pad.sample(30.0)
    assert TUBING_2 in pad.sample(90.0)


def test_rig_kick_gains_pit_volume_with_returns_above_ten_percent() -> None:
    pad = WellPad(1)
    before = pad.sample(19.0)
    a, b = pad.sample(30.0), pad.sample(90.0)
    gain_per_min = b[f"{RIG}/pit/volume"] - a[f"{RIG}/pit/volume"]
    assert gain_per_min > 5.0
    assert a[f"{RIG}/flow/returnRatio"] > 1.1
    assert before[f"{RIG}/flow/returnRatio"] < 1.05


def test_a_cycle_repeats_the_excursions() -> None:
    pad = WellPad(cycle=100.0)
    assert pad.sample(130.0)[TUBING_1] > 3000
