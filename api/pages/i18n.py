"""The customer pages' words, one dict per locale. Every locale has the same keys (a test
holds them to it); a page's language is `?lang=`, else the customer's locale."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT = "en"

EN: dict[str, str] = {
    "language_name": "English",
    "languages": "Language",
    "title": "Your notification settings",
    "intro": "Choose what we send you, and how. Changes take effect as soon as you save.",
    "profile": "About you",
    "name": "Name",
    "locale": "Language of messages",
    "timezone": "Time zone",
    "timezone_hint": "An IANA time zone such as Europe/London or Asia/Shanghai.",
    "categories": "What you receive",
    "marketing": "Marketing",
    "transactional": "Service messages",
    "channel.email": "Email",
    "channel.push": "Push notifications",
    "channel.sms": "Text messages (SMS)",
    "channel.in_app": "In the app",
    "state.granted": "allowed",
    "state.withdrawn": "turned off",
    "state.expired": "permission expired",
    "state.never_asked": "never asked",
    "state.pending": "awaiting your confirmation",
    "state.on": "on",
    "state.off": "off",
    "frequency": "How often",
    "frequency.REALTIME": "As it happens",
    "frequency.DAILY_DIGEST": "Daily digest",
    "frequency.WEEKLY_DIGEST": "Weekly digest",
    "locked": "Required: we must send these to run your account, so they cannot be turned off.",
    "quiet": "Quiet hours",
    "quiet_hint": "No marketing during these hours, in your time zone. Leave both empty for none.",
    "quiet_start": "From",
    "quiet_end": "Until",
    "save": "Save settings",
    "unsubscribe_all": "Unsubscribe from all marketing",
    "unsubscribe_all_hint": "Stops every marketing message on every channel at once.",
    "notice.saved": "Your settings are saved.",
    "notice.unchanged": "Nothing changed.",
    "notice.unsubscribed_all": "You are unsubscribed from all marketing.",
    "errors": "Some fields need attention; nothing was saved.",
    "error.INVALID_TIMEZONE": "This is not a time zone we know.",
    "error.INVALID_LOCALE": "This is not a language we know.",
    "error.INVALID_TIME": "Times are HH:MM on a 24-hour clock.",
    "error.QUIET_PAIR": "Give both a start and an end, or neither.",
    "error.QUIET_SAME": "Quiet hours cannot start and end at the same time.",
    "error.INVALID_FREQUENCY": "Choose one of the options.",
    "error.INVALID_NAME": "This name has characters we cannot store.",
    "error.TOO_LONG": "This is too long.",
    "error.other": "This value is not valid.",
    "invalid.title": "This link is invalid or has expired",
    "invalid.body": "Please use the link in a recent message, or ask us for a new one.",
    "list_separator": "”, “",
    "unsubscribe.title": "Unsubscribe",
    "unsubscribe.body": "Stop receiving “{category}” by {channel}?",
    "unsubscribe.button": "Unsubscribe",
    "unsubscribe.done": "You are unsubscribed from “{category}” by {channel}.",
    "confirm.title": "Confirm your subscription",
    "confirm.body": "Confirm that you want to receive “{category}” by {channel}.",
    "confirm.button": "Confirm",
    "confirm.CONFIRMED": "Thank you: your subscription is confirmed.",
    "confirm.ALREADY_CONFIRMED": "This subscription was already confirmed.",
    "confirm.SUPERSEDED": "This request was replaced by a later change; nothing was confirmed.",
    "confirm.NOT_FOUND": "There is nothing to confirm for this link.",
    "footer": "This page is private to you: do not share its address.",
}

ZH_CN: dict[str, str] = {
    "language_name": "简体中文",
    "languages": "语言",
    "title": "您的通知设置",
    "intro": "选择我们向您发送的内容和方式。保存后立即生效。",
    "profile": "个人资料",
    "name": "姓名",
    "locale": "消息语言",
    "timezone": "时区",
    "timezone_hint": "IANA 时区名称，例如 Asia/Shanghai 或 Europe/London。",
    "categories": "您接收的内容",
    "marketing": "营销",
    "transactional": "服务消息",
    "channel.email": "电子邮件",
    "channel.push": "推送通知",
    "channel.sms": "短信",
    "channel.in_app": "应用内",
    "state.granted": "已允许",
    "state.withdrawn": "已关闭",
    "state.expired": "许可已过期",
    "state.never_asked": "未曾询问",
    "state.pending": "等待您确认",
    "state.on": "开启",
    "state.off": "关闭",
    "frequency": "频率",
    "frequency.REALTIME": "实时",
    "frequency.DAILY_DIGEST": "每日摘要",
    "frequency.WEEKLY_DIGEST": "每周摘要",
    "locked": "必需：这些消息是您账户运行所必需的，无法关闭。",
    "quiet": "免打扰时段",
    "quiet_hint": "在此时段内（按您的时区）不发送营销消息。两项都留空表示不设置。",
    "quiet_start": "开始",
    "quiet_end": "结束",
    "save": "保存设置",
    "unsubscribe_all": "退订所有营销消息",
    "unsubscribe_all_hint": "立即停止所有渠道上的全部营销消息。",
    "notice.saved": "您的设置已保存。",
    "notice.unchanged": "没有任何更改。",
    "notice.unsubscribed_all": "您已退订所有营销消息。",
    "errors": "有些字段需要修改；没有保存任何内容。",
    "error.INVALID_TIMEZONE": "无法识别此时区。",
    "error.INVALID_LOCALE": "无法识别此语言。",
    "error.INVALID_TIME": "时间格式为 24 小时制 HH:MM。",
    "error.QUIET_PAIR": "请同时填写开始和结束时间，或都不填。",
    "error.QUIET_SAME": "免打扰时段的开始和结束不能相同。",
    "error.INVALID_FREQUENCY": "请选择一个选项。",
    "error.INVALID_NAME": "此姓名包含无法保存的字符。",
    "error.TOO_LONG": "内容过长。",
    "error.other": "此值无效。",
    "invalid.title": "此链接无效或已过期",
    "invalid.body": "请使用最近一条消息中的链接，或联系我们获取新链接。",
    "list_separator": "”、“",
    "unsubscribe.title": "退订",
    "unsubscribe.body": "不再通过{channel}接收“{category}”？",
    "unsubscribe.button": "退订",
    "unsubscribe.done": "您已退订通过{channel}发送的“{category}”。",
    "confirm.title": "确认订阅",
    "confirm.body": "请确认您希望通过{channel}接收“{category}”。",
    "confirm.button": "确认",
    "confirm.CONFIRMED": "谢谢，您的订阅已确认。",
    "confirm.ALREADY_CONFIRMED": "此订阅此前已确认。",
    "confirm.SUPERSEDED": "此请求已被之后的更改取代，未确认任何内容。",
    "confirm.NOT_FOUND": "此链接没有需要确认的内容。",
    "footer": "此页面仅供您本人使用，请勿分享其网址。",
}

LOCALES: Mapping[str, dict[str, str]] = {"en": EN, "zh-CN": ZH_CN}


def pick(requested: str | None, fallback: str | None = None) -> str:
    """A supported locale: `requested` (`?lang=`) when supported, else `fallback` (the
    customer's locale, or the browser's Accept-Language) mapped: zh* → zh-CN, else en."""
    if requested in LOCALES:
        return requested  # type: ignore[return-value]
    for candidate in (requested, fallback):
        if candidate and candidate.lower().startswith("zh"):
            return "zh-CN"
    return DEFAULT


class Words:
    """A locale's strings for a template: `t("key", name=...)`; a missing key falls back to
    English, then to the key itself (a channel a plugin added has no name of its own)."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.strings = LOCALES[locale]

    def __call__(self, key: str, **values: str) -> str:
        text = self.strings.get(key, EN.get(key))
        if text is None:
            return key.split(".", 1)[-1]
        return text.format(**values) if values else text

    def error(self, code: str) -> str:
        return self(f"error.{code}") if f"error.{code}" in self.strings else self("error.other")
