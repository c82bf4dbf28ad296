"""The MCP server through the SDK's own client: in memory (tools, schemas, results equal
to the CLI's, errors with the CLI's text, a write refused without an API key) and over
stdio (``realyield mcp`` as a subprocess)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from sqlalchemy import Engine
from typer.testing import CliRunner

from realyield.agents.server import build_server
from realyield.api.keys import create_key
from realyield.cli import app
from realyield.core.settings import Settings
from realyield.library import ensure_data

Session = Callable[[Client], Awaitable[Any]]


def _in_memory(engine: Engine, body: Session) -> Any:
    async def main() -> Any:
        async with Client(build_server(engine)) as client:
            return await body(client)

    return anyio.run(main)


@pytest.fixture
def loaded(settings: Settings, engine: Engine) -> Engine:
    ensure_data(engine)
    return engine


def test_tools_are_listed_with_schemas(loaded: Engine) -> None:
    async def body(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = {t.name: t for t in _in_memory(loaded, body)}
    assert set(tools) >= {
        "screen",
        "explain",
        "list_indices",
        "read_index",
        "plan",
        "backtest",
        "alerts",
        "income",
        "portfolio_summary",
        "acknowledge_alert",
    }
    for tool in tools.values():
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
    assert tools["plan"].input_schema["required"] == ["capital", "income"]
    assert "rows" in tools["screen"].output_schema["properties"]
    assert tools["screen"].annotations.read_only_hint is True
    assert tools["acknowledge_alert"].annotations.read_only_hint is False
    assert "API KEY" in (tools["acknowledge_alert"].description or "")


def test_screen_equals_cli_json(loaded: Engine) -> None:
    async def body(client: Client) -> Any:
        return await client.call_tool("screen", {"kind": "lending"})

    result = _in_memory(loaded, body)
    assert not result.is_error
    cli = CliRunner().invoke(app, ["screen", "--kind", "lending", "--json"])
    assert cli.exit_code == 0, cli.output
    rows = json.loads(cli.stdout)
    assert result.structured_content["count"] == len(rows) > 0
    assert result.structured_content["rows"] == rows


def test_errors_carry_the_cli_text(loaded: Engine) -> None:
    async def body(client: Client) -> Any:
        return await client.call_tool("explain", {"opportunity_id": "no-such:pool:x"})

    result = _in_memory(loaded, body)
    assert result.is_error
    cli = CliRunner().invoke(app, ["explain", "no-such:pool:x"])
    assert cli.exit_code == 1
    line = " ".join(cli.stderr.split())
    text = result.content[0].text
    # the SDK puts "Error executing tool explain: " before the CLI's own line
    assert text.startswith("Error executing tool explain: error: no opportunity")
    assert " ".join(text.split()).endswith(line)
    assert line.startswith("error: no opportunity 'no-such:pool:x'")


def test_write_needs_a_key(loaded: Engine) -> None:
    key = create_key(loaded, "agent").token

    async def body(client: Client) -> Any:
        refused = await client.call_tool("acknowledge_alert", {"alert_id": 1})
        wrong = await client.call_tool(
            "acknowledge_alert", {"alert_id": 1, "api_key": "ry_nope_secret"}
        )
        keyed = await client.call_tool("acknowledge_alert", {"alert_id": 1, "api_key": key})
        return refused, wrong, keyed

    refused, wrong, keyed = _in_memory(loaded, body)
    assert refused.is_error and "needs an API key" in refused.content[0].text
    assert wrong.is_error and "unknown API key 'nope'" in wrong.content[0].text
    assert "secret" not in wrong.content[0].text.replace("wrong secret", "")
    # with a key the call reaches the library: no alert #1 in this store
    assert keyed.is_error and "needs an API key" not in keyed.content[0].text
    assert "1" in keyed.content[0].text


def test_resources_and_prompts(loaded: Engine) -> None:
    async def body(client: Client) -> Any:
        names = await client.read_resource("realyield://indices")
        one = await client.read_resource("realyield://indices/stablecoin-income")
        method = await client.read_resource("realyield://methodology")
        prompt = await client.get_prompt("can_it_pay", {"capital": "$1M", "income": "$50k"})
        return names, one, method, prompt

    names, one, method, prompt = _in_memory(loaded, body)
    assert "stablecoin-income" in json.loads(names.contents[0].text)
    assert json.loads(one.contents[0].text)["name"] == "stablecoin-income"
    assert "methodology" in method.contents[0].text.lower()
    assert "plan tool" in prompt.messages[0].content.text


def test_stdio_plan_for_one_million(settings: Settings, engine: Engine) -> None:
    """``realyield mcp`` started as a subprocess: $1M for $50k a year needs 5%."""
    exe = Path(sys.executable).with_name("realyield")
    params = StdioServerParameters(
        command=str(exe), args=["mcp"], env={**os.environ, "REALYIELD_HOME": str(settings.home)}
    )

    async def main() -> Any:
        async with Client(params) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            plan = await client.call_tool(
                "plan", {"capital": "$1M", "income": "50k/year", "paths": 500}
            )
            return tools, plan

    tools, plan = anyio.run(main)
    assert "plan" in tools
    assert not plan.is_error, plan.content
    out = plan.structured_content
    assert out["required_yield"] == pytest.approx(0.05, abs=1e-12)
    assert out["verdict"] in {"sustainable", "stretch", "unsustainable"}
    assert out["plan"]["verdict"]["level"] == out["verdict"]
    assert abs(sum(out["allocation"].values()) - 1) < 1e-9
