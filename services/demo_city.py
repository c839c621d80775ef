"""A generated, realistic county-level city for the demo and tests: Chinese names, seeded, CSV as offices keep it."""

from __future__ import annotations

import csv
import random
from pathlib import Path

TOWNS = [
    ("马口镇", "town"), ("城隍镇", "town"), ("分水镇", "town"), ("沉湖镇", "town"), ("田二河镇", "town"),
    ("回龙镇", "town"), ("新堰镇", "town"), ("垌冢镇", "town"), ("杨林沟镇", "town"), ("刘家隔镇", "town"),
    ("新河镇", "town"), ("西江乡", "town"), ("仙女山街道", "subdistrict"), ("汈东街道", "subdistrict"),
    ("华严农场", "farm"),
]
UNITS = [
    "市纪委监委机关", "市委办公室", "市政府办公室", "市委组织部", "市委宣传部", "市委统战部", "市委政法委",
    "市发展和改革局", "市教育局", "市科学技术局", "市经济和信息化局", "市公安局", "市民政局", "市司法局",
    "市财政局", "市人力资源和社会保障局", "市自然资源和规划局", "市生态环境分局", "市住房和城乡建设局",
    "市交通运输局", "市水利和湖泊局", "市农业农村局", "市商务局", "市文化和旅游局", "市卫生健康局",
    "市退役军人事务局", "市应急管理局", "市审计局", "市市场监督管理局", "市统计局", "市医疗保障局",
    "市城市管理执法局", "市信访局", "市供销社", "市人民医院", "市第一高级中学", "市融媒体中心",
    "市总工会", "团市委", "市妇联",
]
SYLLABLES = (
    "东西南北新老上下大小王李张刘陈杨黄周吴赵孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程"
    "曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝"
    "孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文"
)
SUFFIXES = ["湾", "台", "岭", "桥", "庙", "河", "垸", "集", "港", "岗", "塘", "湖", "坝", "店"]
SURNAMES = "王李张刘陈杨黄周吴赵孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶"
GIVEN = "建国明华志强伟芳军平红英华丽敏静秀兰海涛斌刚勇杰磊洋艳娟霞峰超辉鹏飞"


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))


def city_rows(*, seed: int = 2014, villages_per_town: int = 20) -> list[dict[str, str]]:
    """~15 towns, ~40 city units and ~300 villages and communities under one city, under its prefecture."""
    rng = random.Random(seed)
    rows = [
        {"code": "XG", "name": "孝感市委", "kind": "prefecture", "parent": "", "secretary": _person(rng),
         "phone": _phone(rng), "email": "zzb@xg.example.gov.cn"},
        {"code": "HC", "name": "汉川市委", "kind": "city", "parent": "XG", "secretary": _person(rng),
         "phone": _phone(rng), "email": "zzb@hc.example.gov.cn"},
    ]
    used: set[str] = set()
    for t, (town, kind) in enumerate(TOWNS, start=1):
        code = f"T{t:02d}"
        rows.append({"code": code, "name": f"{town}党委" if kind != "subdistrict" else f"{town}党工委", "kind": kind,
                     "parent": "HC", "secretary": _person(rng), "phone": _phone(rng), "email": f"{code.lower()}@hc.example.gov.cn"})
        count = villages_per_town + rng.randint(-4, 4)
        for v in range(1, count + 1):
            while True:
                place = rng.choice(SYLLABLES) + rng.choice(SYLLABLES) + rng.choice(SUFFIXES)
                if place not in used:
                    used.add(place)
                    break
            if kind == "subdistrict" or v % 9 == 0:
                vkind, name = "community", f"{place}社区党委"
            elif v % 13 == 0:
                vkind, name = "enterprise", f"{place}纺织有限公司党支部"
            else:
                vkind, name = "village", f"{place}村党支部"
            rows.append({"code": f"{code}V{v:02d}", "name": name, "kind": vkind, "parent": code,
                         "secretary": _person(rng), "phone": _phone(rng) if rng.random() < 0.93 else "",
                         "email": f"{code.lower()}v{v:02d}@hc.example.cn" if rng.random() < 0.5 else ""})
    for u, unit in enumerate(UNITS, start=1):
        code = f"U{u:02d}"
        rows.append({"code": code, "name": f"{unit}党组", "kind": "city_unit", "parent": "HC", "secretary": _person(rng),
                     "phone": _phone(rng), "email": f"{code.lower()}@hc.example.gov.cn"})
    return rows


def write_city_csv(path: Path, *, seed: int = 2014) -> Path:
    rows = city_rows(seed=seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["code", "name", "kind", "parent", "secretary", "phone", "email"])
        writer.writeheader()
        writer.writerows(rows)
    return path


DEMO_PLAN = """# 汉川市 2014 年度党建述职评议考核工作方案（演示）
year = 2014
timezone = "Asia/Shanghai"
submission_lead_days = 10

[meetings]
city = "2014-12-15"       # 市委书记向孝感市委（扩大）会述职
towns = "2014-12-20"      # 乡镇（街道、场）和市直单位向市委（扩大）会述职
villages = "2014-12-26"   # 村（社区）向乡镇党委述职

[meetings.by_organizer]
T03 = "2014-12-27"
T12 = "2014-12-29"

[own_level]
deadline = "2015-01-31"

[reminders]
before_days = [3, 1]
escalate_after_days = 2
quiet_hours = "22:00-08:00"
"""
