"""The HTML report opened in a real headless browser (Debian's chromium): it renders a full page with the
chart, the tables and the example pairs, not a blank or broken one."""

import shutil
import subprocess

import pytest
from django.core.management import call_command

from shadow.transport import FileQueueWriter
from tests.shadow.builders import answer, make_pair
from tests.shadow.conftest import shadow_db
from tests.shadow.png import read_png

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 1400

pytestmark = [
    shadow_db,
    pytest.mark.skipif(
        not shutil.which(CHROMIUM), reason="chromium is not installed (make browser-install installs it)"
    ),
]


def screenshot(html_file, png_file, profile_dir) -> bytes:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile_dir}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={png_file}",
            html_file.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return png_file.read_bytes()


def test_the_html_report_renders_in_a_headless_browser(tmp_path, monkeypatch):
    queue = tmp_path / "queue"
    monkeypatch.setenv("SHADOW_QUEUE_URL", f"file://{queue}")
    writer = FileQueueWriter(queue)
    for n in range(60):
        primary = {"id": n, "price": "5.00", "at": f"2026-01-01T00:00:00.{3 * n:06d}Z"}
        candidate = {**primary, "at": f"2026-01-01T00:00:00.{3 * n + 1:06d}Z"}
        if n % 6 == 0:
            candidate["price"] = 5.0
        secondary = {**primary, "at": f"2026-01-01T00:00:00.{3 * n + 2:06d}Z"}
        writer.publish(make_pair(answer(primary), answer(candidate), secondary=answer(secondary)))
    writer.close()
    call_command("shadow", "worker", "--once", "--idle-timeout", "0.2", "--no-progress", stdout=None)
    report = tmp_path / "report.html"
    call_command("shadow", "report", "--format", "html", "--output", str(report))

    image = read_png(screenshot(report, tmp_path / "report.png", tmp_path / "profile"))

    assert (image.width, image.height) == (WIDTH, HEIGHT)
    pixels = list(image.pixels(step=4))
    colours = set(pixels)
    background = max(colours, key=pixels.count)
    not_background = sum(1 for p in pixels if p != background) / len(pixels)
    assert len(colours) > 50  # text, header band, badges, chart lines: not a blank or single-colour page
    assert not_background > 0.05
    header_band = image.rows[20][40 * image.channels : 40 * image.channels + 3]
    assert tuple(header_band) == (0x1F, 0x3A, 0x5F)  # the report's header colour: the CSS was applied
