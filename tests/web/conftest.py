"""Fixtures of the console's tests: the sample city launched, one account per role, signed-in clients."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.app import App
from services.clock import FixedClock, parse_when
from services.settings import Settings
from storage.db import Database
from tests.conftest import launch_sample, make_app

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import; the client works the same
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "correct-horse-1"
# name → (role, scope)
ACCOUNTS: dict[str, tuple[str, str | None]] = {
    "admin": ("admin", None),
    "zzb": ("org_department", None),
    "t01_reviewer": ("reviewer", "T01"),
    "v001_secretary": ("secretary", "V001"),
    "viewer": ("viewer", None),
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web_clock() -> FixedClock:
    return FixedClock(parse_when("2014-12-08"))


@pytest.fixture(scope="session")
def web_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample city launched with one account per role, built once (argon2 hashing and the launch are the slow
    part of ~100 tests' setup); each test gets a copy."""
    from services.accounts import create_user

    folder = tmp_path_factory.mktemp("web-template")
    path = folder / "web.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    launch_sample(db, now=parse_when("2014-12-08"), tmp_path=folder)
    for name, (role, scope) in ACCOUNTS.items():
        create_user(db, name, role, PASSWORD, scope=scope)
    db.dispose()
    return path


@pytest.fixture
def web_app(web_template: Path, web_clock: FixedClock, tmp_path: Path) -> Iterator[App]:
    target = tmp_path / "web.db"
    shutil.copy(web_template, target)
    db = Database(f"sqlite:///{target}")
    yield make_app(db, web_clock)
    db.dispose()


@pytest.fixture
def asgi(web_app: App) -> Any:
    from web.app import create_app

    return create_app(Settings.from_env({"SHUZHI_ENV": "development"}, db_url=web_app.db.url), app=web_app)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


def sign_in(client: Any, name: str, password: str = PASSWORD) -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token}, follow_redirects=False)


@pytest.fixture
def client_for(asgi: Any) -> Callable[[str | None], Any]:
    clients: list[Any] = []

    def make(name: str | None) -> Any:
        client = TestClient(asgi)
        clients.append(client)
        if name:
            response = sign_in(client, name)
            assert response.status_code == 303, response.text
            client.headers["X-CSRF-Token"] = client.get("/api/me").json()["csrf_token"]
        return client

    yield make
    for client in clients:
        client.close()
