"""Real servers on loopback for the notify tests: an SMTP server (aiosmtpd), an SMS webhook, an Aliyun SendSms stand-in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sink.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(_Handler(sink), hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@dataclass
class WebhookState:
    """The SMS gateway: deduplicates on the message id as notifications.md asks of it."""

    received: list[dict[str, Any]] = field(default_factory=list)
    delivered: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_with: int | None = None  # answer this status instead of accepting
    url: str = ""


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sms_webhook() -> Iterator[WebhookState]:
    state = WebhookState()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.received.append(body)
            if state.fail_with:
                self.send_response(state.fail_with)
                self.end_headers()
                return
            state.delivered.setdefault(body["id"], body)
            payload = json.dumps({"id": "gw-" + body["id"][-12:]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server(Handler)
    state.url = server.base + "/sms?token=s3cr3t-token"
    yield state
    server.stop()


@dataclass
class AliyunState:
    secret: str = "aliyun-SECRET-value"
    requests: list[dict[str, str]] = field(default_factory=list)
    bad_signatures: int = 0
    url: str = ""


def _pct(value: str) -> str:
    return quote(value, safe="-_.~")


@pytest.fixture
def aliyun_server() -> Iterator[AliyunState]:
    """Verifies the RPC signature exactly as Aliyun documents it, independently of the code under test."""
    state = AliyunState()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            signature = params.pop("Signature", "")
            canonical = "&".join(f"{_pct(k)}={_pct(v)}" for k, v in sorted(params.items()))
            to_sign = "GET&%2F&" + _pct(canonical)
            expected = base64.b64encode(hmac.new((state.secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
            if signature != expected:
                state.bad_signatures += 1
                answer = {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"}
            else:
                state.requests.append(params)
                answer = {"Code": "OK", "Message": "OK", "BizId": f"biz-{len(state.requests)}", "RequestId": "r"}
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server(Handler)
    state.url = server.base + "/"
    yield state
    server.stop()
