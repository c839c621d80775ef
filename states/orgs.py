"""Organization kinds, levels, categories and who organizes, reviews and is escalated to (R1, R4)."""

from __future__ import annotations

import re
from enum import IntEnum

KINDS: tuple[str, ...] = (
    "prefecture",
    "city",
    "town",
    "subdistrict",
    "farm",
    "city_unit",
    "village",
    "community",
    "enterprise",
    "other",
)

KIND_LABELS: dict[str, str] = {
    "prefecture": "地市委",
    "city": "市委",
    "town": "乡镇",
    "subdistrict": "街道",
    "farm": "场",
    "city_unit": "市直单位",
    "village": "村",
    "community": "社区",
    "enterprise": "非公企业",
    "other": "其他基层组织",
}


class Level(IntEnum):
    """How deep a kind sits in the cascade; a meeting is keyed by its organizer's level."""

    PREFECTURE = 0
    CITY = 1
    TOWN = 2  # towns, subdistricts, farms and city units
    GRASSROOTS = 3  # villages, communities, enterprises, others


LEVEL_OF_KIND: dict[str, Level] = {
    "prefecture": Level.PREFECTURE,
    "city": Level.CITY,
    "town": Level.TOWN,
    "subdistrict": Level.TOWN,
    "farm": Level.TOWN,
    "city_unit": Level.TOWN,
    "village": Level.GRASSROOTS,
    "community": Level.GRASSROOTS,
    "enterprise": Level.GRASSROOTS,
    "other": Level.GRASSROOTS,
}
# the kinds above the grassroots: the organizers of meetings (storage.tables.core spells them out as SQL)
UPPER_KINDS: tuple[str, ...] = tuple(kind for kind, level in LEVEL_OF_KIND.items() if level != Level.GRASSROOTS)

LEVEL_LABELS: dict[Level, str] = {
    Level.PREFECTURE: "地市",
    Level.CITY: "市",
    Level.TOWN: "乡镇及市直单位",
    Level.GRASSROOTS: "村、社区及其他",
}

# Result categories of results.md: ranks are computed within each.
CATEGORY_OF_KIND: dict[str, str] = {
    "town": "towns",
    "subdistrict": "towns",
    "farm": "towns",
    "city_unit": "city_units",
    "village": "villages",
    "community": "communities_and_others",
    "enterprise": "communities_and_others",
    "other": "communities_and_others",
}

ASSESSED_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k != "prefecture")

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
PHONE_PATTERN = re.compile(r"^(?:\+?86[- ]?)?(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
EMAIL_PATTERN = re.compile(r"^[^@\s<>,;]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+$")


def level_of(kind: str) -> Level:
    return LEVEL_OF_KIND[kind]


def meeting_level_key(organizer_kind: str) -> str:
    """The plan's `[meetings]` key for the meeting an organizer of this kind holds."""
    level = LEVEL_OF_KIND[organizer_kind]
    if level == Level.PREFECTURE:
        return "city"
    if level == Level.CITY:
        return "towns"
    return "villages"


def is_valid_code(code: str) -> bool:
    return bool(CODE_PATTERN.match(code))


def is_valid_phone(phone: str) -> bool:
    return bool(PHONE_PATTERN.match(phone))


def is_valid_email(email: str) -> bool:
    return bool(EMAIL_PATTERN.match(email))


def mask_phone(phone: str | None) -> str:
    """`13812345678` → `138****5678`: contacts are personal data (R2)."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_email(email: str | None) -> str:
    """`zhang.san@example.cn` → `z***@example.cn`."""
    if not email:
        return ""
    local, _, domain = email.partition("@")
    if not domain:
        return "***"
    return (local[:1] or "*") + "***@" + domain


def mask_contact(value: str | None) -> str:
    if value and "@" in value:
        return mask_email(value)
    return mask_phone(value)
