"""Webhook and email delivery against real local servers: outages, retries, and the
alert kept in the store until a channel accepts it."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine

from realyield.core import clock
from realyield.core.errors import ConfigError, NotifyError, TemporaryNotifyError
from realyield.core.secrets import Secret, install_log_redaction
from realyield.monitor.alerts import Alert, list_alerts, record_findings
from realyield.monitor.config import NotifyConfig, channels_from_config
from realyield.monitor.delivery import deliveries, dispatch
from realyield.monitor.notify import EmailChannel, WebhookChannel, webhook_payload
from realyield.monitor.rules import Finding

TOKEN = "T000/B000/XXXXsecretTOKENxxxx"
NOW = datetime(2023, 3, 12, 9, 0, tzinfo=UTC)


class Hook(BaseHTTPRequestHandler):
    """Answers ``fail`` requests with ``status`` (500 by default), then 200."""

    received: list[dict[str, Any]] = []  # noqa: RUF012
    fail = 0
    status = 500
    paths: list[str] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).paths.append(self.path)
        if type(self).fail > 0:
            type(self).fail -= 1
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b"upstream down")
            return
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[type[Hook], str]]:
    Hook.received, Hook.paths, Hook.fail, Hook.status = [], [], 0, 500
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Hook, f"http://127.0.0.1:{server.server_address[1]}/services/{TOKEN}"
    finally:
        server.shutdown()
        server.server_close()


def depeg_finding(day: date = date(2023, 3, 12), price: float = 0.9656) -> Finding:
    dev = (price - 1) * 100
    return Finding(
        rule="depeg",
        subject="usd-coin",
        day=day,
        severity="critical" if abs(dev) >= 3 else "warning",
        title=f"USDC at ${price:.4f}",
        evidence={"date": day.isoformat(), "price_usd": price, "deviation_pct": dev},
        action="check the issuer",
        magnitude=abs(dev),
    )


def stored_alert(engine: Engine) -> Alert:
    with clock.freeze(NOW):
        (change,) = record_findings(engine, [depeg_finding()])
    return change.alert


def test_webhook_retries_through_500s_then_delivers_once(
    engine: Engine, hook: tuple[type[Hook], str]
) -> None:
    server, url = hook
    server.fail = 2
    waits: list[float] = []
    channel = WebhookChannel(Secret(url), flavor="slack", backoff_s=0.5, sleep=waits.append)
    alert = stored_alert(engine)
    with clock.freeze(NOW):
        report = dispatch(engine, [channel])
    assert report.delivered == {"webhook": [alert.alert_id]}
    assert len(server.paths) == 3 and len(server.received) == 1  # 2 failures + 1 success
    assert waits == [0.5, 1.0]  # exponential backoff between the three tries
    body = server.received[0]
    assert body["text"].startswith("[CRITICAL] USDC at $0.9656")
    assert "price_usd: 0.9656" in body["blocks"][1]["text"]["text"]
    row = deliveries(engine, alert.alert_id or 0)["webhook"]
    assert row["status"] == "delivered" and row["severity"] == "critical"
    with clock.freeze(NOW):  # delivered: not sent again
        assert dispatch(engine, [channel]).delivered == {}
    assert len(server.received) == 1


def test_outage_keeps_the_alert_pending_and_the_next_run_delivers(
    engine: Engine, hook: tuple[type[Hook], str], caplog: pytest.LogCaptureFixture
) -> None:
    server, url = hook
    server.fail = 100  # down for the whole first run
    channel = WebhookChannel(Secret(url), max_attempts=3, sleep=lambda s: None)
    alert = stored_alert(engine)
    install_log_redaction(logging.getLogger())
    with clock.freeze(NOW):
        report = dispatch(engine, [channel])
    assert report.delivered == {} and len(server.paths) == 3
    ((failed_id, error),) = report.failed["webhook"]
    assert failed_id == alert.alert_id and "HTTP 500" in error
    assert TOKEN not in error and "127.0.0.1" not in error
    row = deliveries(engine, alert.alert_id or 0)["webhook"]
    assert row["status"] == "failed" and row["attempts"] == 1 and TOKEN not in row["last_error"]
    assert [a.alert_id for a in list_alerts(engine)] == [alert.alert_id]  # the alert is kept

    server.fail = 0  # back up
    with clock.freeze(NOW):
        report = dispatch(engine, [channel])
    assert report.delivered == {"webhook": [alert.alert_id]} and len(server.received) == 1
    row = deliveries(engine, alert.alert_id or 0)["webhook"]
    assert row["status"] == "delivered" and row["attempts"] == 2 and row["last_error"] is None
    assert TOKEN not in caplog.text


def test_server_not_listening_is_a_temporary_failure(engine: Engine) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook/{TOKEN}"
    calls: list[float] = []
    channel = WebhookChannel(Secret(url), max_attempts=2, sleep=calls.append)
    with pytest.raises(TemporaryNotifyError) as info:
        channel.send(stored_alert(engine))
    assert len(calls) == 1  # two attempts, one wait between
    assert TOKEN not in str(info.value) and TOKEN not in repr(channel)


def test_client_error_is_not_retried(engine: Engine, hook: tuple[type[Hook], str]) -> None:
    server, url = hook
    server.fail, server.status = 5, 404
    channel = WebhookChannel(Secret(url), sleep=lambda s: None)
    with pytest.raises(NotifyError, match="HTTP 404") as info:
        channel.send(stored_alert(engine))
    assert not isinstance(info.value, TemporaryNotifyError)
    assert len(server.paths) == 1


def test_escalation_is_sent_again_acknowledged_alerts_are_not(
    engine: Engine, hook: tuple[type[Hook], str]
) -> None:
    from realyield.monitor.alerts import acknowledge

    server, url = hook
    channel = WebhookChannel(Secret(url), flavor="discord", sleep=lambda s: None)
    with clock.freeze(NOW):
        (first,) = record_findings(engine, [depeg_finding(date(2023, 3, 11), 0.985)])
        dispatch(engine, [channel])
        record_findings(engine, [depeg_finding(date(2023, 3, 12), 0.9656)])  # now critical
        dispatch(engine, [channel])
    assert [b["embeds"][0]["color"] for b in server.received] == [0xF59E0B, 0xDC2626]
    assert server.received[1]["content"].startswith("[CRITICAL]")
    acknowledge(engine, first.alert.alert_id or 0)
    with clock.freeze(NOW):
        record_findings(engine, [depeg_finding(date(2023, 3, 13), 0.96)])  # same episode
        assert dispatch(engine, [channel]).delivered == {}
    assert len(server.received) == 2


class SMTPHandler(socketserver.StreamRequestHandler):
    """A minimal SMTP server (RFC 5321 happy path) that can refuse with 451 first."""

    messages: list[str] = []  # noqa: RUF012
    busy = 0
    logins: list[str] = []  # noqa: RUF012

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        self.reply("220 localhost ESMTP test")
        while True:
            line = self.rfile.readline().decode().strip()
            verb = line.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-localhost")
                self.reply("250 AUTH PLAIN")
            elif verb == "AUTH":
                type(self).logins.append(line)
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                if type(self).busy > 0:
                    type(self).busy -= 1
                    self.reply("451 4.3.0 try again later")
                else:
                    self.reply("250 OK")
            elif verb == "RCPT":
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with .")
                lines = []
                while (data := self.rfile.readline().decode()) not in (".\r\n", ""):
                    lines.append(data)
                type(self).messages.append("".join(lines))
                self.reply("250 queued")
            elif verb == "RSET":
                self.reply("250 OK")
            elif verb == "QUIT" or not line:
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


def test_email_retries_a_busy_server_and_never_shows_the_password(engine: Engine) -> None:
    SMTPHandler.messages, SMTPHandler.busy, SMTPHandler.logins = [], 1, []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SMTPHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    password = Secret("hunter2-very-secret")
    try:
        waits: list[float] = []
        channel = EmailChannel(
            host="127.0.0.1",
            port=server.server_address[1],
            security="none",
            sender="monitor@example.org",
            recipients=["me@example.org"],
            username="me",
            password=password,
            sleep=waits.append,
        )
        alert = stored_alert(engine)
        with clock.freeze(NOW):
            report = dispatch(engine, [channel])
    finally:
        server.shutdown()
        server.server_close()
    assert report.delivered == {"email": [alert.alert_id]}
    assert len(waits) == 1 and len(SMTPHandler.messages) == 1  # one 451, then accepted
    message = SMTPHandler.messages[0]
    assert "Subject: [realyield] critical: USDC at $0.9656" in message
    assert "Acknowledge: realyield alerts --ack" in message
    assert "hunter2" not in repr(channel) and "hunter2" not in message
    assert SMTPHandler.logins  # it did log in (AUTH PLAIN carries the password base64'd)


def test_channels_from_environment_and_secrets_refused_in_files() -> None:
    env = {"REALYIELD_WEBHOOK_URL": f"https://hooks.slack.com/services/{TOKEN}"}
    notify = NotifyConfig(smtp_host="smtp.example.org", email_to=("a@example.org",))
    webhook, email = channels_from_config(notify, env=env, use_keyring=False)
    assert isinstance(webhook, WebhookChannel) and webhook.flavor == "slack"
    assert TOKEN not in repr(webhook) and TOKEN not in str(webhook.url)
    assert isinstance(email, EmailChannel) and email.password is None
    assert channels_from_config(NotifyConfig(), env={}, use_keyring=False) == []
    from realyield.monitor.config import parse_config

    with pytest.raises(ConfigError, match="secrets do not belong in a file"):
        parse_config({"notify": {"webhook_url": "https://x"}})


def test_payload_shapes() -> None:
    with clock.freeze(NOW):
        finding = depeg_finding()
    alert = Alert(
        key=finding.key,
        rule="depeg",
        subject="usd-coin",
        severity="critical",
        title=finding.title,
        evidence=dict(finding.evidence),
        action="check",
        first_day=finding.day,
        last_day=finding.day,
    )
    slack = webhook_payload(alert, "slack")
    assert set(slack) == {"text", "blocks"} and slack["blocks"][0]["type"] == "section"
    discord = webhook_payload(alert, "discord")
    assert set(discord) == {"content", "embeds"}
    fields = {f["name"]: f["value"] for f in discord["embeds"][0]["fields"]}
    assert fields["price_usd"] == "0.9656" and "magnitude" not in fields
    generic = webhook_payload(alert, "generic")
    assert generic["alert"]["rule"] == "depeg"
