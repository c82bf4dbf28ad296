"""``/v1/stream`` (SSE) and ``/v1/ws`` (WebSocket) on a real uvicorn server: an event
published in the process reaches both; a monitor run's alert is streamed; a reconnect
with ``Last-Event-ID`` gets what it missed; a foreign Origin cannot open the WebSocket;
and the MCP server answers over streamable HTTP at ``/mcp``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from realyield.core import events
from realyield.core.events import BUS, EventBus
from realyield.core.settings import Settings, load_settings
from realyield.store.engine import open_store


@dataclass
class Server:
    url: str
    app: Any
    engine: Engine
    settings: Settings


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The composed server (API, dashboard, MCP) on an empty store, data not warmed."""
    from realyield.server import create_server

    home = tmp_path_factory.mktemp("stream-home")
    settings = load_settings(env={"REALYIELD_HOME": str(home)})
    engine = open_store(settings)
    app = create_server(settings, engine=engine, warm=False)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield Server(url, app, engine, settings)
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
        engine.dispose()


def _read_events(
    url: str,
    n: int,
    *,
    last_id: str | None = None,
    after_open: Any = None,
    until: Any = None,
) -> list[dict[str, Any]]:
    """The first ``n`` SSE events of ``/v1/stream`` (``after_open`` runs once the
    response has started, i.e. once the server is subscribed)."""
    headers = {"Last-Event-ID": last_id} if last_id else {}
    out: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{url}/v1/stream", headers=headers, timeout=30) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        if after_open is not None:
            after_open()
        current: dict[str, Any] = {}
        for line in resp.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                name, _, value = line.partition(":")
                current[name] = value.strip()
            elif line == "" and "data" in current:
                out.append({**current, "data": json.loads(current["data"])})
                current = {}
                if len(out) == n or (until is not None and until(out[-1])):
                    break
    return out


def _first(url: str, match: Any, **kwargs: Any) -> dict[str, Any]:
    """The first event that ``match`` accepts among the next few (other tests' jobs and
    data rebuilds may publish on the same process's bus meanwhile)."""
    got = _read_events(url, 50, until=match, **kwargs)
    assert got and match(got[-1]), got
    return got[-1]


def test_published_event_reaches_sse(server: Server) -> None:
    first = _first(
        server.url,
        lambda e: e["data"]["data"] == {"version": "test-1"},
        after_open=lambda: events.publish("data", version="test-1"),
    )
    assert first["event"] == "data"
    assert first["id"] == first["data"]["id"] and first["id"].startswith(BUS.boot + "-")


def test_monitor_alert_is_streamed_and_replayed(server: Server) -> None:
    """Run the monitor in the server's process: the stale-source alert it fires comes
    over the stream; a client that reconnects with the previous event's id gets it."""
    from realyield.monitor.config import MonitorConfig
    from realyield.monitor.service import run_monitor
    from realyield.universe.build import load_snapshot

    load_snapshot(server.engine)
    marker = events.publish("data", version="before-monitor")
    assert marker is not None

    def fire() -> None:
        run_monitor(
            server.engine,
            server.settings,
            MonitorConfig(refresh=("defillama",)),
            refresher=lambda *_a, **_k: ({"defillama": "unreachable: timed out"}, []),
        )

    alert = _first(server.url, lambda e: e["event"] == "alert", after_open=fire)
    body = alert["data"]["data"]
    assert body["rule"] == "stale_data" and body["subject"] == "defillama"
    assert body["change"] == "opened" and isinstance(body["id"], int)
    # missed it? reconnect with the id of the event seen before the run
    replay = _first(server.url, lambda e: e["event"] == "alert", last_id=marker.id)
    assert replay["id"] == alert["id"]
    assert replay["data"]["data"]["rule"] == "stale_data"


def test_unknown_last_event_id_says_gap(server: Server) -> None:
    """An id from another process (a restart): a gap, then the whole replay buffer."""
    events.publish("data", version="after-restart")
    expected = BUS.after("deadbeef-7")
    assert expected[0].kind == "gap" and expected[-1].data == {"version": "after-restart"}
    got = _read_events(server.url, len(expected), last_id="deadbeef-7")
    assert got[0]["event"] == "gap" and "restarted" in got[0]["data"]["data"]["reason"]
    assert [g["id"] for g in got[1:]] == [e.id for e in expected[1:]]


def test_websocket_receives_events_and_refuses_foreign_origin(server: Server) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    from websockets.typing import Origin

    ws_url = server.url.replace("http://", "ws://") + "/v1/ws"
    with connect(ws_url, origin=Origin(server.url), open_timeout=30) as ws:
        events.publish("job", job_id="j1", job_kind="plan", status="running")
        for _ in range(50):  # other tests may publish on this process's bus meanwhile
            message = json.loads(ws.recv(timeout=30))
            if message.get("data", {}).get("job_id") == "j1":
                break
    assert message["kind"] == "job" and message["data"]["job_id"] == "j1"
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url, origin=Origin("https://evil.example"), open_timeout=30)
    assert refused.value.response.status_code == 403
    # a client that sends no Origin (not a browser) may connect
    with connect(ws_url, open_timeout=30) as ws:
        ws.ping()


def test_bus_replay_buffer_is_bounded() -> None:
    bus = EventBus(capacity=3)
    first = bus.publish("data", {"n": 1})
    for n in range(2, 6):
        bus.publish("data", {"n": n})
    missed = bus.after(first.id)
    assert missed[0].kind == "gap" and "last 3 events" in missed[0].data["reason"]
    assert [e.data["n"] for e in missed[1:]] == [3, 4, 5]
    assert [e.data["n"] for e in bus.after(missed[-2].id)] == [5]
    assert bus.after(missed[-1].id) == []


def test_mcp_over_streamable_http(server: Server) -> None:
    import httpx2
    from mcp.client import Client
    from mcp.client.streamable_http import streamable_http_client

    import realyield as ry
    from realyield.api.keys import create_key

    ry.ensure_data(server.engine)
    key = create_key(server.engine, "mcp-http").token

    async def main() -> Any:
        async with Client(f"{server.url}/mcp") as client:  # no key
            tools = [t.name for t in (await client.list_tools()).tools]
            refused = await client.call_tool("acknowledge_alert", {"alert_id": 1})
            unkeyed = await client.call_tool("screen", {"kind": "staking"})
        keyed = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=300)
        async with (
            keyed,
            Client(streamable_http_client(f"{server.url}/mcp", http_client=keyed)) as client,
        ):
            screen = await client.call_tool("screen", {"kind": "staking"})
            plan = await client.call_tool(
                "plan", {"capital": "1000000", "income": "50000", "paths": 300}
            )
        return tools, refused, unkeyed, screen, plan

    tools, refused, unkeyed, screen, plan = anyio.run(main)
    assert "screen" in tools and "plan" in tools
    assert refused.is_error and "changes the store and needs an API key" in refused.content[0].text
    assert unkeyed.is_error and "screen runs over HTTP and needs an API key" in (
        unkeyed.content[0].text
    )
    assert not screen.is_error, screen.content
    rows = ry.screen(kind="staking", store=server.engine)
    assert screen.structured_content["rows"] == json.loads(json.dumps(rows)) != []
    assert plan.structured_content["required_yield"] == pytest.approx(0.05, abs=1e-12)
    assert plan.structured_content["verdict"] == plan.structured_content["plan"]["verdict"]["level"]
    # the server's guard stands in front of /mcp too
    resp = httpx.post(
        f"{server.url}/mcp",
        headers={"Origin": "https://evil.example", "Content-Type": "application/json"},
        content=b"{}",
    )
    assert resp.status_code == 403
