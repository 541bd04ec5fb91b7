from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from centinela.adapters.mapping import load_gateway
from centinela.adapters.sim_modbus import wellpad_modbus_mapping
from centinela.adapters.sim_opcua import wellpad_opcua_mapping
from centinela.adapters.wellpad import POINTS
from centinela.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "adapters"


def test_example_mappings_match_the_simulators() -> None:
    modbus = wellpad_modbus_mapping("127.0.0.1", 5020)
    opcua = wellpad_opcua_mapping("opc.tcp://127.0.0.1:4840/centinela/")
    assert yaml.safe_load((EXAMPLES / "wellpad-modbus.yaml").read_text()) == modbus
    assert yaml.safe_load((EXAMPLES / "wellpad-opcua.yaml").read_text()) == opcua
    mixed = yaml.safe_load((EXAMPLES / "wellpad-mixed.yaml").read_text())
    assert mixed["modbus"] == modbus["modbus"][:3] and mixed["opcua"] == opcua["opcua"]
    # Between them, the examples map every simulated point exactly once.
    config = load_gateway(EXAMPLES / "wellpad-mixed.yaml")
    mapped = [(p.thing, p.feature, p.property) for d in [*config.modbus, *config.opcua] for p in d.points]
    assert sorted(mapped) == sorted((p.thing, p.feature, p.property) for p in POINTS)


def test_check_reports_ok_files_and_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    data = wellpad_modbus_mapping("127.0.0.1", 5020)
    data["modbus"][0]["points"][0]["type"] = "float128"
    data["modbus"][1]["points"][2]["address"] = -1
    bad.write_text(yaml.safe_dump(data))
    runner = CliRunner()
    ok = runner.invoke(app, ["adapters", "check", str(EXAMPLES / "wellpad-modbus.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "ok (4 devices, 40 points)" in ok.output
    result = runner.invoke(app, ["adapters", "check", str(bad)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}: point 'well-01/pressure.tubing', field 'type'")
    assert lines[1].startswith(f"{bad}: point 'well-02/temperature.wellhead', field 'address'")
