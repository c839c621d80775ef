"""Delivery channels behind one small interface: SMTP e-mail, SMS by JSON webhook, Aliyun SendSms, a file sink.

A channel's `send` returns the provider's reference, or raises `TemporaryFailure` (retry later) or
`PermanentFailure` (give up). Every provider call carries the message's key so a provider can drop a retry.
Credentials are kept out of reprs, errors and logs (`redact`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

from notifications.render import sms_segments


class DeliveryError(Exception):
    """A send that did not go through."""


class TemporaryFailure(DeliveryError):
    """Worth retrying: the server is down, busy or timed out."""


class PermanentFailure(DeliveryError):
    """Retrying cannot help: a bad address, a rejected template."""


@dataclass(frozen=True)
class OutgoingMessage:
    key: str  # the exactly-once key (a digest: the keys joined); providers may deduplicate on it
    channel: str  # sms | email
    to: str
    text: str
    subject: str = ""
    html: str = ""
    template: str = ""  # message type, for providers with pre-approved templates (Aliyun)
    params: dict[str, str] = field(default_factory=dict)


class Channel(Protocol):
    name: str  # sms | email

    def send(self, message: OutgoingMessage) -> str: ...

    def close(self) -> None: ...


def redact(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
            text = text.replace(quote(secret, safe=""), "***")
    return text


# --- the file sink ----------------------------------------------------------------------------------

class SinkChannel:
    """One file per message in a folder: development and the demo. The file name is derived from the key."""

    def __init__(self, directory: str | Path, name: str) -> None:
        self.directory = Path(directory)
        self.name = name

    def send(self, message: OutgoingMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        ref = hashlib.sha1(message.key.encode()).hexdigest()[:16]
        path = self.directory / f"{self.name}-{ref}.txt"
        if self.name == "sms":
            body = "\n".join(sms_segments(message.text))
            content = f"to: {message.to}\nkey: {message.key}\n\n{body}\n"
        else:
            content = f"to: {message.to}\nkey: {message.key}\nsubject: {message.subject}\n\n{message.text}"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(path)  # one file per key: a repeated send overwrites, never duplicates
        return f"sink:{path.name}"

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"SinkChannel({self.name!r}, {str(self.directory)!r})"


# --- e-mail over SMTP -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool
    timeout: float = 20.0

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """`smtp://user:pass@host:port`, `smtps://…`, `?starttls=1`."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SHUZHI_SMTP_URL must look like smtp://user:pass@host:port or smtps://host:465")
        query = parse_qs(parts.query)
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
            timeout=float(query.get("timeout", ["20"])[0]),
        )


def build_email(message: OutgoingMessage, *, mail_from: str) -> EmailMessage:
    """Real MIME: UTF-8 text and HTML alternatives, the Chinese subject and display names encoded by the policy."""
    email = EmailMessage()
    display, address = parseaddr(mail_from)
    local, _, domain = address.partition("@")
    email["From"] = Address(display_name=display, username=local, domain=domain)
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = make_msgid(idstring=hashlib.sha1(message.key.encode()).hexdigest()[:12], domain=domain or None)
    email["X-Shuzhi-Key"] = message.key
    email.set_content(message.text, charset="utf-8")
    if message.html:
        email.add_alternative(message.html, subtype="html", charset="utf-8")
    return email


class SmtpEmail:
    """E-mail through one SMTP connection, opened on first use and reused for the rest of a dispatch."""

    name = "email"

    def __init__(self, url: str, *, mail_from: str) -> None:
        self.config = SmtpConfig.from_url(url)
        self.mail_from = mail_from
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        smtp: smtplib.SMTP
        if cfg.implicit_tls:
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            if cfg.starttls:
                smtp.starttls(context=ssl.create_default_context())
        if cfg.username:
            smtp.login(cfg.username, cfg.password or "")
        return smtp

    def send(self, message: OutgoingMessage) -> str:
        email = build_email(message, mail_from=self.mail_from)
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentFailure(self._safe(f"recipient refused: {error.recipients}")) from None
        except smtplib.SMTPResponseException as error:
            self.close()
            text = self._safe(f"SMTP {error.smtp_code}: {error.smtp_error!r}")
            if 500 <= error.smtp_code < 600 and error.smtp_code != 521:
                raise PermanentFailure(text) from None
            raise TemporaryFailure(text) from None
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            raise TemporaryFailure(self._safe(f"{type(error).__name__}: {error}")) from None
        if refused:
            raise PermanentFailure(self._safe(f"recipient refused: {refused}"))
        return str(email["Message-ID"])

    def _safe(self, text: str) -> str:
        return redact(text, [self.config.password, self.config.username])

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except Exception:
                pass
            self._smtp = None

    def __repr__(self) -> str:
        return f"SmtpEmail({self.config.host}:{self.config.port})"


# --- SMS by JSON webhook ----------------------------------------------------------------------------

class WebhookSms:
    """POST {"id": key, "to": phone, "text": text}; 2xx ok, 4xx permanent, 5xx or timeout retried.

    A long text goes as up to three parts, each with its own id (`key#1`, `key#2`…).
    """

    name = "sms"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        import httpx

        self.url = url
        self._client = httpx.Client(timeout=timeout)

    def send(self, message: OutgoingMessage) -> str:
        import httpx

        parts = sms_segments(message.text)
        refs = []
        for number, part in enumerate(parts, start=1):
            ident = message.key if len(parts) == 1 else f"{message.key}#{number}"
            try:
                response = self._client.post(self.url, json={"id": ident, "to": message.to, "text": part})
            except httpx.TimeoutException:
                raise TemporaryFailure("SMS webhook timed out") from None
            except httpx.HTTPError as error:
                raise TemporaryFailure(f"SMS webhook unreachable: {type(error).__name__}") from None
            if 400 <= response.status_code < 500:
                raise PermanentFailure(f"SMS webhook refused the message: HTTP {response.status_code}")
            if not 200 <= response.status_code < 300:
                raise TemporaryFailure(f"SMS webhook failed: HTTP {response.status_code}")
            refs.append(_webhook_ref(response) or ident)
        return ",".join(refs)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"WebhookSms({urlsplit(self.url).hostname})"


def _webhook_ref(response: Any) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        for name in ("id", "ref", "message_id", "messageId"):
            if data.get(name):
                return str(data[name])
    return None


# --- Aliyun SendSms ---------------------------------------------------------------------------------

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
ALIYUN_RETRY_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "SignatureNonceUsed",
                                "ServiceUnavailable", "InternalError"})


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's RPC signature specifies: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return quote(value, safe="-_.~")


def aliyun_signature(params: dict[str, str], secret: str, *, method: str = "GET") -> str:
    """HMAC-SHA1 over `METHOD&%2F&encode(sorted canonical query)`, keyed with `secret&`, base64."""
    canonical = "&".join(
        f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in sorted(params.items())
    )
    string_to_sign = f"{method}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms:
    """Aliyun Dysmsapi `SendSms` (version 2017-05-25) with its RPC signature, sign name and template codes."""

    name = "sms"

    def __init__(self, *, access_key_id: str, access_key_secret: str, sign_name: str, template_codes: dict[str, str],
                 endpoint: str = ALIYUN_ENDPOINT, region: str = "cn-hangzhou", timeout: float = 10.0) -> None:
        import httpx

        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.template_codes = template_codes
        self.endpoint = endpoint
        self.region = region
        self._client = httpx.Client(timeout=timeout)

    def request_params(self, message: OutgoingMessage, *, now: datetime | None = None, nonce: str | None = None) -> dict[str, str]:
        code = self.template_codes.get(message.template) or self.template_codes.get("default")
        if not code:
            raise PermanentFailure(f"no Aliyun template code for '{message.template}' (SHUZHI_SMS_TEMPLATE_{message.template.upper()})")
        # the real time, not the simulated clock: Aliyun refuses a signed request more than 15 minutes off
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": message.key[:64],
            "PhoneNumbers": message.to,
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": code,
            "TemplateParam": json.dumps(message.params or {"text": message.text}, ensure_ascii=False),
            "Timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, self._secret)
        return params

    def send(self, message: OutgoingMessage) -> str:
        import httpx

        params = self.request_params(message)
        try:
            response = self._client.get(self.endpoint, params=params)
        except httpx.TimeoutException:
            raise TemporaryFailure("Aliyun SendSms timed out") from None
        except httpx.HTTPError as error:
            raise TemporaryFailure(f"Aliyun SendSms unreachable: {type(error).__name__}") from None
        if response.status_code >= 500:
            raise TemporaryFailure(f"Aliyun SendSms failed: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise TemporaryFailure(f"Aliyun SendSms: unreadable answer (HTTP {response.status_code})") from None
        code = str(data.get("Code", ""))
        if code == "OK":
            return str(data.get("BizId") or data.get("RequestId") or "")
        reason = redact(f"Aliyun SendSms {code}: {data.get('Message', '')}", [self._secret])
        if code in ALIYUN_RETRY_CODES:
            raise TemporaryFailure(reason)
        raise PermanentFailure(reason)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"AliyunSms(endpoint={self.endpoint!r}, sign={self.sign_name!r})"
