"""A Ditto connection (JSON, the format of Ditto's connectivity API): the parts a Kafka stand-in uses.

Only what the embedded stand-in implements is accepted: `connectionType` `kafka`, payload mapping
`Ditto`, placeholders `{{ thing:id }}`, `{{ thing:namespace }}`, `{{ thing:name }}`,
`{{ entity:id }}` and `{{ header:<name> }}` (incl. `kafka.key`, `kafka.topic`). Anything else is a
`ConfigError` naming the field, so a connection never half-works.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from centinela.errors import ConfigError

__all__ = [
    "Connection",
    "Enforcement",
    "Fill",
    "Source",
    "Target",
    "compile_template",
    "load_connection",
    "resolve",
]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z]+):([A-Za-z0-9_.\-]+)\s*\}\}")
_KNOWN = {("thing", "id"), ("thing", "namespace"), ("thing", "name"), ("entity", "id")}


def _check_placeholders(text: str) -> str:
    for prefix, name in _PLACEHOLDER.findall(text):
        if prefix != "header" and (prefix, name) not in _KNOWN:
            msg = f"the placeholder '{{{{ {prefix}:{name} }}}}' in '{text}' is not supported"
            raise ValueError(msg)
    return text


Fill = Callable[[str | None, Mapping[str, str]], str | None]
"""A compiled template: (thing id, headers) → the text, or `None` when a placeholder has no value."""


def _part(prefix: str, name: str) -> Fill:
    if prefix == "header":
        return lambda _thing_id, headers: headers.get(name)
    if name == "id":
        return lambda thing_id, _headers: thing_id
    index = 0 if name == "namespace" else 2
    return lambda thing_id, _headers: None if thing_id is None else thing_id.partition(":")[index]


def compile_template(template: str) -> Fill:
    """A template as a function, parsed once per template (templates come from connections: a handful)."""
    fill = _COMPILED.get(template)
    if fill is not None:
        return fill
    parts: list[str | Fill] = []
    at = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > at:
            parts.append(template[at : match.start()])
        parts.append(_part(match.group(1), match.group(2)))
        at = match.end()
    if at < len(template):
        parts.append(template[at:])
    if not parts:
        parts.append("")
    if len(parts) == 1:
        only = parts[0]
        fill = (lambda _thing_id, _headers: only) if isinstance(only, str) else only
    else:
        frozen = tuple(parts)

        def fill(thing_id: str | None, headers: Mapping[str, str]) -> str | None:
            out: list[str] = []
            for part in frozen:
                if isinstance(part, str):
                    out.append(part)
                    continue
                value = part(thing_id, headers)
                if value is None:
                    return None
                out.append(value)
            return "".join(out)

    if len(_COMPILED) < 10_000:
        _COMPILED[template] = fill
    return fill


_COMPILED: dict[str, Fill] = {}


def resolve(template: str, thing_id: str | None, headers: Mapping[str, str]) -> str | None:
    """Fill a template's placeholders; `None` when one has no value (an absent header, no thing)."""
    return compile_template(template)(thing_id, headers)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Enforcement(_Model):
    input: str
    filters: tuple[str, ...]

    @field_validator("input")
    @classmethod
    def _input(cls, value: str) -> str:
        return _check_placeholders(value)


def _mapping(value: tuple[str, ...]) -> tuple[str, ...]:
    if tuple(value) != ("Ditto",):
        msg = f"payloadMapping {list(value)} is not supported; the stand-in speaks the Ditto Protocol only"
        raise ValueError(msg)
    return value


def _headers(value: dict[str, str]) -> dict[str, str]:
    for template in value.values():
        _check_placeholders(template)
    return value


class Source(_Model):
    addresses: tuple[str, ...]
    authorization_context: tuple[str, ...] = Field(alias="authorizationContext")
    header_mapping: dict[str, str] = Field(default_factory=dict, alias="headerMapping")
    payload_mapping: tuple[str, ...] = Field(default=("Ditto",), alias="payloadMapping")
    enforcement: Enforcement | None = None

    @field_validator("payload_mapping")
    @classmethod
    def _pm(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _mapping(value)

    @field_validator("header_mapping")
    @classmethod
    def _hm(cls, value: dict[str, str]) -> dict[str, str]:
        return _headers(value)


class Target(_Model):
    address: str
    topics: tuple[str, ...]
    authorization_context: tuple[str, ...] = Field(alias="authorizationContext")
    header_mapping: dict[str, str] = Field(default_factory=dict, alias="headerMapping")
    payload_mapping: tuple[str, ...] = Field(default=("Ditto",), alias="payloadMapping")

    @field_validator("payload_mapping")
    @classmethod
    def _pm(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _mapping(value)

    @field_validator("header_mapping")
    @classmethod
    def _hm(cls, value: dict[str, str]) -> dict[str, str]:
        return _headers(value)

    @field_validator("address")
    @classmethod
    def _ad(cls, value: str) -> str:
        return _check_placeholders(value)

    @property
    def twin_events(self) -> bool:
        """Whether this target receives twin events (`_/_/things/twin/events`, optionally with options)."""
        return any(t.split("?", 1)[0] == "_/_/things/twin/events" for t in self.topics)


class Connection(_Model):
    id: str
    connection_type: str = Field(alias="connectionType")
    connection_status: str = Field(default="open", alias="connectionStatus")
    sources: tuple[Source, ...] = ()
    targets: tuple[Target, ...] = ()

    @field_validator("connection_type")
    @classmethod
    def _kafka(cls, value: str) -> str:
        if value != "kafka":
            msg = f"connectionType '{value}' is not supported; the stand-in implements 'kafka'"
            raise ValueError(msg)
        return value


def load_connection(source: Path | str | Mapping[str, Any]) -> Connection:
    """Read a Ditto connection from a JSON file path or an already decoded object."""
    name = str(source) if isinstance(source, Path | str) else "the connection object"
    try:
        data = json.loads(Path(source).read_text()) if isinstance(source, Path | str) else dict(source)
        return Connection.model_validate(data)
    except (OSError, ValueError) as exc:
        problems = (
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        msg = f"The Ditto connection in {name} cannot be used: {problems}."
        raise ConfigError(msg) from exc
