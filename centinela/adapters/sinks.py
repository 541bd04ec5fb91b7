"""Output URLs: `twin`, `kafka://HOST:PORT/TOPIC` and `ditto+http://HOST:PORT`, and the Ditto HTTP sink."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from centinela.adapters.output import BusSink, Command, CommandRejected, OutputUnavailable, Sink, TwinSink
from centinela.errors import ConfigError
from centinela.ports import Bus, TwinStore

__all__ = ["DittoHttpSink", "open_sink"]


class DittoHttpSink:
    """Sends each merge command to Ditto's HTTP API v2 as a `PATCH` with `application/merge-patch+json`.

    Ditto protocol headers travel as HTTP headers. Credentials come from the URL's user info
    (`ditto+http://user:password@host:port`), never from the mapping file.
    """

    def __init__(self, base_url: str, *, username: str | None = None, password: str | None = None) -> None:
        auth = httpx.BasicAuth(username, password or "") if username else None
        self._client = httpx.AsyncClient(base_url=base_url, auth=auth, timeout=10.0)

    async def send(self, commands: Sequence[Command]) -> None:
        for i, command in enumerate(commands):
            env = command.envelope
            headers = {k: str(v) for k, v in env["headers"].items()}
            headers["content-type"] = "application/merge-patch+json"
            url = f"/api/2/things/{quote(command.thing_id, safe=':')}{env['path']}"
            try:
                response = await self._client.patch(url, content=_json(env["value"]), headers=headers)
            except httpx.TransportError as exc:
                msg = f"Ditto at {self._client.base_url} cannot be reached for {command.thing_id}: {exc!r}."
                raise OutputUnavailable(msg, sent=i) from exc
            if response.status_code >= 500 or response.status_code in (408, 429):
                msg = f"Ditto answered a merge of {command.thing_id} with {response.status_code}."
                raise OutputUnavailable(msg, sent=i)
            if response.status_code >= 400:
                code = response.status_code
                msg = f"Ditto refused a merge of {command.thing_id} with {code}: {response.text}"
                raise CommandRejected(msg, index=i)

    async def aclose(self) -> None:
        await self._client.aclose()


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


async def open_sink(url: str, *, store: TwinStore | None = None) -> Sink:
    """The sink an output URL names; `twin` needs the `store` to write to."""
    if url == "twin":
        if store is None:
            msg = "The output `twin` needs a twin store, and none was given."
            raise ConfigError(msg)
        return TwinSink(store, create_missing=True)
    parts = urlsplit(url)
    if parts.scheme == "kafka":
        from centinela.config import open_bus

        topic = parts.path.strip("/") or "telemetry.raw"
        bus = await open_bus(urlunsplit(("kafka", parts.netloc, "", parts.query, "")))
        return _OwnedBusSink(BusSink(bus, topic), bus)
    if parts.scheme in ("ditto+http", "ditto+https"):
        scheme = parts.scheme.removeprefix("ditto+")
        host = parts.hostname or "127.0.0.1"
        netloc = f"{host}:{parts.port}" if parts.port else host
        base = urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))
        return DittoHttpSink(base, username=parts.username, password=parts.password)
    msg = f"The output {url!r} is not `twin`, `kafka://HOST:PORT/TOPIC` or `ditto+http://HOST:PORT`."
    raise ConfigError(msg)


class _OwnedBusSink:
    """A bus sink that also closes the bus it opened."""

    def __init__(self, sink: BusSink, bus: Bus) -> None:
        self._sink = sink
        self._bus = bus

    async def send(self, commands: Sequence[Command]) -> None:
        await self._sink.send(commands)

    async def aclose(self) -> None:
        await self._bus.aclose()
