"""The draft builder as it was before the drafts were built with ``email.mime`` (kept as the
oracle of the property test in ``test_mail_builder.py``): one ``EmailMessage`` under the SMTP
policy, every header parsed and folded by the policy."""

from __future__ import annotations

import datetime as dt
import email.utils
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Sequence

from xl_ar.documents.mail import MAX_NAME, POLICY, Attachment, check_address, safe_text


def build_email_reference(*, msg_id: str, sender: tuple[str, str], to: Sequence[tuple[str, str]], subject: str,
                          text: str, html: str | None, date: dt.datetime, attachments: Sequence[Attachment] = (),
                          meta: dict[str, str] | None = None) -> bytes:
    sname, saddr = safe_text(sender[0], "sender name"), check_address(sender[1], "sender e-mail (SenderEmail)")
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = safe_text(" ".join(subject.split()), "subject")
    msg["From"] = Address(display_name=sname, addr_spec=saddr)
    msg["To"] = [Address(display_name=safe_text(n, "recipient name"), addr_spec=check_address(a)) for n, a in to]
    msg["Date"] = email.utils.format_datetime(date)
    msg["Message-ID"] = f"<{msg_id}@{saddr.rpartition('@')[2]}>"
    msg["X-XL-AR-Id"] = msg_id
    msg["X-Unsent"] = "1"
    for k, v in (meta or {}).items():
        msg[k] = safe_text(v, k, None if k == "X-XL-AR-Items" else MAX_NAME)
    msg.set_content(text if text.endswith("\n") else text + "\n", charset="utf-8")
    if html:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    for a in attachments:
        maintype, _, subtype = a.mimetype.partition("/")
        msg.add_attachment(a.content, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=safe_text(a.filename, "attachment name"))
    return msg.as_bytes(policy=POLICY)
