"""Static checks of compose/: the stack's YAML, Ditto's connection and policy JSON, and the scripts."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from centinela.config import InfraSettings

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
DITTO_SERVICES = {"policies", "things", "things-search", "connectivity", "gateway", "nginx", "mongodb"}
STACK = DITTO_SERVICES | {"kafka", "timescaledb", "redis", "centinela-engine", "centinela-adapters"}
VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _env_example() -> dict[str, str]:
    lines = (COMPOSE / ".env.example").read_text().splitlines()
    pairs = (ln.split("=", 1) for ln in lines if ln.strip() and not ln.startswith("#"))
    return {k: v for k, v in pairs}


def test_stack_has_every_service_with_a_pinned_image(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= STACK
    for name, service in services.items():
        image = service.get("image")
        assert isinstance(image, str) and ":" in image.rsplit("/", 1)[-1], f"{name} has no image tag"
        tag = image.rsplit(":", 1)[1]
        assert tag != "latest" and not tag.startswith("${DITTO_VERSION:-latest"), f"{name} uses latest"
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
    for name in DITTO_SERVICES - {"nginx", "mongodb"}:
        assert services[name]["image"].startswith(f"docker.io/eclipse/ditto-{name}:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert "timescaledb" in services["timescaledb"]["image"]
    build = services["centinela-engine"]["build"]
    assert (COMPOSE / build["context"] / build["dockerfile"]).is_file()


def test_only_nginx_is_published_and_only_on_loopback(compose: dict[str, Any]) -> None:
    published = {n: s["ports"] for n, s in compose["services"].items() if s.get("ports")}
    assert set(published) == {"nginx"}
    assert all(str(p).startswith("127.0.0.1:") for p in published["nginx"])


def test_every_variable_is_documented_and_secrets_are_not_committed(compose: dict[str, Any]) -> None:
    text = (COMPOSE / "docker-compose.yml").read_text()
    used = set(VAR.findall(text))
    documented = _env_example()
    assert used, "the compose file references no variable"
    assert used <= set(documented), f"undocumented: {sorted(used - set(documented))}"
    for name, value in documented.items():
        if "PASSWORD" in name:
            assert value == "", f"{name} has a value in .env.example"
            assert re.search(r"\$\{" + name + r":\?", text), f"{name} is not required with :?"
    # Centinela's containers are configured through the settings Centinela reads.
    env = compose["services"]["centinela-engine"]["environment"]
    known = {f"CENTINELA_{f.upper()}" for f in InfraSettings.model_fields}
    assert {k for k in env if k.startswith("CENTINELA_")} == known


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("./"):
                continue
            path = COMPOSE / source
            assert path.exists() or path.with_name(path.name + ".example").exists(), f"{name}: {source}"


def _schema(shared_ditto: Path, name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((shared_ditto / "jsonschema" / name).read_text())
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def test_kafka_connection_is_valid_for_ditto(shared_ditto: Path) -> None:
    connection = json.loads((COMPOSE / "ditto" / "connection-kafka.json").read_text())
    validator = _schema(shared_ditto, "connection.json")
    assert list(validator.iter_errors(connection)) == []
    broken = copy.deepcopy(connection)
    broken["connectionType"] = "nats"  # the schema is able to refuse
    assert list(validator.iter_errors(broken)) != []

    assert connection["connectionType"] == "kafka"
    sources = {a: s for s in connection["sources"] for a in s["addresses"]}
    assert set(sources) == {"telemetry.raw", "twin.commands"}
    for source in sources.values():
        assert source["payloadMapping"] == ["Ditto"]
        assert "correlation-id" in source["headerMapping"]
        assert source["enforcement"]["input"] == "{{ header:kafka.key }}"  # key must be the thing id
    (target,) = connection["targets"]
    assert target["address"] == "twin.events/{{ thing:id }}"
    assert target["topics"] == ["_/_/things/twin/events"]


def test_policy_is_valid_and_grants_the_connection_subjects(shared_ditto: Path) -> None:
    policy = json.loads((COMPOSE / "ditto" / "policy-centinela.json").read_text())
    assert list(_schema(shared_ditto, "policy.json").iter_errors(policy)) == []
    connection = json.loads((COMPOSE / "ditto" / "connection-kafka.json").read_text())
    subjects = {s for e in policy["entries"].values() for s in e["subjects"]}
    used = {a for part in connection["sources"] + connection["targets"] for a in part["authorizationContext"]}
    assert used <= subjects


def test_scripts_parse_and_pom_names_a_kafka_4_broker() -> None:
    scripts = (("sh", COMPOSE / "ditto" / "bootstrap.sh"), ("bash", COMPOSE / "local" / "services.sh"))
    for shell, script in scripts:
        result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom = ET.parse(COMPOSE / "local" / "pom.xml").getroot()  # noqa: S314 - our own file
    artifacts = {d.findtext("m:artifactId", namespaces=ns) for d in pom.iterfind(".//m:dependency", ns)}
    assert "kafka_2.13" in artifacts
    version = pom.findtext("m:properties/m:kafka.version", namespaces=ns)
    assert version is not None and version.startswith("4.")
