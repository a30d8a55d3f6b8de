"""A Slack Web API stand-in on 127.0.0.1, so the real `slack_sdk.WebClient` code path runs offline.

    slack = LocalSlack().start()
    WebClient(token=LOCAL_BOT_TOKEN, base_url=slack.base_url).chat_postMessage(channel="C0X", text="hi")
    slack.messages()   # current state of every message (updates applied)
    slack.events()     # every message, update, ephemeral and response_url call, in order

Methods: `chat.postMessage`, `chat.update`, `chat.postEphemeral`, `auth.test`; `response_url`s are
`{url}/response/{channel}/{ts}` (see `response_url`). Other engineers add pages with
`add_route(method, path, handler)`; a handler gets a `SlackRequest` and returns a `SlackResponse`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOCAL_BOT_TOKEN = "xoxb-wavectl-local-bot-token"
LOCAL_SIGNING_SECRET = "wavectl-local-signing-secret-0123456789abcdef"
BOT_USER = "UWAVECTLBOT"


@dataclass(frozen=True)
class SlackRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body as JSON, or form fields (a `payload` field holding JSON is decoded too)."""
        if not self.body:
            return {}
        if "json" in self.headers.get("content-type", ""):
            return json.loads(self.body)
        fields = {k: v[0] for k, v in parse_qs(self.body.decode()).items()}
        if "payload" in fields:
            fields["payload"] = json.loads(fields["payload"])
        for key in ("blocks", "attachments"):
            if isinstance(fields.get(key), str):
                fields[key] = json.loads(fields[key])
        return fields


@dataclass(frozen=True)
class SlackResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"

    @classmethod
    def of_json(cls, data: Any, status: int = 200) -> SlackResponse:
        return cls(status=status, body=json.dumps(data).encode())


RouteHandler = Callable[[SlackRequest], SlackResponse]


@dataclass
class _State:
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


class LocalSlack:
    """The stand-in server: start it, point `WebClient(base_url=slack.base_url)` at it, read what it got."""

    def __init__(self, bot_token: str = LOCAL_BOT_TOKEN, host: str = "127.0.0.1", port: int = 0) -> None:
        self.bot_token = bot_token
        self._address = (host, port)
        self._state = _State()
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._routes: dict[tuple[str, str], RouteHandler] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------------- lifecycle

    def start(self) -> LocalSlack:
        self._server = ThreadingHTTPServer(self._address, _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        """Root of the server, e.g. http://127.0.0.1:53211"""
        if self._server is None:
            raise RuntimeError("local Slack is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """What `slack_sdk.WebClient(base_url=...)` takes (ends with /api/)."""
        return f"{self.url}/api/"

    def response_url(self, channel: str, ts: str) -> str:
        """The `response_url` an interaction on message (channel, ts) carries."""
        return f"{self.url}/response/{channel}/{ts}"

    def add_route(self, method: str, path: str, handler: RouteHandler) -> None:
        """Serve `handler` at `path` (exact match) for `method` (GET, POST)."""
        self._routes[(method.upper(), path)] = handler

    # -------------------------------------------------------------------- what it received

    def events(self) -> list[dict[str, Any]]:
        """Every message, update, ephemeral message and response_url call, in arrival order."""
        with self._lock:
            return [dict(event) for event in self._state.events]

    def event_count(self) -> int:
        """How many events (messages, updates, ...) have arrived: a cheap "anything new?" check."""
        with self._lock:
            return len(self._state.events)

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Each channel message as it now reads (updates applied), oldest first."""
        with self._lock:
            found = [dict(m) for m in self._state.messages.values()]
        return [m for m in found if channel in (None, m["channel"])]

    def export_jsonl(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(event, sort_keys=True) + "\n" for event in self.events()))
        return path

    # -------------------------------------------------------------------- Web API methods

    def handle(self, request: SlackRequest) -> SlackResponse:
        route = self._routes.get((request.method, urlsplit(request.path).path))
        if route is not None:
            return route(request)
        path = urlsplit(request.path).path
        if path.startswith("/response/"):
            return self._response_url(request, path)
        if path.startswith("/api/") and request.method == "POST":
            return SlackResponse.of_json(self._api(path.removeprefix("/api/"), request))
        return SlackResponse.of_json({"ok": False, "error": "not_found"}, status=404)

    def _api(self, method: str, request: SlackRequest) -> dict[str, Any]:
        api = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "auth.test": lambda _args: {"ok": True, "user_id": BOT_USER, "team": "wavectl-local"},
        }.get(method)
        if api is None:
            return {"ok": False, "error": "unknown_method"}
        if request.headers.get("authorization") != f"Bearer {self.bot_token}":
            return {"ok": False, "error": "invalid_auth"}
        args = request.json()
        if method != "auth.test" and not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        return api(args)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _record(self, kind: str, entry: dict[str, Any]) -> dict[str, Any]:
        event = {"seq": len(self._state.events) + 1, "kind": kind, "at": _now(), **entry}
        self._state.events.append(event)
        return event

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            ts = self._next_ts()
            message = _message_fields(args) | {"channel": args["channel"], "ts": ts, "user": BOT_USER}
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
                if args.get("reply_broadcast"):  # a reply also shown in the channel
                    message["reply_broadcast"] = True
            self._state.messages[(args["channel"], ts)] = message
            self._record("message", message)
        return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (args["channel"], str(args.get("ts")))
        with self._lock:
            message = self._state.messages.get(key)
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.update(_message_fields(args))
            message["edited"] = True
            self._record("update", {"channel": key[0], "ts": key[1], **_message_fields(args)})
        return {
            "ok": True,
            "channel": key[0],
            "ts": key[1],
            "text": message.get("text", ""),
            "message": message,
        }

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            ts = self._next_ts()
            self._record(
                "ephemeral",
                {"channel": args["channel"], "user": args.get("user"), "ts": ts, **_message_fields(args)},
            )
        return {"ok": True, "message_ts": ts}

    def _response_url(self, request: SlackRequest, path: str) -> SlackResponse:
        parts = path.removeprefix("/response/").split("/")
        if len(parts) != 2:
            return SlackResponse.of_json({"ok": False, "error": "invalid_response_url"}, status=404)
        channel, ts = parts
        body = request.json()
        with self._lock:
            self._record("response", {"channel": channel, "ts": ts, **body})
            message = self._state.messages.get((channel, ts))
            if message is not None and body.get("replace_original", True) and not body.get("delete_original"):
                message.update(_message_fields(body))
                message["edited"] = True
        return SlackResponse.of_json({"ok": True})


def _message_fields(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args[k] for k in ("text", "blocks", "attachments", "metadata") if k in args}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _handler_class(slack: LocalSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = SlackRequest(
                method=self.command,
                path=self.path,
                query=parse_qs(urlsplit(self.path).query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            try:
                response = slack.handle(request)
            except Exception as exc:  # a broken route must not kill the server
                response = SlackResponse.of_json({"ok": False, "error": f"internal_error: {exc}"}, status=500)
            self.send_response(response.status)
            self.send_header("content-type", response.content_type)
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
