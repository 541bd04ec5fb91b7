"""Gateway mapping files: pydantic models, loading (YAML or TOML) and whole-file validation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from centinela.adapters.codec import ByteOrder, DataType, WordOrder, register_count
from centinela.errors import ConfigError

__all__ = [
    "ConfigProblem",
    "GatewayConfig",
    "MappingError",
    "ModbusDevice",
    "ModbusPoint",
    "OpcuaEndpoint",
    "OpcuaPoint",
    "OpcuaSecurity",
    "SimulatorConfig",
    "Table",
]

_NAME = r"^[A-Za-z_][A-Za-z0-9_-]*$"
_THING = r"^[A-Za-z_][A-Za-z0-9_.-]*:[^\s/:]+$"


class Table(Enum):
    """The four Modbus data tables."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Point(_Model):
    name: str = Field(min_length=1)
    thing: str = Field(pattern=_THING)
    feature: str = Field(pattern=_NAME)
    property: str = Field(pattern=_NAME)
    unit: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    deadband: float | None = Field(default=None, ge=0)
    """Report only changes larger than this (absolute); `None` reports every reading."""


class ModbusPoint(_Point):
    table: Table = Table.HOLDING
    address: int = Field(ge=0, le=65535)
    type: DataType = DataType.FLOAT32
    bit: int | None = Field(default=None, ge=0, le=15)
    byte_order: ByteOrder | None = None
    word_order: WordOrder | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ModbusPoint:
        if self.table.is_bits and self.type is not DataType.BOOL:
            msg = f"a {self.table.value} point must have type bool, not {self.type.value}"
            raise ValueError(msg)
        if self.type is DataType.BOOL and not self.table.is_bits and self.bit is None:
            msg = "a bool point in a register table needs `bit` (0-15)"
            raise ValueError(msg)
        if self.bit is not None and (self.table.is_bits or self.type not in (DataType.BOOL,)):
            msg = "`bit` applies only to bool points in holding or input registers"
            raise ValueError(msg)
        if self.address + self.width > 65536:
            msg = f"address {self.address} plus {self.width} registers passes the end of the table"
            raise ValueError(msg)
        return self

    @property
    def width(self) -> int:
        """Registers (or bits, for coils and discrete inputs) the point occupies."""
        return 1 if self.table.is_bits else register_count(self.type)


class ModbusDevice(_Model):
    name: str = Field(pattern=_NAME)
    host: str = "127.0.0.1"
    port: int = Field(default=502, ge=1, le=65535)
    unit: int = Field(default=1, ge=0, le=255)
    poll_interval: float = Field(default=1.0, gt=0)
    timeout: float = Field(default=2.0, gt=0)
    backoff_initial: float = Field(default=0.5, gt=0)
    backoff_max: float = Field(default=30.0, gt=0)
    byte_order: ByteOrder = ByteOrder.BIG
    word_order: WordOrder = WordOrder.BIG
    max_gap: int = Field(default=0, ge=0, le=100)
    """Unmapped registers a block read may span to join two points (0: only adjacent points)."""
    points: list[ModbusPoint] = Field(min_length=1)


class OpcuaSecurity(_Model):
    policy: Literal["None", "Basic256Sha256"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: Path | None = None
    private_key: Path | None = None
    server_certificate: Path | None = None
    application_uri: str = "urn:centinela:adapter"
    """Must match the URI in the client certificate's subjectAltName."""

    @model_validator(mode="after")
    def _consistent(self) -> OpcuaSecurity:
        if (self.policy == "None") != (self.mode == "None"):
            msg = f"policy {self.policy} cannot be used with mode {self.mode}"
            raise ValueError(msg)
        if self.policy != "None" and (self.certificate is None or self.private_key is None):
            msg = f"policy {self.policy} needs `certificate` and `private_key`"
            raise ValueError(msg)
        return self


class OpcuaPoint(_Point):
    node: str = Field(min_length=1)
    """Node id, e.g. `ns=2;s=rig-01.drilling.wob`."""
    sampling_interval: float | None = Field(default=None, ge=0)


class OpcuaEndpoint(_Model):
    name: str = Field(pattern=_NAME)
    url: str = Field(pattern=r"^opc\.tcp://")
    security: OpcuaSecurity = OpcuaSecurity()
    username: str | None = None
    password: str | None = None
    publishing_interval: float = Field(default=0.5, gt=0)
    sampling_interval: float = Field(default=0.25, ge=0)
    timeout: float = Field(default=4.0, gt=0)
    backoff_initial: float = Field(default=0.5, gt=0)
    backoff_max: float = Field(default=30.0, gt=0)
    points: list[OpcuaPoint] = Field(min_length=1)


class GatewayConfig(_Model):
    name: str = Field(default="gateway", pattern=_NAME)
    output: str = "twin"
    """`twin`, `kafka://HOST:PORT/TOPIC` or `ditto+http://HOST:PORT`; the CLI may override it."""
    batch_interval: float = Field(default=0.1, ge=0)
    buffer_path: Path | None = None
    buffer_max: int = Field(default=100_000, ge=1)
    modbus: list[ModbusDevice] = []
    opcua: list[OpcuaEndpoint] = []

    @field_validator("output")
    @classmethod
    def _output(cls, value: str) -> str:
        if value != "twin" and not value.startswith(("kafka://", "ditto+http://", "ditto+https://")):
            msg = f"output {value!r} is not `twin`, `kafka://…` or `ditto+http://…`"
            raise ValueError(msg)
        return value


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a mapping file, located by point (or device) and field."""

    file: str
    point: str | None
    field: str
    message: str

    def __str__(self) -> str:
        if self.point is None:
            where = "gateway"
        elif self.point.startswith("device "):
            where = f"device {self.point.removeprefix('device ')!r}"
        else:
            where = f"point {self.point!r}"
        return f"{self.file}: {where}, field {self.field!r}: {self.message}"


class MappingError(ConfigError):
    """A mapping file that cannot be used; `problems` holds every problem found."""

    def __init__(self, file: str, problems: list[ConfigProblem]) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"The mapping file {file} has {len(problems)} problem(s):\n{lines}")
        self.file = file
        self.problems = problems


class SimulatorConfig(_Model):
    """Settings of `centinela simulate modbus|opcua --config FILE`."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    seed: int = 0
    update_interval: float = Field(default=0.5, gt=0)
    cycle: float | None = Field(default=None, gt=0)
    certificate: Path | None = None
    private_key: Path | None = None
