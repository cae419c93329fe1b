"""Every locale of the pages has the same words to say."""

from __future__ import annotations

import pytest

from tidings.api.pages.i18n import EN, LOCALES, Words, pick


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_every_locale_has_the_same_keys(locale):
    assert set(LOCALES[locale]) == set(EN)
    assert all(value.strip() for value in LOCALES[locale].values())


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_placeholders_match(locale):
    import string

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key, text in EN.items():
        assert fields(LOCALES[locale][key]) == fields(text), key


def test_pick():
    assert pick("en", "zh-CN") == "en"
    assert pick(None, "zh-TW") == "zh-CN"
    assert pick("fr", None) == "en"
    assert pick(None, "fr-FR") == "en"


def test_an_unknown_channel_falls_back_to_its_name():
    assert Words("zh-CN")("channel.carrier_pigeon") == "carrier_pigeon"
    assert Words("zh-CN").error("NO_SUCH_CODE") == LOCALES["zh-CN"]["error.other"]
