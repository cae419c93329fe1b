"""The dashboard's own files: ECharts and its licence from the package, nothing else served,
and the two languages' words kept in step."""

from __future__ import annotations

import pytest

from tidings.api.dashboard import STATIC, STATIC_FILES
from tidings.api.dashboard.i18n import EN, LOCALES, DashboardWords


@pytest.mark.parametrize("name", sorted(STATIC_FILES))
async def test_each_file_is_served_from_the_package(api, name):
    response = await api.client.get(f"/dashboard/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(STATIC_FILES[name])
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (STATIC / name).read_bytes()


async def test_echarts_is_vendored_with_its_apache_licence(api):
    script = (await api.client.get("/dashboard/static/echarts.min.js")).text
    assert "Licensed to the Apache Software Foundation" in script[:1000]
    licence = (await api.client.get("/dashboard/static/echarts-LICENSE.txt")).text
    assert "Apache License" in licence and "Version 2.0" in licence
    notice = (await api.client.get("/dashboard/static/echarts-NOTICE.txt")).text
    assert notice.startswith("Apache ECharts")


@pytest.mark.parametrize("name", ["__init__.py", "../views.py", "nope.js", "dashboard.html"])
async def test_nothing_else_is_served(api, name):
    response = await api.client.get(f"/dashboard/static/{name}")
    assert response.status_code == 404


async def test_the_page_uses_no_other_site(api):
    page = (await api.client.get("/dashboard")).text
    assert "http://" not in page and "https://" not in page


def test_every_language_has_every_word():
    for code, words in LOCALES.items():
        assert set(words) == set(EN), code
        assert all(value.strip() for value in words.values()), code
    assert DashboardWords("zh-CN")("signed_in_as", email="a@b.c", role="ADMIN") == (
        "已登录：a@b.c（ADMIN）"
    )
