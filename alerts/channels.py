"""Every Apprise call: send one message to one channel URL, describe a URL without its secrets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import apprise

# Apprise's generic webhooks and email take extra headers: the idempotency key
# goes in one (every message also ends with it as text); JSON also carries the
# alert's fields beside its title and message.
_WEBHOOK_SCHEMAS = frozenset({"json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos"})
_JSON_SCHEMAS = frozenset({"json", "jsons"})
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str = ""


def _plugin(url: str) -> Any:
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if not plugin:
        raise ValueError("not an Apprise URL this installation can send to")
    return plugin


def validate(url: str) -> None:
    """Raise ValueError unless Apprise can send to ``url``."""
    _plugin(url)


def masked(url: str) -> str:
    """The URL with its tokens and passwords hidden (Apprise's privacy mode)."""
    try:
        return str(_plugin(url).url(privacy=True))
    except ValueError:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        return f"{scheme}://… (not a valid Apprise URL)"


def send(url: str, *, title: str, body: str, key: str, fields: dict[str, Any] | None = None) -> SendResult:
    """Send a plain-text message; ``key`` is the idempotency key, the same on every retry."""
    try:
        plugin = _plugin(url)
    except ValueError as exc:
        return SendResult(False, str(exc))
    schema = url.split("://", 1)[0].lower()
    if schema in _WEBHOOK_SCHEMAS:
        plugin.headers[IDEMPOTENCY_HEADER] = key
    if schema in _JSON_SCHEMAS and fields:
        plugin.payload_extras.update({"trainwatch": fields, "idempotency_key": key})
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:
        try:
            ok = plugin.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        except Exception as exc:  # a plugin bug must mark the channel, not kill the sweep
            return SendResult(False, f"{type(exc).__name__}: {exc}")
        captured = log.getvalue().strip()
    if ok:
        return SendResult(True)
    return SendResult(False, (captured.splitlines()[-1] if captured else "the channel refused the message")[:1000])
