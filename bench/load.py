"""The console under load (issue 11 item 5): a locustfile. Run it with `make load` (bench/load_run.py), which
builds the database, starts `uvicorn --factory web.asgi:create --workers N` on loopback and runs locust headless.

Each simulated user mixes the overview, a town's drill-down, a cycle page, "我的待办" (/my, as one of the
secretaries the runner signed in) and firing an event through the API. Sessions and the API token are made once by
the runner and handed in through the environment (500 logins would measure argon2 and the login rate limit, not the console).

Environment: SHUZHI_LOAD_COOKIE (a viewer's session cookie "name=value"), SHUZHI_LOAD_SECRETARY_COOKIES
(comma-separated secretaries' session cookies, for /my), SHUZHI_LOAD_TOKEN (bearer token of an
org_department account), SHUZHI_LOAD_TOWNS / SHUZHI_LOAD_VILLAGES (comma-separated codes to pick from),
SHUZHI_LOAD_MIX ("overview=3,tree=3,cycle=3,my=2,fire=1"), SHUZHI_LOAD_WAIT ("5,15" seconds between a user's
requests).
"""

from __future__ import annotations

import itertools
import os
import random

from locust import FastHttpUser, between, task

COOKIE_NAME, _, COOKIE_VALUE = os.environ.get("SHUZHI_LOAD_COOKIE", "=").partition("=")
TOKEN = os.environ.get("SHUZHI_LOAD_TOKEN", "")
TOWNS = [c for c in os.environ.get("SHUZHI_LOAD_TOWNS", "").split(",") if c]
SECRETARIES = [c for c in os.environ.get("SHUZHI_LOAD_SECRETARY_COOKIES", "").split(",") if c]
VILLAGES = [c for c in os.environ.get("SHUZHI_LOAD_VILLAGES", "").split(",") if c]
YEAR = os.environ.get("SHUZHI_LOAD_YEAR", "2014")
MIX = dict((k, int(v)) for k, v in (item.split("=") for item in
           os.environ.get("SHUZHI_LOAD_MIX", "overview=3,tree=3,cycle=3,my=2,fire=1").split(",") if item))
LOW, HIGH = (float(x) for x in os.environ.get("SHUZHI_LOAD_WAIT", "5,15").split(","))
# each event fired on a village no one else fires on: `finish_research` once per cycle, never refused
_fresh_villages = itertools.cycle(VILLAGES[len(VILLAGES) // 2:] or ["-"])


class ConsoleUser(FastHttpUser):
    """FastHttpUser (geventhttpclient), not HttpUser (requests): locust shares the 2 cores with the console and
    PostgreSQL, and requests' client cost ~4× the CPU per request — the load generator's CPU is not the console's."""

    wait_time = between(LOW, HIGH)
    connection_timeout = 60.0
    network_timeout = 60.0

    def on_start(self) -> None:
        self.session_header = {"Cookie": f"{COOKIE_NAME}={COOKIE_VALUE}"} if COOKIE_NAME else {}

    @task(MIX.get("overview", 0))
    def overview(self) -> None:
        self.client.get(f"/overview?year={YEAR}", name="/overview", headers=self.session_header)

    @task(MIX.get("tree", 0))
    def town(self) -> None:
        self.client.get(f"/tree?year={YEAR}&code={random.choice(TOWNS)}", name="/tree?code=TOWN", headers=self.session_header)

    @task(MIX.get("cycle", 0))
    def cycle(self) -> None:
        village = random.choice(VILLAGES[: len(VILLAGES) // 2])
        self.client.get(f"/cycles/{YEAR}/{village}", name="/cycles/YEAR/ORG", headers=self.session_header)

    @task(MIX.get("my", 0))
    def my(self) -> None:
        self.client.get("/my", name="/my", headers={"Cookie": random.choice(SECRETARIES)})

    @task(MIX.get("fire", 0))
    def fire(self) -> None:
        self.client.post(f"/api/cycles/{YEAR}/{next(_fresh_villages)}/events", json={"event": "finish_research"},
                         headers={"Authorization": f"Bearer {TOKEN}"}, name="/api/cycles/YEAR/ORG/events")
