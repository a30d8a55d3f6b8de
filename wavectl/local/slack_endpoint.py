"""`POST /slack/interactions` on the `wavectl local up` port, as API Gateway serves it on AWS.

The control plane's REST API has one route for Slack, `POST /slack/interactions` (no authoriser,
Lambda proxy integration to the approval callback). Here the same port that serves the embedded AWS
serves that route: each HTTP request becomes the exact proxy event API Gateway would pass (REST API
v1 shape: resource, path, httpMethod, headers, multiValueHeaders, query strings, requestContext with
stage `v1` and the caller's source IP, the body as received; `isBase64Encoded` only for bytes that
are not UTF-8), the real callback function runs in-process, and its proxy response becomes the HTTP
response. As on AWS: another method on the route answers 403 `Missing Authentication Token` (API
Gateway's answer for a route that does not exist) without invoking the function, a body over API
Gateway's 10 MB limit answers 413, and a function error answers 502 `Internal server error`.

Any HTTP client can therefore exercise the signed path offline, e.g. a Slack-signed curl; the local
Slack page and `wavectl demo` click through it (`post_click`).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from threading import Event, Thread
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, make_server

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

INTERACTIONS_PATH = "/slack/interactions"
STAGE = "v1"
API_GATEWAY_MAX_BODY = 10 * 1024 * 1024
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def api_gateway_event(
    *,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    query: dict[str, list[str]] | None = None,
    account: str = "123456789012",
) -> dict[str, Any]:
    """The Lambda proxy event of API Gateway's REST API for one request (resource = the route)."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value  # API Gateway keeps the last value of a repeated header
        multi.setdefault(name, []).append(value)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": dict(query) if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": path,
            "httpMethod": method,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{STAGE}{path}",
            "accountId": account,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": "local",
            "requestTimeEpoch": int(now * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": single.get("User-Agent"),
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "accessKey": None,
                "cognitoIdentityId": None,
                "principalOrgId": None,
            },
            "domainName": "127.0.0.1",
            "apiId": "local",
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


def _answer(
    status: int, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json", **(headers or {})}, body


def call_callback(cloud: LocalCloud, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Invoke the callback function as the Lambda proxy integration does; (status, headers, body)."""
    from wavectl.local.gates import callback_function

    response = cloud.session.client("lambda").invoke(
        FunctionName=callback_function(cloud.runbook), Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError") or not isinstance(payload, dict) or "statusCode" not in payload:
        return _answer(502, b'{"message": "Internal server error"}')
    body = payload.get("body") or ""
    raw = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode()
    headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
    return int(payload["statusCode"]), headers, raw


def wsgi_app(cloud: LocalCloud, fallback: WsgiApp) -> WsgiApp:
    """`fallback` (the embedded AWS) with the Slack route in front of it."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != INTERACTIONS_PATH:
            return fallback(environ, start_response)
        status, headers, body = _serve(cloud, environ)
        start_response(f"{status} {_REASONS.get(status, 'Status')}", list(headers.items()))
        return [body]

    return app


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 405: "Method Not Allowed",
            413: "Payload Too Large", 502: "Bad Gateway"}  # fmt: skip
served: list[dict[str, Any]] = []  # what the route answered: {"method", "status"} (tests, demo output)


def _serve(cloud: LocalCloud, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if method != "POST":
        answer = _answer(403, b'{"message":"Missing Authentication Token"}')
    elif length > API_GATEWAY_MAX_BODY:
        answer = _answer(413, b'{"message":"Request Too Long"}')
    else:
        body = environ["wsgi.input"].read(length) if length else b""
        headers = [
            (key[5:].replace("_", "-").title(), str(value))
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        if environ.get("CONTENT_TYPE"):
            headers.append(("Content-Type", environ["CONTENT_TYPE"]))
        from urllib.parse import parse_qs

        event = api_gateway_event(
            method=method,
            path=INTERACTIONS_PATH,
            headers=headers,
            body=body,
            source_ip=str(environ.get("REMOTE_ADDR", "127.0.0.1")),
            query=parse_qs(environ.get("QUERY_STRING", "")) or None,
            account=cloud.accounts.tooling,
        )
        answer = call_callback(cloud, event)
    served.append({"method": method, "status": answer[0]})
    return answer


class Server:
    """The embedded AWS (moto's server app) plus the Slack route, on 127.0.0.1:PORT in a thread."""

    def __init__(self, cloud: LocalCloud, port: int) -> None:
        self._cloud, self._port = cloud, port
        self._server: BaseWSGIServer | None = None
        self._ready = Event()
        self._thread: Thread | None = None

    def start(self) -> int:
        """Start serving; the port (a free one if 0 was asked)."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        app = wsgi_app(self._cloud, DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", self._port, app, True, request_handler=MotoRequestHandler)
        self._thread = Thread(target=self._server.serve_forever, daemon=True, name="local-aws-server")
        self._thread.start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()


def post_click(url: str, body: str, headers: dict[str, str], timeout: float = 10.0) -> dict[str, Any]:
    """POST a Slack-signed interaction to `url` as Slack does; {"statusCode", "body"} of the answer."""
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return {"statusCode": response.status, "body": response.read().decode()}
    except urllib.error.HTTPError as error:
        return {"statusCode": error.code, "body": error.read().decode()}
