"""Building the channels from settings, once, in an entry point (notifications.md: configured by environment)."""

from __future__ import annotations

from pathlib import Path

from notifications.channels import AliyunSms, Channel, SinkChannel, SmtpEmail, WebhookSms
from services.errors import BadInput
from services.settings import Settings

SMS_PROVIDERS = ("sink", "webhook", "aliyun")


def build_channels(settings: Settings) -> dict[str, Channel]:
    """`{"sms": …, "email": …}` from SHUZHI_SMTP_URL, SHUZHI_SMS_PROVIDER and friends; unset → the local sink."""
    sink = Path(settings.sink_dir)
    email: Channel
    if settings.smtp_url:
        try:
            email = SmtpEmail(settings.smtp_url, mail_from=settings.mail_from)
        except ValueError as error:
            raise BadInput(str(error)) from None
    else:
        email = SinkChannel(sink, "email")
    provider = settings.sms_provider or "sink"
    extra = settings.extra
    sms: Channel
    if provider == "sink":
        sms = SinkChannel(sink, "sms")
    elif provider == "webhook":
        if not settings.sms_url:
            raise BadInput("sms.needs_url")
        sms = WebhookSms(settings.sms_url, batch=extra.get("SHUZHI_SMS_BATCH", "").strip().lower() in ("1", "true", "yes"))
    elif provider == "aliyun":
        missing = [name for name in ("SHUZHI_SMS_ACCESS_KEY_ID", "SHUZHI_SMS_ACCESS_KEY_SECRET", "SHUZHI_SMS_SIGN_NAME")
                   if not extra.get(name)]
        if missing:
            raise BadInput("sms.needs", missing=", ".join(missing))
        templates = {name[len("SHUZHI_SMS_TEMPLATE_"):].lower(): value for name, value in extra.items()
                     if name.startswith("SHUZHI_SMS_TEMPLATE_") and value}
        sms = AliyunSms(
            access_key_id=extra["SHUZHI_SMS_ACCESS_KEY_ID"],
            access_key_secret=extra["SHUZHI_SMS_ACCESS_KEY_SECRET"],
            sign_name=extra["SHUZHI_SMS_SIGN_NAME"],
            template_codes=templates,
            endpoint=extra.get("SHUZHI_SMS_ENDPOINT") or "https://dysmsapi.aliyuncs.com/",
        )
    else:
        raise BadInput("sms.provider_bad", value=provider, choices=", ".join(SMS_PROVIDERS), option="SHUZHI_SMS_PROVIDER")
    return {"sms": sms, "email": email}
