"""`centinela twin serve`: options, and the refusal to expose the default user beyond loopback."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from centinela.cli.main import app


def test_serve_is_registered_with_its_options() -> None:
    result = CliRunner().invoke(app, ["twin", "serve", "--help"])
    assert result.exit_code == 0
    for option in ("--db", "--host", "--port"):
        assert option in result.output


def test_default_user_beyond_loopback_is_refused() -> None:
    result = CliRunner().invoke(app, ["twin", "serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "loopback" in result.output


def test_invalid_settings_are_reported_not_raised() -> None:
    env = {"CENTINELA_TWIN_TOKENS": '{"t": {"subject": "s"}}', "CENTINELA_TWIN_PORT": "not-a-port"}
    result = CliRunner().invoke(app, ["twin", "serve", "--host", "0.0.0.0"], env=env)
    assert result.exit_code == 2
    assert "port" in result.output.lower()


def test_a_port_in_use_is_reported_not_a_traceback() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["twin", "serve", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_a_connection_without_a_broker_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    connection = Path(__file__).resolve().parents[3] / "compose" / "ditto" / "connection-kafka.json"
    result = CliRunner().invoke(app, ["twin", "serve", "--port", "0", "--connection", str(connection)],
                                env={"CENTINELA_KAFKA": ""})
    assert result.exit_code == 2
    assert "--connection needs a Kafka broker" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "x", "connectionType": "mqtt"}')
    result = CliRunner().invoke(app, ["twin", "serve", "--port", "0", "--connection", str(broken),
                                      "--kafka", "kafka://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "mqtt" in result.output
