"""The CDP driver against a real headless Chromium: one browser for the module, a page written into tmp_path,
and an image served from a local http.server thread so there is exactly one request outside file://."""

from __future__ import annotations

import base64
import http.server
import socket
import struct
import threading
import time

import pytest
from welfare.browser import Browser, BrowserError, find_chromium, outside

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="no Chromium (apt-get install chromium fonts-thai-tlwg, or set $WELFARE_CHROMIUM)")

WIDTH = 800
PNG = base64.b64decode(  # a 1x1 pixel
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==")
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>
<body style="margin:0">
<form id="f"><input id="name"><button id="go" type="button">go</button></form>
<p id="out">empty</p>
<img src="http://127.0.0.1:{port}/x.png" width="1" height="1">
<script>
console.error('boom');
console.log('not an error');
document.getElementById('go').addEventListener('click', () => {{
  document.getElementById('out').textContent = 'hello ' + document.getElementById('name').value;
}});
</script></body></html>"""


class _Image(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path != "/x.png":
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"gone")
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Image)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    with Browser(width=WIDTH, height=600, timeout_s=20) as b:
        yield b


@pytest.fixture
def page(browser, server, tmp_path):
    """The browser on a freshly loaded test page, with the recordings cleared first."""
    path = tmp_path / "page.html"
    path.write_text(PAGE.format(port=server), encoding="utf-8")
    browser.clear()
    browser.goto(path.as_uri())
    return browser, path


def test_records_console_errors_and_requests(page, server):
    b, path = page
    assert "boom" in b.console_errors
    assert not any("not an error" in e for e in b.console_errors)
    image = f"http://127.0.0.1:{server}/x.png"
    assert path.as_uri() in b.requests and image in b.requests
    assert outside(b.requests) == [image]
    assert outside(b.requests, allowed_prefixes=("file://", "http://127.0.0.1")) == []
    assert b.failed_requests == [] and b.http_errors == []


def test_failed_and_http_error_requests(page, server, tmp_path):
    b, _ = page
    missing = (tmp_path / "missing.png").as_uri()
    b.evaluate(f"new Promise(done => {{ const i = new Image(); i.onerror = done; i.src = {missing!r}; }})")
    b.wait_for("new Promise(done => setTimeout(() => done(true), 50))")  # let the loadingFailed event arrive
    assert any(url == missing and "ERR_FILE_NOT_FOUND" in err for url, err in b.failed_requests), b.failed_requests
    gone = f"http://127.0.0.1:{server}/gone"
    b.goto(gone)  # a 404 page still loads: no BrowserError, but recorded
    assert (gone, 404) in b.http_errors  # (with the favicon.ico Chromium asks an http origin for)
    assert any("404" in e for e in b.console_errors), b.console_errors  # Chromium logs the failed load


def test_uncaught_exception_is_a_console_error(page):
    b, _ = page
    b.evaluate("setTimeout(() => { throw new Error('late'); })")
    b.wait_for("new Promise(done => setTimeout(() => done(true), 50))")
    assert any("Error: late" in e for e in b.console_errors), b.console_errors


def test_fill_and_click(page):
    b, _ = page
    b.fill("#name", "Somchai")
    b.click("#go")
    assert b.evaluate("document.getElementById('out').textContent") == "hello Somchai"
    assert b.wait_for("document.getElementById('out').textContent.startsWith('hello') && 'ok'") == "ok"
    assert b.wait_for("document.querySelector('#go')") is True  # a node, which cannot travel by value
    with pytest.raises(BrowserError, match="no element matches"):
        b.click("#nowhere")
    with pytest.raises(BrowserError, match="no element matches"):
        b.fill("#nowhere", "x")


def test_evaluate_and_wait_for_errors(page):
    b, _ = page
    assert b.evaluate("Promise.resolve(41 + 1)") == 42
    with pytest.raises(BrowserError, match="ReferenceError"):
        b.evaluate("notDefined()")
    with pytest.raises(BrowserError, match="1 === 2"):
        b.wait_for("1 === 2", timeout_s=0.3, poll_s=0.05)


def test_screenshot_and_pdf(page, tmp_path):
    b, _ = page
    shot = b.screenshot(tmp_path / "shots" / "page.png")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert width == WIDTH and height > 0
    viewport = b.screenshot(tmp_path / "viewport.png", full_page=False).read_bytes()
    assert struct.unpack(">II", viewport[16:24]) == (WIDTH, 600)
    assert b.pdf(tmp_path / "page.pdf").read_bytes()[:4] == b"%PDF"
    assert b.pdf(tmp_path / "wide.pdf", landscape=True).read_bytes()[:4] == b"%PDF"


def test_cookie_and_navigation_error(browser, server):
    browser.set_cookie("session", "abc", f"http://127.0.0.1:{server}/")
    browser.goto(f"http://127.0.0.1:{server}/x.png")
    assert "session=abc" in browser.evaluate("document.cookie")
    with pytest.raises(BrowserError, match="ERR_"):
        browser.goto("http://127.0.0.1:9/")  # the discard port: nobody listens


def test_goto_gives_up_on_a_silent_server(browser):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        started = time.monotonic()
        with pytest.raises(BrowserError, match="cannot open"):
            browser.goto(url, wait_s=0.5)
        assert time.monotonic() - started < 5
        browser.goto("about:blank")  # and the browser is still usable


def test_missing_chromium_says_how_to_install(monkeypatch):
    monkeypatch.setenv("WELFARE_CHROMIUM", "/nonexistent")
    assert find_chromium() is None
    with pytest.raises(BrowserError, match="apt-get install chromium"):
        Browser()
