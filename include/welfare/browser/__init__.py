"""A real browser for what people look at: Debian's Chromium, headless, driven over the Chrome DevTools
Protocol (``cdp.Browser``). It logs into the live Airflow UI to picture a completed night, and the
browser tests use it to open pages as people do: every console error, every network request (so that
"nothing outside ``file://``" can be checked), screenshots and A4 PDFs. It needs nothing from the rest
of the package and nothing beyond Chromium and the ``websockets`` client."""

from welfare.browser.cdp import Browser, BrowserError, find_chromium, outside

__all__ = ["Browser", "BrowserError", "find_chromium", "outside"]
