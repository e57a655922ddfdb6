"""A small real-browser driver: headless Chromium spoken to over the Chrome DevTools Protocol (CDP).

It exists so checks can open the exported reports and dashboards the way a reader does, in a real
engine, and see what went wrong there: console errors, uncaught exceptions, failed and 4xx/5xx requests,
and every URL the page asked for (``outside`` lists those that left ``file://``). It needs only the
Debian ``chromium`` binary and the ``websockets`` sync client; no selenium, no playwright.

    with Browser() as b:
        b.goto(path.as_uri())
        b.fill("#name", "Somchai")
        b.click("button[type=submit]")
        b.wait_for("document.querySelector('#greeting')?.textContent")
        b.screenshot(tmp / "page.png")
        assert not b.console_errors and not outside(b.requests)

One page, one connection, one thread: ``send`` writes a command and reads the socket until the reply
with its id arrives; the events read meanwhile are recorded (the lists below) and buffered for the
waits (``goto`` waits for ``Page.loadEventFired`` and then for the network to go quiet).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

INSTALL_HINT = "install it with `apt-get install chromium fonts-thai-tlwg` (fonts for Thai), or set $WELFARE_CHROMIUM"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless=new", "--remote-debugging-port=0", "--no-first-run", "--no-default-browser-check", "--disable-gpu",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--metrics-recording-only", "--mute-audio",
)
A4_INCHES = (8.27, 11.69)
IDLE_S = 0.5  # the network counts as idle once no request has been in flight for this long
MAX_MESSAGE = 256 * 1024 * 1024  # a full-page screenshot or a PDF arrives as one base64 message
LOCAL_SCHEMES = ("data:", "blob:")  # never on the network, so not recorded in `requests`

Event = dict[str, Any]


class BrowserError(RuntimeError):
    """Chromium is missing, would not start, or a CDP command, navigation, script or wait failed."""


def find_chromium() -> str | None:
    """The Chromium executable: $WELFARE_CHROMIUM if set (and nothing else then), else the first of
    chromium, chromium-browser, google-chrome on PATH; None when there is none."""
    override = os.environ.get("WELFARE_CHROMIUM")
    if override:
        return shutil.which(override)
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def outside(requests: Iterable[str], allowed_prefixes: tuple[str, ...] = ("file://",)) -> list[str]:
    """The request URLs that start with none of the allowed prefixes, e.g. every request that left file://."""
    return [url for url in requests if not url.startswith(allowed_prefixes)]


class Browser:
    """A headless Chromium with one page, used as a context manager (``with Browser() as b: ...``).

    What the page did is recorded from the start, across navigations (``clear()`` starts over):
    ``console_errors`` (console.error/assert, uncaught exceptions with url:line, browser log errors),
    ``requests`` (every requested URL but data:/blob:), ``failed_requests`` ((url, errorText) of the
    requests that never completed) and ``http_errors`` ((url, status) of the responses with status >= 400).
    """

    def __init__(self, width: int = 1440, height: int = 900, timeout_s: float = 60) -> None:
        executable = find_chromium()
        if executable is None:
            where = os.environ.get("WELFARE_CHROMIUM")
            found = f"$WELFARE_CHROMIUM={where} is not executable" if where else f"no {'/'.join(CANDIDATES)} on PATH"
            raise BrowserError(f"Chromium not found ({found}): {INSTALL_HINT}")
        self.executable, self.width, self.height, self.timeout_s = executable, width, height, timeout_s
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self.failed_requests: list[tuple[str, str]] = []
        self.http_errors: list[tuple[str, int]] = []
        self._urls: dict[str, str] = {}  # requestId -> url, for loadingFailed (which names only the id)
        self._in_flight: set[str] = set()
        self._last_network = time.monotonic()  # when a request last started or ended
        self._events: collections.deque[Event] = collections.deque(maxlen=10_000)
        self._next_id = 0
        self._tmp: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._ws: ClientConnection | None = None
        self._stack = contextlib.ExitStack()  # holds the websocket connection

    # -- life cycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Launch Chromium, attach to its page and enable the Page, Runtime, Network and Log domains."""
        try:
            self._tmp = Path(tempfile.mkdtemp(prefix="welfare-chromium-"))
            profile = self._tmp / "profile"
            args = [self.executable, *FLAGS, f"--user-data-dir={profile}", f"--window-size={self.width},{self.height}"]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                args.append("--no-sandbox")  # Chromium refuses to run its sandbox as root
            args.append("about:blank")  # without a URL the first tab is the new-tab page, with its chrome:// requests
            with open(self._tmp / "stderr.log", "wb") as stderr:  # a file, so a chatty Chromium never blocks on a pipe
                # its own TMPDIR: Chromium leaves its singleton socket folders there, removed with the rest
                env = {**os.environ, "TMPDIR": str(self._tmp)}
                self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                              start_new_session=True, env=env)
            port = self._devtools_port(profile / "DevToolsActivePort")
            # entered as a context manager, which websockets 17 asks of connect() (it warns otherwise)
            self._ws = self._stack.enter_context(connect(
                self._page_socket(port), max_size=MAX_MESSAGE, max_queue=1024, compression=None, proxy=None,
                ping_interval=None, open_timeout=self.timeout_s))
            for domain in ("Page", "Runtime", "Network", "Log"):
                self.send(f"{domain}.enable")
            self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height, deviceScaleFactor=1,
                      mobile=False)
            self.clear()
        except BaseException:
            self.close()
            raise

    def clear(self) -> None:
        """Forget what was recorded so far (console errors, requests, failures, HTTP errors)."""
        for recorded in (self.console_errors, self.requests, self.failed_requests, self.http_errors):
            recorded.clear()

    def close(self) -> None:
        """Close the socket, stop Chromium (SIGTERM, SIGKILL after 10 s) and remove its profile. Idempotent."""
        self._ws = None
        with contextlib.suppress(Exception):
            self._stack.close()
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            with contextlib.suppress(OSError):  # helpers (zygote, crashpad) left in Chromium's own process group
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _stderr_tail(self, lines: int = 20) -> str:
        log = self._tmp / "stderr.log" if self._tmp else None
        if log is None or not log.exists():
            return ""
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def _devtools_port(self, active_port: Path) -> int:
        """Chromium writes the port it picked (for --remote-debugging-port=0) into the profile; wait for it."""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise BrowserError(f"Chromium exited with {self._proc.returncode} on start:\n{self._stderr_tail()}")
            with contextlib.suppress(OSError):
                first = active_port.read_text(encoding="utf-8").partition("\n")[0].strip()
                if first.isdigit() and int(first) > 0:
                    return int(first)
            time.sleep(0.05)
        raise BrowserError(f"Chromium did not open its DevTools port in {self.timeout_s} s:\n{self._stderr_tail()}")

    def _page_socket(self, port: int) -> str:
        """The webSocketDebuggerUrl of the first page target, creating one if the browser has none."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never send localhost to a proxy
        base = f"http://127.0.0.1:{port}"
        with opener.open(f"{base}/json", timeout=self.timeout_s) as response:
            targets = json.load(response)
        pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        request = urllib.request.Request(f"{base}/json/new?about:blank", method="PUT")
        with opener.open(request, timeout=self.timeout_s) as response:
            return json.load(response)["webSocketDebuggerUrl"]

    # -- the message loop ---------------------------------------------------------------------------------

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Run one CDP command and return its result; the events that arrive meanwhile are recorded and buffered."""
        return self._send(method, params, self.timeout_s)

    def _send(self, method: str, params: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        if self._ws is None:
            raise BrowserError(f"{method}: the browser is not running (use `with Browser() as b:`)")
        self._next_id += 1
        ident = self._next_id
        try:
            self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        except ConnectionClosed as exc:
            raise self._gone(method) from exc
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._receive(deadline - time.monotonic())
            if message is None:
                raise BrowserError(f"{method}: no answer from Chromium in {timeout_s:.1f} s")
            if message.get("id") == ident:
                if "error" in message:
                    error = message["error"]
                    raise BrowserError(f"{method}: {error.get('message')} {error.get('data', '')}".rstrip())
                return message.get("result", {})

    def _gone(self, method: str) -> BrowserError:
        return BrowserError(f"{method}: the connection to Chromium closed:\n{self._stderr_tail()}")

    def _receive(self, timeout_s: float) -> dict[str, Any] | None:
        """The next message (an event is recorded and buffered first), or None after timeout_s."""
        assert self._ws is not None
        try:
            message = json.loads(self._ws.recv(timeout=max(timeout_s, 0)))
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise self._gone("recv") from exc
        if "method" in message:
            self._record(message)
            self._events.append(message)
        return message

    def _pump(self, seconds: float) -> None:
        """Read (and so record) whatever arrives during the next `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._receive(left)

    def _wait_event(self, method: str, timeout_s: float) -> Event:
        """The first buffered or arriving event `method` (taken out of the buffer); BrowserError after timeout_s."""
        for event in self._events:
            if event["method"] == method:
                self._events.remove(event)
                return event
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            message = self._receive(left)
            if message is not None and message.get("method") == method:
                self._events.remove(message)
                return message
        raise BrowserError(f"no {method} in {timeout_s:.1f} s")

    def _record(self, event: Event) -> None:
        method, p = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = p.get("args", ())
            texts = [str(a["value"]) if "value" in a else a.get("description", a.get("type", "")) for a in args]
            self.console_errors.append(" ".join(texts) or p["type"])
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description") or d.get("text", "exception")
            where = f" ({d['url']}:{d.get('lineNumber', 0) + 1})" if d.get("url") else ""
            self.console_errors.append(text + where)
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            self.console_errors.append(entry.get("text", "") + (f" ({entry['url']})" if entry.get("url") else ""))
        elif method == "Network.requestWillBeSent":
            url, ident = p["request"]["url"], p["requestId"]
            if not url.startswith(LOCAL_SCHEMES):
                self.requests.append(url)
            self._urls[ident] = url
            self._in_flight.add(ident)
            self._last_network = time.monotonic()
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            if method == "Network.loadingFailed":
                self.failed_requests.append((self._urls.get(p["requestId"], "?"), p.get("errorText", "")))
            self._in_flight.discard(p["requestId"])
            self._last_network = time.monotonic()
        elif method == "Network.responseReceived" and p["response"].get("status", 0) >= 400:
            self.http_errors.append((p["response"]["url"], int(p["response"]["status"])))

    # -- what a reader does -------------------------------------------------------------------------------

    def goto(self, url: str, wait_s: float | None = None) -> None:
        """Open `url` and wait for its load event, then for the network to be idle (no request in flight for
        0.5 s). Both waits share `wait_s` (default: the browser's timeout); a missing load event raises
        BrowserError, a network still busy at the deadline does not (see `failed_requests`/`requests`)."""
        wait_s = self.timeout_s if wait_s is None else wait_s
        deadline = time.monotonic() + wait_s
        self._events.clear()  # an older page's load event must not count
        self._in_flight.clear()
        try:  # Page.navigate answers once the response (headers) arrived, so it shares the deadline
            result = self._send("Page.navigate", {"url": url}, wait_s)
        except BrowserError as exc:
            raise BrowserError(f"cannot open {url} in {wait_s} s ({exc})") from None
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        if result.get("loaderId"):  # none for a same-document navigation (a #fragment), which fires no load event
            try:
                self._wait_event("Page.loadEventFired", max(deadline - time.monotonic(), 0))
            except BrowserError as exc:
                raise BrowserError(f"{url} did not finish loading in {wait_s} s ({exc})") from None
        self._last_network = time.monotonic()
        while (now := time.monotonic()) < deadline:
            if not self._in_flight and now - self._last_network >= IDLE_S:
                return
            wait = IDLE_S - (now - self._last_network) if not self._in_flight else IDLE_S
            self._pump(min(max(wait, 0.01), deadline - now))

    def evaluate(self, js: str, await_promise: bool = True) -> Any:
        """The value of the JavaScript expression `js` (awaited if a promise, returned as JSON: None for undefined,
        nodes and functions); BrowserError with the exception's description if it throws."""
        result = self.send("Runtime.evaluate", expression=js, returnByValue=True, awaitPromise=await_promise,
                           userGesture=True)
        if "exceptionDetails" in result:
            d = result["exceptionDetails"]
            raise BrowserError(f"{js[:200]}: {d.get('exception', {}).get('description') or d.get('text', 'exception')}")
        return result.get("result", {}).get("value")

    def wait_for(self, js_expression: str, timeout_s: float = 30, poll_s: float = 0.25) -> Any:
        """Evaluate `js_expression` every `poll_s` until it is truthy and return its value (a DOM node, which
        cannot travel by value, as True). An expression that throws counts as not yet; BrowserError naming the
        expression (and its last error) after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        last_error = ""
        probe = f"(() => {{ const v = ({js_expression}); return (v instanceof Node) ? true : v; }})()"
        while True:
            try:
                value = self.evaluate(probe)
                if value:
                    return value
            except BrowserError as exc:
                last_error = f" (last error: {exc})"
            if (left := deadline - time.monotonic()) <= 0:
                raise BrowserError(f"timed out after {timeout_s} s waiting for {js_expression!r}{last_error}")
            self._pump(min(poll_s, left))

    def fill(self, selector: str, value: str) -> None:
        """Set the value of the input, textarea or select matching `selector` through the prototype's native setter
        (which React's value tracking sees) and dispatch input and change events; BrowserError if nothing matches."""
        self.evaluate(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) throw new Error('fill: no element matches ' + {json.dumps(selector)});
            const proto = [HTMLTextAreaElement, HTMLSelectElement].find(t => el instanceof t) || HTMLInputElement;
            el.focus();
            Object.getOwnPropertyDescriptor(proto.prototype, 'value').set.call(el, {json.dumps(value)});
            el.dispatchEvent(new Event('input', {{bubbles: true}}));
            el.dispatchEvent(new Event('change', {{bubbles: true}}));
        }})()""")

    def click(self, selector: str) -> None:
        """Scroll the element matching `selector` into view and click it with element.click() under a user gesture
        (the event is not isTrusted and has no coordinates; disabled elements ignore it); BrowserError if nothing
        matches. A click that navigates does not wait: follow it with `wait_for`."""
        self.evaluate(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) throw new Error('click: no element matches ' + {json.dumps(selector)});
            el.scrollIntoView({{block: 'center'}});
            el.click();
        }})()""")

    def screenshot(self, path: str | Path, full_page: bool = True) -> Path:
        """Write a PNG of the viewport, or of the whole page (its CSS content size) when `full_page`."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": max(size["width"], 1), "height": max(size["height"], 1), "scale": 1}
            params |= {"captureBeyondViewport": True, "clip": clip}
        return _write(path, self.send("Page.captureScreenshot", **params)["data"])

    def pdf(self, path: str | Path, landscape: bool = False) -> Path:
        """Print the page to PDF on A4 with backgrounds (a CSS @page size wins) and write it."""
        data = self.send("Page.printToPDF", landscape=landscape, paperWidth=A4_INCHES[0], paperHeight=A4_INCHES[1],
                         printBackground=True, preferCSSPageSize=True)["data"]
        return _write(path, data)

    def set_cookie(self, name: str, value: str, url: str) -> None:
        """Set a cookie as if `url` had sent it (its domain, path and secure flag follow from the URL)."""
        if self.send("Network.setCookie", name=name, value=value, url=url).get("success") is False:
            raise BrowserError(f"Chromium refused the cookie {name} for {url}")


def _write(path: str | Path, data: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(data))
    return path
