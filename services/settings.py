"""Configuration, read once in an entry point into one validated object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    db_url: str = "sqlite:///shuzhi.db"
    now: str | None = None  # the `--now` clock; None is the real time
    templates_dir: str | None = None  # SHUZHI_TEMPLATES: deployment overrides of message templates
    sink_dir: str = "sink"  # SHUZHI_SINK_DIR
    smtp_url: str | None = None
    mail_from: str = "组织部 <zzb@example.gov.cn>"
    sms_provider: str = "sink"
    sms_url: str | None = None
    prefect_api_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # every other SHUZHI_* variable

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: str | None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "db_url": env.get("SHUZHI_DB", "sqlite:///shuzhi.db"),
            "now": env.get("SHUZHI_NOW") or None,
            "templates_dir": env.get("SHUZHI_TEMPLATES") or None,
            "sink_dir": env.get("SHUZHI_SINK_DIR", "sink"),
            "smtp_url": env.get("SHUZHI_SMTP_URL") or None,
            "mail_from": env.get("SHUZHI_MAIL_FROM", "组织部 <zzb@example.gov.cn>"),
            "sms_provider": env.get("SHUZHI_SMS_PROVIDER", "sink"),
            "sms_url": env.get("SHUZHI_SMS_URL") or None,
            "prefect_api_url": env.get("PREFECT_API_URL") or None,
            "extra": {k: v for k, v in env.items() if k.startswith("SHUZHI_")},
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
