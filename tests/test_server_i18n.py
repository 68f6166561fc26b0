"""Interface language (zh-CN default, English by cookie) and the offline web font."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server import fonts, i18n
from tally.store import open_store
from tests.server_helpers import add_users, app_for

TEMPLATES = Path(__file__).resolve().parents[1] / "server" / "templates"
MSGID = re.compile(r"""_\(\s*"([^"]+)"\s*\)|_\(\s*'([^']+)'\s*\)""")


def template_messages() -> set[str]:
    found = set()
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        found |= {a or b for a, b in MSGID.findall(text)}
        for mapping in re.findall(r"_\(\{([^}]*)\}\[", text):  # _({"admin": "管理员", …}[x])
            found |= set(re.findall(r':\s*"([^"]+)"', mapping))
        for names in re.findall(r"set names = \{([^}]*)\}", text):
            found |= set(re.findall(r':\s*"([^"]+)"', names))
    return found


def test_every_template_message_has_its_english() -> None:
    messages = template_messages()
    assert len(messages) > 60
    missing = sorted(m for m in messages if m not in i18n.catalogue("en").messages)
    assert missing == []


def test_chinese_by_default_english_by_cookie(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d")
    add_users(store)
    store_app = app_for(store)
    with TestClient(store_app) as c:
        assert "登录" in c.get("/login").text
        r = c.get("/lang/en?next=/login", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert "scantally_lang=en" in r.headers["set-cookie"]
        assert "Log in" in c.get("/login").text
        c.get("/lang/zh-CN?next=//evil.example/")
        assert "登录" in c.get("/login").text


def test_web_font_covers_the_interface_and_gb2312_level1() -> None:
    pytest.importorskip("brotli")  # reading a woff2 needs it
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(fonts.BASE_FONT)).getBestCmap()
    needed = {c for c in fonts.interface_text() if ord(c) > 0x2E80}
    assert sorted(c for c in needed if ord(c) not in cmap) == []
    level1 = fonts.gb2312_level1()
    assert len(level1) > 3755 and all(ord(c) in cmap for c in level1)
    assert fonts.BASE_FONT.stat().st_size < 2 * 1024 * 1024


def test_rare_name_characters_get_a_small_meeting_font() -> None:
    assert fonts.missing_chars("王建国褚明亮") == "褚"
    data = fonts.meeting_font("褚")
    assert data[:4] in (b"\x00\x01\x00\x00", b"true") and len(data) < 20_000
