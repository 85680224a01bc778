"""AWS AppConfig: `appconfig://APPLICATION/ENVIRONMENT/PROFILE` (names or IDs), a free-form
configuration profile read from the AWS AppConfig Agent Lambda extension, which the function
attaches as a layer. The agent serves its local cache on
`http://localhost:$AWS_APPCONFIG_EXTENSION_HTTP_PORT` (default 2772) and polls AppConfig for
newly deployed versions every AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS (45 s by
default), which adds to how long a stop takes to arrive.

The agent's API (its OpenAPI model in the AppConfig user guide):
`GET /applications/APP/environments/ENV/configurations/PROFILE` answers 200 with the deployed
content (and the version in a header), 404 (ResourceNotFoundException) when there is none,
and 400 or 500 (or another error status) with a short text naming the failure. One plain
HTTP request with the read's deadline is enough for it (source/transport.py): nothing is added
to the layer, and no proxy is ever used for localhost."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from urllib.parse import quote

from chaos_layer.source.base import (
    APPCONFIG_PREFIX,
    READ_DEADLINE,
    THROTTLING_CODES,
    Provider,
    SourceError,
    Stored,
)
from chaos_layer.source.transport import ConnectFailed, ReadTimedOut, TransportError, exchange

PORT_ENV = "AWS_APPCONFIG_EXTENSION_HTTP_PORT"
DEFAULT_PORT = 2772
TIMEOUT = 1.0  # to connect, and for each read of the socket: the agent is on the same host
_ERROR_TEXT = 300


def split(location: str) -> tuple[str, str, str]:
    """`appconfig://app/env/profile` -> (`app`, `env`, `profile`); ValueError for anything else."""
    parts = location.removeprefix(APPCONFIG_PREFIX).split("/")
    if not location.startswith(APPCONFIG_PREFIX) or len(parts) != 3 or not all(parts):
        raise ValueError(
            f"{location} is not an AppConfig location: expected appconfig://APPLICATION/ENVIRONMENT/PROFILE"
        )
    return parts[0], parts[1], parts[2]


def agent_path(application: str, environment: str, profile: str) -> str:
    names = (quote(part, safe="") for part in (application, environment, profile))
    return "/applications/{}/environments/{}/configurations/{}".format(*names)


def agent_port() -> int:
    """The agent's port from AWS_APPCONFIG_EXTENSION_HTTP_PORT, as the agent itself reads it."""
    text = os.environ.get(PORT_ENV, "").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else DEFAULT_PORT


class AgentProvider(Provider):
    """Profiles through the AppConfig agent on localhost, one GET each."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock

    @staticmethod
    def check(location: str) -> None:
        split(location)

    def get(self, locations: Sequence[str]) -> dict[str, Stored]:
        deadline = self._clock() + READ_DEADLINE
        paths = {location: agent_path(*split(location)) for location in locations}
        port = agent_port()
        found = {}
        for location, path in paths.items():
            if self._clock() > deadline:
                raise SourceError("ReadTimeout", f"reading {location} did not start within {READ_DEADLINE:g} s")
            stored = self._get(location, f"http://localhost:{port}{path}", deadline)
            if stored is not None:
                found[location] = stored
        return found

    def _get(self, location: str, url: str, deadline: float) -> Stored | None:
        try:
            answer = exchange("GET", url, {"Accept": "*/*"}, None, deadline, self._clock)
        except ConnectFailed as error:
            cause = error.__cause__
            reason = getattr(cause, "strerror", None) or str(cause)
            raise SourceError(
                "AgentUnreachable",
                f"the AppConfig agent does not answer on {url.split('/applications/')[0]} ({reason});"
                " is its Lambda layer attached?",
            ) from None
        except ReadTimedOut:
            raise SourceError("ReadTimeout", f"the AppConfig agent did not answer within {TIMEOUT:g} s") from None
        except TransportError as error:
            raise SourceError("AgentError", f"the AppConfig agent closed the connection ({error.__cause__})") from None
        if answer.status == 404:
            return None
        if answer.status >= 300:
            raise _agent_error(location, answer.status, " ".join(_text(answer.body).split())[:_ERROR_TEXT])
        text = _text(answer.body, strict=True)
        version = answer.headers.get("configuration-version") or answer.headers.get("configurationversion") or ""
        return Stored(location, text, version=int(version) if version.isdigit() else None)


def _text(body: bytes, strict: bool = False) -> str:
    """The body as text; the document must be UTF-8, the agent's short message need not."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        if strict:
            raise SourceError("NotUtf8", "the document is not UTF-8 text") from None
        return ""


def _agent_error(location: str, status: int, text: str) -> SourceError:
    code = next((word.rstrip(":,.") for word in text.split() if word.rstrip(":,.").endswith("Exception")), "")
    if status == 429 or code in THROTTLING_CODES:
        return SourceError(code or "TooManyRequestsException", f"the AppConfig agent answered {status}: {text}")
    if "AccessDenied" in text or status == 403:
        _, environment, profile = split(location)
        return SourceError(  # the agent's words (AWS's message) are kept out of the warning
            "AccessDenied",
            "access denied: the function needs appconfig:StartConfigurationSession and"
            f" appconfig:GetLatestConfiguration on environment {environment} and profile {profile}"
            f" (the AppConfig agent answered {status})",
            detail=text,
        )
    return SourceError(code or f"HTTP {status}", f"the AppConfig agent answered {status}: {text}".rstrip(": "))
