"""Loading a gateway mapping file: parse, validate, and report every problem with point and field."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from centinela.adapters.config import (
    ConfigProblem,
    GatewayConfig,
    MappingError,
    ModbusDevice,
    OpcuaEndpoint,
)

__all__ = ["load_gateway", "parse_gateway"]

_SECTIONS = ("modbus", "opcua")


def load_gateway(path: str | Path) -> GatewayConfig:
    """Read and validate a mapping file (`.yaml`, `.yml` or `.toml`); raise `MappingError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problem = ConfigProblem(str(path), None, "-", f"the file cannot be read ({exc.strerror}).")
        raise MappingError(str(path), [problem]) from exc
    return parse_gateway(text, str(path), toml=path.suffix.lower() == ".toml")


def parse_gateway(text: str, file: str = "<string>", *, toml: bool = False) -> GatewayConfig:
    """Validate mapping text; `file` names it in errors. Every problem is collected, then raised."""
    try:
        data: Any = tomllib.loads(text) if toml else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        problem = ConfigProblem(file, None, "-", f"the file is not valid {'TOML' if toml else 'YAML'}: {exc}")
        raise MappingError(file, [problem]) from exc
    if not isinstance(data, dict):
        problem = ConfigProblem(file, None, "-", "the file must hold a mapping with `modbus` and/or `opcua`.")
        raise MappingError(file, [problem])
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        raise MappingError(file, [_problem(file, data, err) for err in exc.errors()]) from exc
    problems = _check(file, config)
    if problems:
        raise MappingError(file, problems)
    return config


def _problem(file: str, data: dict[str, Any], err: Any) -> ConfigProblem:
    loc: Sequence[int | str] = err["loc"]
    point: str | None = None
    field_parts: list[str] = []
    node: Any = data
    i = 0
    # Walk `section[i].points[j].field` and name the device and point by their `name`.
    while i < len(loc):
        part = loc[i]
        node = (
            node.get(part)
            if isinstance(node, dict) and isinstance(part, str)
            else (
                node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None
            )
        )
        if isinstance(part, int) and isinstance(node, dict):
            label = str(node.get("name", f"#{part}"))
            prev = loc[i - 1] if i else ""
            point = label if prev == "points" else point or f"device {label}"
            if prev == "points" and i >= 3 and isinstance(loc[i - 2], int):
                device = data.get(str(loc[i - 3]), [])[loc[i - 2]]
                if isinstance(device, dict) and "name" in device:
                    point = f"{device['name']}/{label}"
            field_parts = []
        elif isinstance(part, str) and part not in _SECTIONS and part != "points":
            field_parts.append(part)
        i += 1
    if not field_parts and err["type"] == "missing":
        field_parts = [str(loc[-1])]
    field = ".".join(field_parts) or "-"
    message = str(err["msg"])
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if (
        "input" in err
        and err["type"] not in ("missing", "extra_forbidden")
        and not isinstance(err["input"], dict | list)
    ):
        message = f"{message} (got {err['input']!r})"
    return ConfigProblem(file, point, field, message + ("" if message.endswith(".") else "."))


def _check(file: str, config: GatewayConfig) -> list[ConfigProblem]:
    """Checks across points: unique names and targets, no overlapping registers."""
    problems: list[ConfigProblem] = []

    def add(point: str | None, field: str, message: str) -> None:
        problems.append(ConfigProblem(file, point, field, message))

    names: set[str] = set()
    targets: dict[tuple[str, str, str], str] = {}
    devices: list[ModbusDevice | OpcuaEndpoint] = [*config.modbus, *config.opcua]
    if not devices:
        add(None, "modbus", "the gateway maps no device (`modbus` or `opcua`).")
    for device in devices:
        if device.name in names:
            add(f"device {device.name}", "name", "the device name is used twice.")
        names.add(device.name)
        seen: set[str] = set()
        for point in device.points:
            label = f"{device.name}/{point.name}"
            if point.name in seen:
                add(label, "name", "the point name is used twice in its device.")
            seen.add(point.name)
            target = (point.thing, point.feature, point.property)
            if target in targets:
                where = f"{point.thing} {point.feature}/{point.property}"
                add(label, "property", f"{where} is already mapped by {targets[target]}.")
            targets.setdefault(target, label)
    for modbus in config.modbus:
        # Owner of each register (or bit) and the bits of it taken; bool points may share a
        # register one bit each, nothing else may share.
        used: dict[tuple[str, int], tuple[str, set[int] | None]] = {}
        for point in modbus.points:
            label = f"{modbus.name}/{point.name}"
            for address in range(point.address, point.address + point.width):
                key = (point.table.value, address)
                owner = used.get(key)
                if owner is None:
                    used[key] = (point.name, None if point.bit is None else {point.bit})
                    continue
                bits = owner[1]
                if point.bit is not None and bits is not None and point.bit not in bits:
                    bits.add(point.bit)
                    continue
                where = f"bit {point.bit} of " if point.bit is not None else ""
                add(
                    label,
                    "address",
                    f"{where}{point.table.value} {address} is already used by point {owner[0]}.",
                )
                break
    return problems
