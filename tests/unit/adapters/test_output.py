from __future__ import annotations

import json

from centinela.adapters.output import Command, batch_commands, connectivity_command
from centinela.adapters.readings import Quality, Reading

WELL = "org.acme.wells:well-01"
RIG = "org.acme.rigs:rig-01"


def test_readings_of_a_thing_become_one_merge_command_with_source_times() -> None:
    readings = [
        Reading(WELL, "pressure", "tubing", 2450.5, 100.0),
        Reading(RIG, "pit", "volume", 480.0, 100.5),
        Reading(WELL, "flow", "oilRate", 820.0, 101.25, Quality.UNCERTAIN),
    ]
    commands = batch_commands(readings, origin="pad")
    assert [c.thing_id for c in commands] == [WELL, RIG]
    env = commands[0].envelope
    assert env["topic"] == "org.acme.wells/well-01/things/twin/commands/merge"
    assert env["path"] == "/features"
    assert env["value"] == {
        "pressure": {"properties": {"tubing": 2450.5}},
        "flow": {"properties": {"oilRate": 820.0}},
    }
    headers = env["headers"]
    assert headers["content-type"] == "application/merge-patch+json"
    assert headers["centinela-source-time"] == "101250"
    assert headers["centinela-origin"] == "pad"
    assert json.loads(headers["put-metadata"]) == [
        {"key": "/pressure/properties/tubing", "value": {"sourceTime": 100000, "quality": "good"}},
        {"key": "/flow/properties/oilRate", "value": {"sourceTime": 101250, "quality": "uncertain"}},
    ]
    assert (
        commands[0].envelope["headers"]["correlation-id"] != commands[1].envelope["headers"]["correlation-id"]
    )


def test_a_repeated_property_starts_a_new_command_so_nothing_is_merged_away() -> None:
    readings = [Reading(WELL, "pressure", "tubing", float(v), float(v)) for v in range(3)]
    readings.insert(1, Reading(WELL, "pressure", "casing", 1.0, 0.5))
    commands = batch_commands(readings)
    assert [c.envelope["value"]["pressure"]["properties"] for c in commands] == [
        {"tubing": 0.0, "casing": 1.0},
        {"tubing": 1.0},
        {"tubing": 2.0},
    ]


def test_bad_readings_are_not_written() -> None:
    readings = [Reading(WELL, "pressure", "tubing", None, 1.0, Quality.BAD)]
    assert batch_commands(readings) == []


def test_commands_survive_json_round_trip() -> None:
    command = connectivity_command(RIG, False, 12.5, 20.0)
    back = Command.from_json(command.to_json())
    assert back == command
    assert back.envelope["value"] == {
        "connectivity": {"properties": {"status": "offline", "lastSeen": 12500}}
    }
