"""Delivery channels behind one small interface: SMTP e-mail, SMS by JSON webhook, Aliyun SendSms, a file sink.

A channel's `send` returns the provider's reference, or raises `TemporaryFailure` (retry this message later),
`PermanentFailure` (this message cannot go: a refused recipient) or `ChannelFailure` (the sender's fault: auth
refused, bad configuration, gateway down — the dispatcher pauses the channel and leaves every message queued).
`send_many` delivers a batch (one SMTP connection, the SMS gateways' batch APIs) and returns one outcome per
message, stopping at a `ChannelFailure`. Every provider call carries the message's key so a provider can drop
a retry. Credentials are kept out of reprs, errors and logs (`redact`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
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
    """Retrying this message cannot help: a bad or refused address."""


class ChannelFailure(DeliveryError):
    """The sender's fault, not the message's: auth refused, bad configuration, gateway down or refusing.

    The channel is paused and its messages stay queued, untouched (no attempt counted)."""


# Per message: the provider's reference, why it did not go, or None when it was not tried (the channel failed).
Outcome = str | DeliveryError | None


def send_each(channel: Channel, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
    """One call per message; after a `ChannelFailure` the rest are not tried (None)."""
    outcomes: list[Outcome] = [None] * len(messages)
    for index, message in enumerate(messages):
        try:
            outcomes[index] = channel.send(message)
        except ChannelFailure as failure:
            outcomes[index] = failure
            break
        except DeliveryError as failure:
            outcomes[index] = failure
    return outcomes


def send_many(channel: Channel, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
    """The channel's batch path when it has one, else one call per message; one outcome per message, in order."""
    batch = getattr(channel, "send_many", None)
    if batch is not None:
        return list(batch(messages))
    return send_each(channel, messages)


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

SINK_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def sink_write(folder: str, file_name: str, content: str) -> None:
    """One file, whole or not at all: written under a temporary name, then renamed over the final one (a reader
    never sees half a message; a repeated send overwrites, never duplicates). Four system calls — open, write,
    close, rename — and no fsync: the sink is for development and the demo, not a durable store."""
    path = os.path.join(folder, file_name)
    tmp = path + ".tmp"
    fd = os.open(tmp, SINK_FLAGS, 0o644)
    try:
        os.write(fd, content.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, path)


class SinkChannel:
    """One file per message in a folder: development and the demo. The file name is derived from the key."""

    def __init__(self, directory: str | Path, name: str) -> None:
        self.directory = Path(directory)
        self.name = name
        self._folder: str | None = None  # created on first use, once

    def send(self, message: OutgoingMessage) -> str:
        if self._folder is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._folder = str(self.directory)
        ref = hashlib.sha1(message.key.encode()).hexdigest()[:16]
        file_name = f"{self.name}-{ref}.txt"
        if self.name == "sms":
            body = "\n".join(sms_segments(message.text))
            content = f"to: {message.to}\nkey: {message.key}\n\n{body}\n"
        else:
            content = f"to: {message.to}\nkey: {message.key}\nsubject: {message.subject}\n\n{message.text}"
        sink_write(self._folder, file_name, content)
        return f"sink:{file_name}"

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
        # Errors never quote the URL or the parser's message: both can hold a piece of the password (L5).
        shape = ("SHUZHI_SMTP_URL must look like smtp://user:pass@host:port or smtps://host:465 "
                 "(a '/', '@', '#' or '?' in the user or password must be percent-encoded: %2F %40 %23 %3F)")
        try:
            parts = urlsplit(url)
            hostname, port = parts.hostname, parts.port
            query = parse_qs(parts.query)
            timeout = float(query.get("timeout", ["20"])[0])
        except ValueError:
            raise ValueError(shape) from None
        if parts.scheme not in ("smtp", "smtps") or not hostname:
            raise ValueError(shape)
        implicit = parts.scheme == "smtps"
        return cls(
            host=hostname,
            port=port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
            timeout=timeout,
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


def _encoded_word(text: str) -> str:
    """A header value as RFC 2047 UTF-8 encoded words when it is not plain ASCII, folded for the wire."""
    return text if text.isascii() else Header(text, "utf-8").encode(linesep="\r\n")


def _base64_part(text: str) -> str:
    return base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", "\r\n")


@functools.lru_cache(maxsize=16)
def _sender(mail_from: str) -> tuple[str, str, str]:
    """The envelope address, the From header (display name encoded) and the Message-ID domain of SHUZHI_MAIL_FROM."""
    display, address = parseaddr(mail_from)
    header = f"{_encoded_word(display)} <{address}>" if display else address
    return address, header, address.partition("@")[2]


def email_bytes(message: OutgoingMessage, *, mail_from: str) -> tuple[bytes, str]:
    """The same e-mail as `build_email` (UTF-8 text and HTML alternatives, the Chinese subject and display name as
    encoded words), as the bytes sent on the wire, and its Message-ID. Written out directly: `EmailMessage`'s
    header registry parses and refolds every header twice (when set, and again when `send_message` flattens it)
    and the generator compiles a regular expression per message for its boundary — ~9 ms an e-mail here, most of
    a dispatch to a local server. The parts are base64, so the boundary (`=_` is not base64) cannot occur in them.
    A header value with a line break is refused, as `EmailMessage` refuses it."""
    for value in (message.to, message.subject, message.key, mail_from):
        if "\n" in value or "\r" in value:
            raise ValueError("Header values may not contain linefeed or carriage return characters")
    _, sender, domain = _sender(mail_from)
    digest = hashlib.sha1(message.key.encode()).hexdigest()
    message_id = make_msgid(idstring=digest[:12], domain=domain or None)
    head = (f"From: {sender}\r\nTo: {message.to}\r\nSubject: {_encoded_word(message.subject)}\r\n"
            f"Date: {formatdate(localtime=False, usegmt=True)}\r\nMessage-ID: {message_id}\r\n"
            f"X-Shuzhi-Key: {message.key}\r\nMIME-Version: 1.0\r\n")
    text_part = 'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    if not message.html:
        return (head + text_part + _base64_part(message.text)).encode("ascii"), message_id
    boundary = f"=_shuzhi_{digest[:24]}"
    body = (f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n{text_part}{_base64_part(message.text)}"
            f'--{boundary}\r\nContent-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            f"{_base64_part(message.html)}--{boundary}--\r\n")
    return (head + body).encode("ascii"), message_id


# SMTP replies that are the sender's fault whichever message is sent: auth required/refused, sender refused.
SMTP_CHANNEL_CODES = frozenset({421, 432, 454, 530, 534, 535, 538, 553, 554})


class SmtpEmail:
    """E-mail through one SMTP connection, opened on first use and reused for every message of a dispatch.

    A connection idle for a while is checked (NOOP) before reuse and reopened if the server dropped it; any
    error on a message closes it, and the next message opens a fresh one. Failures to connect, to start TLS,
    to log in (535) or a refused sender are the channel's (`ChannelFailure`); a refused recipient is that
    message's (`PermanentFailure`); a 4xx or a dropped connection while sending is retried (`TemporaryFailure`).
    """

    name = "email"
    IDLE_CHECK_SECONDS = 10.0

    def __init__(self, url: str, *, mail_from: str) -> None:
        self.config = SmtpConfig.from_url(url)
        self.mail_from = mail_from
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0
        self.connections = 0  # opened so far (the bench and tests read it)

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        smtp: smtplib.SMTP
        try:
            if cfg.implicit_tls:
                smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                smtp.login(cfg.username, cfg.password or "")
        except smtplib.SMTPAuthenticationError as error:
            raise ChannelFailure(self._safe(f"SMTP login refused ({error.smtp_code}): check the user and password "
                                            "in SHUZHI_SMTP_URL")) from None
        except smtplib.SMTPResponseException as error:
            raise ChannelFailure(self._safe(f"SMTP server refused the session: {error.smtp_code} "
                                            f"{_reply_text(error.smtp_error)}")) from None
        except (OSError, smtplib.SMTPException) as error:
            raise ChannelFailure(self._safe(f"SMTP server {cfg.host}:{cfg.port} unreachable: {type(error).__name__}: "
                                            f"{error}")) from None
        self.connections += 1
        return smtp

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None and time.monotonic() - self._last_used > self.IDLE_CHECK_SECONDS:
            try:
                if self._smtp.noop()[0] != 250:
                    self.close()
            except (OSError, smtplib.SMTPException):
                self._smtp = None
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def send(self, message: OutgoingMessage) -> str:
        envelope_from = _sender(self.mail_from)[0]
        if (envelope_from + message.to).isascii():
            data, message_id = email_bytes(message, mail_from=self.mail_from)
            wire: bytes | EmailMessage = data
        else:  # an address in Chinese: `send_message` negotiates SMTPUTF8 for it
            wire = build_email(message, mail_from=self.mail_from)
            message_id = str(wire["Message-ID"])
        smtp = self._connection()
        try:
            refused = (smtp.sendmail(envelope_from, [message.to], wire) if isinstance(wire, bytes)
                       else smtp.send_message(wire))
        except smtplib.SMTPRecipientsRefused as error:
            self._reset()
            raise PermanentFailure(self._safe(f"recipient refused: {_refusals(error.recipients)}")) from None
        except smtplib.SMTPSenderRefused as error:
            self.close()
            raise ChannelFailure(self._safe(f"SMTP server refused the sender ({error.smtp_code}): check "
                                            "SHUZHI_MAIL_FROM")) from None
        except smtplib.SMTPResponseException as error:
            text = self._safe(f"SMTP {error.smtp_code}: {_reply_text(error.smtp_error)}")
            if error.smtp_code in SMTP_CHANNEL_CODES:
                self.close()
                raise ChannelFailure(text) from None
            self._reset()
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(text) from None
            raise TemporaryFailure(text) from None
        except (OSError, smtplib.SMTPException) as error:
            self._smtp = None
            raise TemporaryFailure(self._safe(f"{type(error).__name__}: {error}")) from None
        self._last_used = time.monotonic()
        if refused:
            raise PermanentFailure(self._safe(f"recipient refused: {_refusals(refused)}"))
        return message_id

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        return send_each(self, messages)  # one connection for the batch: `send` reuses it

    def _reset(self) -> None:
        """After a refused message the session may be mid-transaction: RSET, or drop the connection."""
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
            self._last_used = time.monotonic()
        except (OSError, smtplib.SMTPException):
            self._smtp = None

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


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:300]


def _refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    """The codes, never the addresses (M2): `last_error` is shown in the console and `outbox list`."""
    return ", ".join(f"{code} {_reply_text(reply)}" for code, reply in recipients.values())


# --- SMS by JSON webhook ----------------------------------------------------------------------------

WEBHOOK_CHANNEL_STATUSES = frozenset({401, 403, 404, 405, 407, 410, 429})  # auth, wrong URL, throttled: ours


class WebhookSms:
    """POST {"id": key, "to": phone, "text": text}; 2xx ok, 4xx the message's (permanent), timeout retried.

    401/403/404/405/407/410/429, a 5xx or an unreachable gateway are the channel's (`ChannelFailure`: paused,
    messages stay queued). A long text goes as up to three parts, each with its own id (`key#1`, `key#2`…).
    With `batch=True` (SHUZHI_SMS_BATCH=1) a batch goes as one POST of `{"messages": [{"id", "to", "text"}, …]}`
    (at most `batch_size` entries); the gateway answers 2xx, optionally with `{"results": [{"id", "ok", "ref",
    "error"}]}` naming the refused entries; without results every entry was accepted.
    """

    name = "sms"

    def __init__(self, url: str, *, timeout: float = 10.0, batch: bool = False, batch_size: int = 100) -> None:
        import httpx

        self.url = url
        self.batch = batch
        self.batch_size = batch_size
        self._client = httpx.Client(timeout=timeout)

    def _post(self, payload: dict[str, Any]) -> Any:
        import httpx

        try:
            response = self._client.post(self.url, json=payload)
        except httpx.TimeoutException:
            raise TemporaryFailure("SMS webhook timed out") from None
        except httpx.HTTPError as error:
            raise ChannelFailure(f"SMS webhook unreachable: {type(error).__name__}") from None
        status = response.status_code
        if status in WEBHOOK_CHANNEL_STATUSES or status >= 500:
            raise ChannelFailure(f"SMS webhook refused the sender: HTTP {status}")
        if 400 <= status < 500:
            raise PermanentFailure(f"SMS webhook refused the message: HTTP {status}")
        if not 200 <= status < 300:
            raise TemporaryFailure(f"SMS webhook failed: HTTP {status}")
        return response

    def send(self, message: OutgoingMessage) -> str:
        refs = []
        for ident, part in _webhook_parts(message):
            response = self._post({"id": ident, "to": message.to, "text": part})
            refs.append(_webhook_ref(response) or ident)
        return ",".join(refs)

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        if not self.batch or len(messages) < 2:
            return send_each(self, messages)
        outcomes: list[Outcome] = []
        for start in range(0, len(messages), self.batch_size):
            chunk = messages[start : start + self.batch_size]
            entries = [(index, ident, part) for index, m in enumerate(chunk) for ident, part in _webhook_parts(m)]
            try:
                response = self._post({"messages": [{"id": ident, "to": chunk[index].to, "text": part}
                                                    for index, ident, part in entries]})
            except ChannelFailure as failure:
                outcomes.append(failure)
                return outcomes + [None] * (len(messages) - len(outcomes))
            except DeliveryError as failure:  # the whole body refused or timed out: each message on its own
                outcomes.extend(failure for _ in chunk)
                continue
            results = _webhook_results(response)
            per_message: list[list[str]] = [[] for _ in chunk]
            refused: dict[int, str] = {}
            for index, ident, _part in entries:
                answer = results.get(ident)
                if answer is not None and not answer.get("ok", True):
                    refused[index] = str(answer.get("error") or "refused")[:200]
                else:
                    per_message[index].append(str((answer or {}).get("ref") or ident))
            for index in range(len(chunk)):
                if index in refused:
                    outcomes.append(PermanentFailure(f"SMS webhook refused the message: {refused[index]}"))
                else:
                    outcomes.append(",".join(per_message[index]))
        return outcomes

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"WebhookSms({urlsplit(self.url).hostname})"


def _webhook_parts(message: OutgoingMessage) -> list[tuple[str, str]]:
    parts = sms_segments(message.text)
    if len(parts) == 1:
        return [(message.key, parts[0])]
    return [(f"{message.key}#{number}", part) for number, part in enumerate(parts, start=1)]


def _webhook_results(response: Any) -> dict[str, dict[str, Any]]:
    try:
        data = response.json()
    except ValueError:
        return {}
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        return {}
    return {str(r["id"]): r for r in results if isinstance(r, dict) and "id" in r}


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
ALIYUN_RETRY_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "SignatureNonceUsed"})
# The account's or the configuration's fault, whoever the recipient: pause the channel, keep the messages queued.
ALIYUN_CHANNEL_CODES = frozenset({
    "InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive", "SignatureDoesNotMatch", "IncompleteSignature",
    "Forbidden.RAM", "isp.RAM_PERMISSION_DENY", "isv.ACCOUNT_NOT_EXISTS", "isv.ACCOUNT_ABNORMAL", "isv.OUT_OF_SERVICE",
    "isv.AMOUNT_NOT_ENOUGH", "isv.SMS_SIGNATURE_ILLEGAL", "isv.SMS_SIGN_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.TEMPLATE_MISSING_PARAMETERS", "isv.INVALID_PARAMETERS", "isv.SMS_SIGNATURE_SCENE_ILLEGAL",
    "Throttling", "Throttling.User", "ServiceUnavailable", "InternalError", "isp.SYSTEM_ERROR",
})
ALIYUN_BATCH_SIZE = 100  # SendBatchSms takes at most 100 numbers


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

    def _code(self, template: str) -> str:
        code = self.template_codes.get(template) or self.template_codes.get("default")
        if not code:  # configuration, not the message: every message of this type would fail the same way
            raise ChannelFailure(f"no Aliyun template code for '{template}' (SHUZHI_SMS_TEMPLATE_{template.upper()})")
        return code

    def _signed(self, params: dict[str, str], *, now: datetime | None, nonce: str | None) -> dict[str, str]:
        # the real time, not the simulated clock: Aliyun refuses a signed request more than 15 minutes off
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        params = {
            **params,
            "AccessKeyId": self.access_key_id,
            "Format": "JSON",
            "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, self._secret)
        return params

    def request_params(self, message: OutgoingMessage, *, now: datetime | None = None, nonce: str | None = None) -> dict[str, str]:
        return self._signed({
            "Action": "SendSms",
            "OutId": message.key[:64],
            "PhoneNumbers": message.to,
            "SignName": self.sign_name,
            "TemplateCode": self._code(message.template),
            "TemplateParam": json.dumps(message.params or {"text": message.text}, ensure_ascii=False),
        }, now=now, nonce=nonce)

    def batch_params(self, messages: Sequence[OutgoingMessage], *, now: datetime | None = None,
                     nonce: str | None = None) -> dict[str, str]:
        """SendBatchSms: one template, up to 100 numbers, one sign name and parameter set per number."""
        codes = {self._code(m.template) for m in messages}
        if len(codes) != 1 or len(messages) > ALIYUN_BATCH_SIZE:
            raise ValueError("a SendBatchSms request takes one template code and at most 100 numbers")
        return self._signed({
            "Action": "SendBatchSms",
            "OutId": hashlib.sha1("|".join(m.key for m in messages).encode()).hexdigest()[:64],
            "PhoneNumberJson": json.dumps([m.to for m in messages]),
            "SignNameJson": json.dumps([self.sign_name] * len(messages), ensure_ascii=False),
            "TemplateCode": codes.pop(),
            "TemplateParamJson": json.dumps([m.params or {"text": m.text} for m in messages], ensure_ascii=False),
        }, now=now, nonce=nonce)

    def _call(self, params: dict[str, str], what: str) -> str:
        import httpx

        try:
            response = self._client.get(self.endpoint, params=params)
        except httpx.TimeoutException:
            raise TemporaryFailure(f"Aliyun {what} timed out") from None
        except httpx.HTTPError as error:
            raise ChannelFailure(f"Aliyun {what} unreachable: {type(error).__name__}") from None
        if response.status_code >= 500:
            raise ChannelFailure(f"Aliyun {what} failed: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise TemporaryFailure(f"Aliyun {what}: unreadable answer (HTTP {response.status_code})") from None
        code = str(data.get("Code", ""))
        if code == "OK":
            return str(data.get("BizId") or data.get("RequestId") or "")
        reason = redact(f"Aliyun {what} {code}: {data.get('Message', '')}", [self._secret])
        if code in ALIYUN_CHANNEL_CODES:
            raise ChannelFailure(reason)
        if code in ALIYUN_RETRY_CODES:
            raise TemporaryFailure(reason)
        raise PermanentFailure(reason)

    def send(self, message: OutgoingMessage) -> str:
        return self._call(self.request_params(message), "SendSms")

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        """SendBatchSms for runs of one template (≤ 100 numbers); a run the gateway refuses as a whole for a reason
        that is a message's (a bad number) is sent again one by one, so only that message fails."""
        outcomes: list[Outcome] = [None] * len(messages)
        runs: dict[str, list[int]] = {}
        for index, message in enumerate(messages):
            try:
                runs.setdefault(self._code(message.template), []).append(index)
            except ChannelFailure as failure:  # configuration: nothing sent yet, pause before sending anything
                outcomes[index] = failure
                return outcomes
        for indexes in runs.values():
            for start in range(0, len(indexes), ALIYUN_BATCH_SIZE):
                run = indexes[start : start + ALIYUN_BATCH_SIZE]
                try:
                    if len(run) == 1:
                        outcomes[run[0]] = self.send(messages[run[0]])
                        continue
                    ref = self._call(self.batch_params([messages[i] for i in run]), "SendBatchSms")
                except ChannelFailure as failure:
                    outcomes[run[0]] = failure
                    return outcomes
                except PermanentFailure as failure:
                    if len(run) == 1:
                        outcomes[run[0]] = failure
                        continue
                    each = send_each(self, [messages[i] for i in run])
                    for i, outcome in zip(run, each, strict=True):
                        outcomes[i] = outcome
                    if any(isinstance(o, ChannelFailure) for o in each):
                        return outcomes
                    continue
                except TemporaryFailure as failure:
                    for i in run:
                        outcomes[i] = failure
                    continue
                for i in run:
                    outcomes[i] = ref
        return outcomes

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"AliyunSms(endpoint={self.endpoint!r}, sign={self.sign_name!r})"
