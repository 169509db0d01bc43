"""Where browser tests keep their screenshots: ``TRAINWATCH_SCREENSHOT_DIR`` when set, else the test's tmp_path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def screenshot_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TRAINWATCH_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_screenshot(page: Any, tmp_path: Path, name: str, *, full_page: bool = True) -> Path:
    """The page (the whole of it, or what the window shows) as ``name``.png; fails if nothing was written."""
    path = screenshot_folder(tmp_path) / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 0
    return path
