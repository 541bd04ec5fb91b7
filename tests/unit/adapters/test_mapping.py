from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from centinela.adapters.codec import DataType
from centinela.adapters.config import MappingError, Table
from centinela.adapters.mapping import load_gateway, parse_gateway

GOOD = """
name: pad
modbus:
  - name: well-01
    port: 5020
    points:
      - {name: tubing, thing: "org.acme.wells:well-01", feature: pressure, property: tubing, address: 0}
      - {name: running, thing: "org.acme.wells:well-01", feature: esp, property: running,
         table: coil, address: 3, type: bool}
      - {name: fault, thing: "org.acme.wells:well-01", feature: esp, property: fault,
         table: input, address: 7, type: bool, bit: 4}
"""


def test_a_good_file_loads_with_defaults() -> None:
    config = parse_gateway(GOOD, "pad.yaml")
    device = config.modbus[0]
    assert device.host == "127.0.0.1" and device.port == 5020
    assert [p.table for p in device.points] == [Table.HOLDING, Table.COIL, Table.INPUT]
    assert device.points[0].type is DataType.FLOAT32 and device.points[0].width == 2
    assert device.points[2].bit == 4


def _problems(text: str, file: str = "bad.yaml") -> list[str]:
    with pytest.raises(MappingError) as info:
        parse_gateway(text, file)
    assert file in str(info.value)
    return [str(p) for p in info.value.problems]


def test_every_bad_field_is_reported_with_file_point_and_field() -> None:
    data = yaml.safe_load(GOOD)
    points = data["modbus"][0]["points"]
    points[0]["type"] = "float16"
    points[1]["table"] = "coils"
    points[2]["thing"] = "not a thing id"
    problems = _problems(yaml.safe_dump(data))
    assert len(problems) == 3
    assert problems[0].startswith("bad.yaml: point 'well-01/tubing', field 'type':")
    assert "'float16'" in problems[0]
    assert problems[1].startswith("bad.yaml: point 'well-01/running', field 'table':")
    assert problems[2].startswith("bad.yaml: point 'well-01/fault', field 'thing':")


def test_missing_and_unknown_fields_are_named() -> None:
    data = yaml.safe_load(GOOD)
    del data["modbus"][0]["points"][0]["address"]
    data["modbus"][0]["points"][1]["adress"] = 4
    problems = _problems(yaml.safe_dump(data))
    assert any("'well-01/tubing', field 'address': Field required" in p for p in problems)
    assert any("'well-01/running', field 'adress': Extra inputs are not permitted" in p for p in problems)


def test_inconsistent_points_are_explained() -> None:
    data = yaml.safe_load(GOOD)
    data["modbus"][0]["points"][1]["type"] = "int16"  # a coil is a bit
    problems = _problems(yaml.safe_dump(data))
    assert problems == [
        "bad.yaml: point 'well-01/running', field '-': a coil point must have type bool, not int16."
    ]


def test_cross_point_checks_find_overlaps_and_duplicate_targets() -> None:
    data = yaml.safe_load(GOOD)
    points = data["modbus"][0]["points"]
    points.append({**points[0], "name": "tubing2", "address": 1})
    problems = _problems(yaml.safe_dump(data))
    assert any(
        "'well-01/tubing2', field 'address': holding 1 is already used by point tubing" in p for p in problems
    )
    assert any(
        "'well-01/tubing2', field 'property'" in p and "already mapped by well-01/tubing" in p
        for p in problems
    )


def test_syntax_errors_and_unreadable_files(tmp_path: Path) -> None:
    assert "not valid YAML" in _problems("modbus: [", "x.yaml")[0]
    with pytest.raises(MappingError, match="cannot be read"):
        load_gateway(tmp_path / "missing.yaml")


def test_toml_files_load(tmp_path: Path) -> None:
    path = tmp_path / "pad.toml"
    path.write_text(
        '[[opcua]]\nname = "rig"\nurl = "opc.tcp://127.0.0.1:4840/"\n'
        '[[opcua.points]]\nname = "wob"\nthing = "org.acme.rigs:rig-01"\nfeature = "drilling"\n'
        'property = "wob"\nnode = "ns=2;s=wob"\ndeadband = 0.5\n'
    )
    config = load_gateway(path)
    assert config.opcua[0].points[0].deadband == 0.5


def test_security_needs_certificates() -> None:
    text = (
        "opcua:\n  - name: rig\n    url: opc.tcp://127.0.0.1:4840/\n"
        "    security: {policy: Basic256Sha256, mode: Sign}\n"
        "    points: [{name: wob, thing: 'org.acme.rigs:rig-01', feature: drilling,\n"
        "              property: wob, node: x}]\n"
    )
    problems = _problems(text)
    assert problems == [
        "bad.yaml: device 'rig', field 'security': policy Basic256Sha256 needs `certificate` and "
        "`private_key`."
    ]


def test_bits_may_share_a_register_but_not_a_bit_or_a_value() -> None:
    data = yaml.safe_load(GOOD)
    points = data["modbus"][0]["points"]
    base = {"thing": "org.acme.wells:well-01", "feature": "esp", "table": "input", "type": "bool"}
    points.append({**base, "name": "alarm", "property": "alarm", "address": 7, "bit": 5})  # shares: fine
    points.append({**base, "name": "again", "property": "again", "address": 7, "bit": 4})  # same bit
    points.append({"name": "word", "thing": "org.acme.wells:well-01", "feature": "esp", "property": "word",
                   "table": "input", "address": 7, "type": "uint16"})  # fmt: skip
    problems = _problems(yaml.safe_dump(data))
    assert problems == [
        "bad.yaml: point 'well-01/again', field 'address': bit 4 of input 7 is already used by point fault.",
        "bad.yaml: point 'well-01/word', field 'address': input 7 is already used by point fault.",
    ]
