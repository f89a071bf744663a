"""The demo's journey fails in one line when a server answers an HTML page instead of JSON (it used to
print Django's whole debug page to the terminal)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from legacy_monolith.demo.journey import Journey, JourneyError


class HtmlErrors(BaseHTTPRequestHandler):
    def do_PUT(self):
        body = b"<!DOCTYPE html>\n<html><title>OperationalError at /</title>" + b"x" * 5000
        self.send_response(500)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def html_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), HtmlErrors)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_an_html_answer_stops_the_journey_with_one_line_naming_it(html_server):
    journey = Journey(
        base_url=html_server,
        sandbox_url=html_server,
        webhook_secret="s",
        staff_username="staff1",
        staff_password="p",
        timeout=5,
    )

    with pytest.raises(JourneyError) as caught:
        journey.run()

    message = str(caught.value)
    assert "\n" not in message
    assert "answered 500 with text/html; charset=utf-8, not JSON: <!DOCTYPE html>" in message
    assert len(message) < 400
