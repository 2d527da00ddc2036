"""HTTP for the setup: one client configuration, and each network failure as one sentence.

Proxies come from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), as
httpx reads them. GitHub's rate limit is a 403 with `x-ratelimit-remaining: 0`; its reset time
(`x-ratelimit-reset`, seconds since the epoch) is said in local time.
"""

from __future__ import annotations

import logging
import time
import urllib.request
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app import __version__
from app.backend.ollama_setup.errors import (
    DownloadFailed,
    NoNetwork,
    ProxyFailed,
    RateLimited,
    SetupError,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 60.0
USER_AGENT = f"PhiDesk/{__version__}"


def http_client(*, read_timeout: float = READ_TIMEOUT) -> httpx.Client:
    """A client that follows redirects (GitHub's downloads move to a CDN) and honours proxies."""
    import httpx

    return httpx.Client(
        follow_redirects=True,
        timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT),
        headers={"User-Agent": USER_AGENT},
        trust_env=True,
    )


def host_of(url: str) -> str:
    return urlsplit(url).hostname or url


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url`, if any (what httpx will use)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


def transport_error(exc: httpx.HTTPError, url: str, what: str) -> SetupError:
    """A failure below HTTP (no connection, a proxy, a timeout) as one sentence."""
    import httpx

    log.info("%s from %s failed: %r", what, url, exc)
    host = host_of(url)
    proxy = proxy_for(url)
    if isinstance(exc, httpx.ProxyError) or (proxy and isinstance(exc, httpx.ConnectError)):
        return ProxyFailed(
            f"the proxy {_shown_proxy(proxy)} did not pass on the request for {what} to {host} "
            f"({_reason(exc)}); check the proxy settings (HTTPS_PROXY, HTTP_PROXY)"
        )
    if isinstance(exc, httpx.TimeoutException):
        return NoNetwork(
            f"{host} did not answer in time while getting {what}; check the network "
            "connection and try again"
        )
    if isinstance(exc, httpx.ConnectError | httpx.NetworkError):
        return NoNetwork(
            f"cannot reach {host} to get {what} ({_reason(exc)}); check the network connection "
            "and try again"
        )
    if isinstance(exc, httpx.RemoteProtocolError):
        return DownloadFailed(
            f"the connection to {host} broke off while getting {what}; try again, and a "
            "download resumes where it stopped"
        )
    return DownloadFailed(f"getting {what} from {host} failed ({_reason(exc)}); try again")


def status_error(response: httpx.Response, what: str) -> SetupError:
    """An HTTP error status as one sentence (the rate limit and a proxy's 407 by name)."""
    url = str(response.request.url)
    host = host_of(url)
    status = response.status_code
    log.info("%s from %s: HTTP %s %s", what, url, status, response.reason_phrase)
    if status in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
        return RateLimited(
            f"GitHub's limit on requests from this network is used up{_reset(response)}, so "
            f"PhiDesk cannot look up {what} now; try again then"
        )
    if status == 407:
        return ProxyFailed(
            f"the proxy {_shown_proxy(proxy_for(url))} asks for a password PhiDesk does not "
            f"have, so {what} could not be fetched; put the user name in the proxy URL "
            "(HTTPS_PROXY) or use another proxy"
        )
    return DownloadFailed(
        f"{host} answered {status} {response.reason_phrase} when asked for {what}; try again later"
    )


def _reset(response: httpx.Response) -> str:
    raw = response.headers.get("x-ratelimit-reset", "")
    if not raw.isdigit():
        return ""
    return " until " + time.strftime("%H:%M", time.localtime(int(raw)))


def _shown_proxy(proxy: str | None) -> str:
    if not proxy:
        return "in use"
    parts = urlsplit(proxy)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname or proxy)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]
