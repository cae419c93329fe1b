"""Real-shaped bounces and complaints, as MTAs and mailbox providers write them: RFC 3464
delivery status notifications (as Postfix sends them) and RFC 5965 ARF reports (as a
feedback loop sends them)."""

from __future__ import annotations

ORIGINAL_TO = "ann@example.net"
MX_DATE = "Mon, 30 Nov 2026 10:00:00 +0000"


def dsn(
    *,
    to: str = "bounces@example.com",
    message_id: str | None = "<d1@example.com>",
    blocks: list[dict[str, str]] | None = None,
    per_message: dict[str, str] | None = None,
    original: str = "headers",
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    """A `multipart/report; report-type=delivery-status` sent to `to`. `blocks`: the
    per-recipient fields (default: one hard bounce); `original`: how the original comes back
    ("headers": text/rfc822-headers, "message": message/rfc822, "none")."""
    blocks = (
        blocks
        if blocks is not None
        else [
            {
                "Final-Recipient": f"rfc822; {ORIGINAL_TO}",
                "Original-Recipient": f"rfc822;{ORIGINAL_TO}",
                "Action": "failed",
                "Status": "5.1.1",
                "Remote-MTA": "dns; mx.example.net",
                "Diagnostic-Code": f"smtp; 550 5.1.1 <{ORIGINAL_TO}>: Recipient address rejected",
            }
        ]
    )
    fields = per_message or {
        "Reporting-MTA": "dns; mail.example.com",
        "X-Postfix-Queue-ID": "4Q1xyz",
        "Arrival-Date": "Mon, 30 Nov 2026 09:59:00 +0000",
    }
    status = "\n".join(f"{k}: {v}" for k, v in fields.items())
    for block in blocks:
        status += "\n\n" + "\n".join(f"{k}: {v}" for k, v in block.items())
    headers = {
        "Return-Path": "<>",
        "From": "MAILER-DAEMON@mail.example.com (Mail Delivery System)",
        "To": to,
        "Subject": "Undelivered Mail Returned to Sender",
        "Date": MX_DATE,
        "Auto-Submitted": "auto-replied",
        "MIME-Version": "1.0",
        "Content-Type": 'multipart/report; report-type=delivery-status; boundary="BOUND"',
        **(extra_headers or {}),
    }
    return _report(headers, "message/delivery-status", status, message_id, original)


def arf(
    *,
    feedback_type: str = "abuse",
    mail_from: str | None = "bounces@example.com",
    message_id: str | None = "<d1@example.com>",
    to: str = "fbl@example.com",
    original: str = "message",
    arrival: str | None = "Mon, 30 Nov 2026 08:00:00 +0000",
) -> bytes:
    """A `multipart/report; report-type=feedback-report` (RFC 5965) about one of our mails."""
    fields = {
        "Feedback-Type": feedback_type,
        "User-Agent": "SomeGenerator/1.0",
        "Version": "1",
    }
    if mail_from is not None:
        fields["Original-Mail-From"] = f"<{mail_from}>"
    fields["Original-Rcpt-To"] = f"<{ORIGINAL_TO}>"
    if arrival is not None:
        fields["Arrival-Date"] = arrival
    fields["Reported-Domain"] = "example.com"
    headers = {
        "From": "<abuse@mailbox.example>",
        "To": to,
        "Subject": "FW: Spring sale",
        "Date": MX_DATE,
        "MIME-Version": "1.0",
        "Content-Type": 'multipart/report; report-type=feedback-report; boundary="BOUND"',
    }
    body = "\n".join(f"{k}: {v}" for k, v in fields.items())
    return _report(
        headers, "message/feedback-report", body, message_id, original, return_path=mail_from
    )


def _report(
    headers: dict[str, str],
    machine_type: str,
    machine_body: str,
    message_id: str | None,
    original: str,
    *,
    return_path: str | None = None,
) -> bytes:
    original_headers = []
    if return_path:
        original_headers.append(f"Return-Path: <{return_path}>")
    original_headers += [
        "From: Shop <news@example.com>",
        f"To: {ORIGINAL_TO}",
        "Subject: Spring sale",
    ]
    if message_id is not None:
        original_headers.append(f"Message-ID: {message_id}")
    parts = [
        "Content-Type: text/plain; charset=us-ascii\n\n"
        f"This is the mail system. Your message to <{ORIGINAL_TO}> could not be delivered.\n",
        f"Content-Type: {machine_type}\n\n{machine_body}\n",
    ]
    if original == "headers":
        parts.append("Content-Type: text/rfc822-headers\n\n" + "\n".join(original_headers) + "\n")
    elif original == "message":
        parts.append(
            "Content-Type: message/rfc822\n\n"
            + "\n".join(original_headers)
            + "\n\n20% off, today only.\n"
        )
    text = "\n".join(f"{k}: {v}" for k, v in headers.items()) + "\n\n"
    text += "This is a MIME-encapsulated message.\n\n"
    for part in parts:
        text += f"--BOUND\n{part}\n"
    text += "--BOUND--\n"
    return text.replace("\n", "\r\n").encode()
