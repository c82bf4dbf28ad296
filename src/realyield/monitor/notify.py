"""Notification channels: a webhook POST (Slack- or Discord-shaped JSON) and email over
SMTP, each retrying temporary failures.

Why retries here and a delivery table elsewhere: a brief outage (a 502, a dropped
connection) is ridden out inside one run with a bounded exponential backoff; a longer
one leaves the delivery pending in the store (``monitor.delivery``) and the next run
tries again. The alert itself is never lost.

Secrets: a webhook URL is a credential (anyone holding a Slack webhook URL can post to
the channel) and the SMTP password is one too. Both are ``Secret``s; no message, error
or ``repr`` of a channel contains them, and errors from httpx or smtplib (which quote
the URL or the server's reply) are rewritten before they leave this module.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from realyield.core.errors import ConfigError, NotifyError, TemporaryNotifyError
from realyield.core.secrets import Secret, redact
from realyield.monitor.alerts import Alert

FLAVORS: Final = ("slack", "discord", "generic")
_COLOURS: Final = {"info": 0x3B82F6, "warning": 0xF59E0B, "critical": 0xDC2626}
_LABEL: Final = {"info": "[info]", "warning": "[warning]", "critical": "[CRITICAL]"}
MAX_RETRY_AFTER_S: Final = 60.0


class Channel(Protocol):
    """Something that can deliver one alert (raising ``NotifyError`` when it cannot)."""

    @property
    def name(self) -> str: ...

    def send(self, alert: Alert) -> None: ...


def _evidence_lines(alert: Alert) -> list[str]:
    out = []
    for key, value in alert.evidence.items():
        if key == "magnitude":
            continue
        if isinstance(value, float):
            value = f"{value:,.6g}"
        out.append(f"{key}: {value}")
    return out


def alert_text(alert: Alert) -> str:
    """The alert as plain text (email body, webhook fallback text)."""
    span = (
        alert.first_day.isoformat()
        if alert.first_day == alert.last_day
        else f"{alert.first_day} to {alert.last_day} ({alert.occurrences} days)"
    )
    lines = [
        f"{_LABEL[alert.severity]} {alert.title}",
        f"rule {alert.rule} on {alert.subject}, {span}",
        "",
        "Evidence:",
        *(f"  {line}" for line in _evidence_lines(alert)),
        "",
        f"Suggested action: {alert.action}",
    ]
    if alert.alert_id is not None:
        lines.append(f"Acknowledge: realyield alerts --ack {alert.alert_id}")
    return "\n".join(lines)


def webhook_payload(alert: Alert, flavor: str) -> dict[str, Any]:
    """The JSON body for a Slack incoming webhook, a Discord webhook, or a generic
    receiver (the alert's own fields plus ``text``)."""
    summary = f"{_LABEL[alert.severity]} {alert.title}"
    if flavor == "slack":
        evidence = "\n".join(f"- {line}" for line in _evidence_lines(alert))
        return {
            "text": summary,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{summary}*"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": evidence[:2900] or "-"}},
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"Action: {alert.action}"[:2900]}],
                },
            ],
        }
    if flavor == "discord":
        fields = [
            {"name": k, "value": str(v)[:1000] or "-", "inline": True}
            for k, v in alert.evidence.items()
            if k != "magnitude"
        ][:25]
        return {
            "content": summary[:2000],
            "embeds": [
                {
                    "title": alert.title[:256],
                    "description": f"Action: {alert.action}"[:4000],
                    "color": _COLOURS[alert.severity],
                    "fields": fields,
                }
            ],
        }
    return {"text": alert_text(alert), "alert": alert.as_dict()}


def flavor_for(url: str) -> str:
    """``discord`` for discord.com webhooks, ``slack`` otherwise (Slack's shape is the
    one most chat tools' incoming webhooks accept)."""
    host = (urlsplit(url).hostname or "").lower()
    return "discord" if host.endswith(("discord.com", "discordapp.com")) else "slack"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return min(float(value), MAX_RETRY_AFTER_S) if value else None
    except ValueError:
        return None


@dataclass
class WebhookChannel:
    """POST each alert as JSON to a webhook URL.

    Retries (``max_attempts`` in all, exponential backoff from ``backoff_s``) on
    timeouts, connection failures, 429 (honouring ``Retry-After``, capped) and 5xx; any
    other 4xx fails at once (the URL or payload is wrong and will stay wrong).

    Raises (from ``send``):
        TemporaryNotifyError: still failing after the last attempt.
        NotifyError: a permanent refusal.
    """

    url: Secret
    flavor: str = "auto"
    timeout_s: float = 10.0
    max_attempts: int = 4
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client | None = field(default=None, repr=False)
    name: str = "webhook"

    def __post_init__(self) -> None:
        if not isinstance(self.url, Secret):
            raise ConfigError("WebhookChannel.url must be a Secret (it is a credential)")
        scheme = urlsplit(self.url.reveal()).scheme
        if scheme not in ("http", "https"):
            raise ConfigError("the webhook URL must start with https:// (or http:// locally)")
        if self.flavor == "auto":
            self.flavor = flavor_for(self.url.reveal())
        if self.flavor not in FLAVORS:
            raise ConfigError(f"webhook flavor {self.flavor!r}: use one of {FLAVORS} or auto")
        if self.max_attempts < 1:
            raise ConfigError("webhook max_attempts must be >= 1")

    def __repr__(self) -> str:
        host = urlsplit(self.url.reveal()).hostname or "?"
        return f"WebhookChannel(host={host!r}, flavor={self.flavor!r}, url=***)"

    def _post_once(self, client: httpx.Client, payload: dict[str, Any]) -> None:
        try:
            response = client.post(self.url.reveal(), json=payload, timeout=self.timeout_s)
        except httpx.TimeoutException:
            raise TemporaryNotifyError(f"webhook: no answer within {self.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            detail = redact(str(exc), [self.url.reveal()])
            raise TemporaryNotifyError(
                f"webhook: cannot connect ({type(exc).__name__}: {detail})"
            ) from None
        status = response.status_code
        if status < 300:
            return
        body = redact(response.text[:200], [self.url.reveal()])
        if status == 429 or status >= 500:
            wait = _retry_after(response)
            if wait:
                self.sleep(wait)
            raise TemporaryNotifyError(f"webhook: HTTP {status} ({body})")
        raise NotifyError(
            f"webhook: HTTP {status} ({body}); the URL or the payload was refused, check the "
            "webhook's address (REALYIELD_WEBHOOK_URL) and that it is still active"
        )

    def send(self, alert: Alert) -> None:
        payload = webhook_payload(alert, self.flavor)
        own = self.client is None
        client = self.client or httpx.Client()
        try:
            retrying = Retrying(
                stop=stop_after_attempt(self.max_attempts),
                wait=wait_exponential(multiplier=self.backoff_s, max=30),
                retry=retry_if_exception_type(TemporaryNotifyError),
                sleep=self.sleep,
                reraise=True,
            )
            retrying(self._post_once, client, payload)
        finally:
            if own:
                client.close()


@dataclass
class EmailChannel:
    """Send each alert as a plain-text email through an SMTP server.

    ``security`` is ``starttls`` (port 587, the default), ``ssl`` (port 465) or ``none``
    (a local relay). Retries connection failures, timeouts and 4xx replies (the server
    says "try later"); an authentication failure or a 5xx reply fails at once.

    Raises (from ``send``):
        TemporaryNotifyError: still failing after the last attempt.
        NotifyError: a permanent refusal.
    """

    host: str
    sender: str
    recipients: Sequence[str]
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    timeout_s: float = 15.0
    max_attempts: int = 3
    backoff_s: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    name: str = "email"

    def __post_init__(self) -> None:
        if not self.host or not self.sender or not self.recipients:
            raise ConfigError("email: give smtp host, from address and at least one recipient")
        if self.security not in ("starttls", "ssl", "none"):
            raise ConfigError(f"email security {self.security!r}: use starttls, ssl or none")
        if self.password is not None and not isinstance(self.password, Secret):
            raise ConfigError("EmailChannel.password must be a Secret")

    def __repr__(self) -> str:
        password = "set" if self.password else "none"
        return (
            f"EmailChannel(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"recipients={len(self.recipients)}, password={password})"
        )

    def message(self, alert: Alert) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"[realyield] {alert.severity}: {alert.title}"[:200]
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg.set_content(alert_text(alert))
        return msg

    def _send_once(self, msg: EmailMessage) -> None:
        secrets = [self.password.reveal()] if self.password else []
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username and self.password:
                    smtp.login(self.username, self.password.reveal())
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError:
            raise NotifyError(
                f"email: {self.host} refused the login for {self.username!r}; check the user and "
                "REALYIELD_SMTP_PASSWORD (message withheld: it may echo credentials)"
            ) from None
        except smtplib.SMTPResponseException as exc:
            reply = redact(_decode(exc.smtp_error), secrets)
            text = f"email: {self.host} replied {exc.smtp_code} ({reply})"
            if 400 <= exc.smtp_code < 500:
                raise TemporaryNotifyError(text) from None
            raise NotifyError(text) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise TemporaryNotifyError(
                f"email: {self.host}:{self.port} hung up ({redact(str(exc), secrets)})"
            ) from None
        except smtplib.SMTPException as exc:  # permanent: e.g. STARTTLS not offered
            raise NotifyError(f"email: {type(exc).__name__}: {redact(str(exc), secrets)}") from None
        except OSError as exc:  # refused, unreachable, timed out (TimeoutError is an OSError)
            raise TemporaryNotifyError(
                f"email: cannot reach {self.host}:{self.port} ({type(exc).__name__}: "
                f"{redact(str(exc), secrets)})"
            ) from None

    def send(self, alert: Alert) -> None:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=60),
            retry=retry_if_exception_type(TemporaryNotifyError),
            sleep=self.sleep,
            reraise=True,
        )
        retrying(self._send_once, self.message(alert))


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
