"""End to end: readings merged over HTTP into the embedded twin service → computed features and the
alarm feature visible over HTTP and as WebSocket events; readings and transitions in SQLite history."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest

from centinela.dsl import compile_paths
from centinela.rules.demo import ScaledClock
from centinela.rules.stack import EngineConfig, embedded_stack
from centinela.twin.client import DittoTwinStore
from centinela.twin.client_ws import WsSubscription

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WELL = "org.acme.wells:well-e2e"
AUTH = ("ditto", "ditto")

pytestmark = pytest.mark.integration


async def test_readings_over_http_raise_alarm_visible_over_http_ws_and_history(tmp_path: Path) -> None:
    program = compile_paths([EXAMPLES])
    config = EngineConfig(
        history=f"sqlite:///{tmp_path / 'history.db'}",
        state=f"sqlite:///{tmp_path / 'state.db'}",
        twins=None,
        port=0,
        checkpoint_seconds=60.0,
    )
    clock = ScaledClock(speed=100.0)  # the 30 s on-delay passes in 0.3 s of wall time
    async with embedded_stack(program, config, clock=clock) as stack:
        client = DittoTwinStore.from_url(stack.url.replace("http://", "ditto+http://ditto:ditto@"))
        subscription = client.subscribe()
        assert isinstance(subscription, WsSubscription)
        async with subscription:
            await subscription.started()
            async with httpx.AsyncClient(base_url=stack.url, auth=AUTH, timeout=10.0) as http:
                thing = {
                    "definition": "org.acme:producer-well:1.0.0",
                    "attributes": {"status": "producing", "limits": {"tubingPressure": 3000}},
                    "features": {"flow": {"properties": {"oilRate": 900.0, "waterRate": 100.0}}},
                }
                r = await http.put(f"/api/2/things/{WELL}", json=thing)
                assert r.status_code == 201, r.text
                r = await http.patch(
                    f"/api/2/things/{WELL}/features/pressure",
                    content=b'{"properties": {"tubing": 3150.0}}',
                    headers={"content-type": "application/merge-patch+json"},
                )
                assert r.status_code == 204, r.text

                seen: dict[str, dict[str, object]] = {"production": {}}

                async def watch() -> None:
                    async for event in subscription:
                        if event.thing_id != WELL or event.headers.get("centinela-origin") != "engine":
                            continue
                        value = event.value if isinstance(event.value, dict) else {}
                        features = value.get("features", {}) if event.path == "/" else {}
                        if "production" in features:
                            seen["production"].update(features["production"]["properties"])
                        alarm = features.get("alarms", {}).get("properties", {}).get("HighTubingPressure")
                        if alarm and alarm["state"] == "active-unacknowledged":
                            seen["alarm"] = alarm
                            return

                await asyncio.wait_for(watch(), timeout=20.0)
                assert seen["production"]["liquidRate"] == 1000.0
                assert seen["production"]["waterCut"] == 10.0
                r = await http.get(f"/api/2/things/{WELL}/features/alarms/properties/HighTubingPressure")
                assert r.status_code == 200
                assert r.json()["state"] == "active-unacknowledged"
                assert "3150" in r.json()["message"]
                r = await http.get(f"/api/2/things/{WELL}/features/production/properties/liquidRate")
                assert r.json() == 1000.0
        await client.aclose()
        await stack.history.flush()
        db = sqlite3.connect(tmp_path / "history.db")
        try:
            rules = [
                row[0] for row in db.execute("SELECT rule FROM alarm_events WHERE thing_id = ?", (WELL,))
            ]
            tubing = db.execute(
                "SELECT value FROM telemetry WHERE thing_id = ? AND path = ?",
                (WELL, "/features/pressure/properties/tubing"),
            ).fetchall()
        finally:
            db.close()
        assert "HighTubingPressure" in rules
        assert (3150.0,) in tubing
