"""Hostile text and the trap that catches it running, shared by the browser tests.

TRAP is installed before any page script (``context.add_init_script``): it
counts every attempt to run injected code (writing ``window.__xss``, or
calling alert, confirm or prompt) in ``window.__hits``.
"""

from __future__ import annotations

from typing import Any

SCRIPT = "<script>window.__xss=1</script>"
HANDLER = '"><img src=x onerror="window.__xss=1;alert(1)">'
SVG = "<svg/onload=window.__xss=1>"
JS_URL = "javascript:window.__xss=1"
RTL = "\u202egpj.exe"
LONG = "A" * 10_000
PAYLOAD = f"{SCRIPT} {HANDLER} {SVG} {JS_URL} {RTL}"

TRAP = """
(() => {
  window.__hits = [];
  Object.defineProperty(window, "__xss", {
    configurable: false,
    get() { return undefined; },
    set(value) { window.__hits.push(String(value)); },
  });
  for (const name of ["alert", "confirm", "prompt"]) {
    window[name] = (message) => { window.__hits.push(name + ":" + message); };
  }
})();
"""
WIDTH = 1280


def watched_page(context: Any) -> tuple[Any, list[str]]:
    """A new page of a trapped context, with the script errors and console errors it reports."""
    context.add_init_script(TRAP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page, errors


def assert_inert(page: Any, errors: list[str], where: str, text: str) -> None:
    """The hostile ``text`` shows as text in ``where``; nothing injected ran, no script error."""
    assert page.evaluate("window.__hits") == [], "injected code ran"
    assert page.locator("main script, main img").count() == 0
    assert text in page.locator(where).inner_text()
    assert errors == []
