"""Waits on what a page does, never for a fixed time."""

from __future__ import annotations

from typing import Any

# Resolves once the page has run what it queued: two frames, then a task.
_SETTLED = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done))))"


def settle(page: Any) -> None:
    """Let late handlers and queued timers run before looking."""
    page.evaluate(_SETTLED)


def wait_for_status_refresh(page: Any) -> None:
    """Wait until the status page has replaced its figures with a fresh fragment at least once."""
    page.evaluate("() => { window.__figures = document.getElementById('status-root').firstElementChild; }")
    page.wait_for_function("() => document.getElementById('status-root').firstElementChild !== window.__figures")
    settle(page)
