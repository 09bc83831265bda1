"""Documents for customers: reminders (mail merge to .eml drafts and an SMS list), sending.

The settings these documents read from the Settings sheet are declared here, with their
defaults, so a new workbook can list them (:data:`DOCS_SETTING_DEFAULTS`) and every module
parses them the same way (:func:`parse_docs_settings`). A password is never one of them:
the SMTP password comes from the environment or the system keyring only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from xl_ar.core import registry
from xl_ar.core.issues import Issue

#: The documents settings (see ``xl_ar.core.registry``): (key, default, English note, Chinese note).
DOCS_SETTING_DEFAULTS: tuple[tuple[str, Any, str, str], ...] = registry.defaults_table("documents")
#: Chinese (and other) names accepted for the keys on the Settings sheet.
DOCS_SETTING_ALIASES: dict[str, tuple[str, ...]] = registry.aliases_table("documents")

SECURITY_CHOICES = ("starttls", "ssl", "none")
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
# A password is a secret: any key that looks like one is refused, whatever its spelling.
_PASSWORD_KEY = re.compile(r"password|passwd|pwd|密码|口令|授权码", re.I)


_LOOKUP = {registry.fold(a): k for k, *_ in DOCS_SETTING_DEFAULTS for a in (k, *DOCS_SETTING_ALIASES.get(k, ()))}


@dataclass(frozen=True)
class DocsSettings:
    """The documents settings of a workbook (see :data:`DOCS_SETTING_DEFAULTS`).

    Attributes:
        company_name, company_name_zh, company_phone, bank_account: printed in letters.
        sender_name, sender_email: the From line.
        smtp_host, smtp_port, smtp_security, smtp_user: the outgoing server.
        rate_per_minute: sending rate limit.
        days_ahead: open items due within this many days are listed as "due soon".
        deadline_days: payment deadline of a dunning letter, in days after the as-of date.
    """

    company_name: str = ""
    company_name_zh: str = ""
    company_phone: str = ""
    bank_account: str = ""
    sender_name: str = ""
    sender_email: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    rate_per_minute: float = 20.0
    days_ahead: int = 7
    deadline_days: int = 7

    def company(self, lang: str) -> str:
        """The company name for letters in ``lang``."""
        if lang == "zh":
            return self.company_name_zh or self.company_name
        return self.company_name or self.company_name_zh


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v)


def _whole(raw: Any) -> int:
    n = float(str(raw).strip()) if not isinstance(raw, (int, float)) else float(raw)
    if n != int(n):
        raise ValueError
    return int(n)


def parse_docs_settings(extra: Mapping[str, tuple[Any, str]]) -> tuple[DocsSettings, list[Issue]]:
    """Read the documents settings from ``Settings.extra``.

    A key that looks like a password (``SmtpPassword``, ``密码``...) is ignored with a warning:
    a workbook is copied, mailed and backed up, so it must never hold a secret.

    Args:
        extra: key -> (raw cell value, place of the value cell), as ``Settings.extra`` holds.

    Returns:
        (settings, issues); a bad value keeps the default and gives a warning naming its cell.
    """
    issues: list[Issue] = []
    values: dict[str, Any] = {}
    for key, pair in extra.items():
        raw, where = pair if isinstance(pair, tuple) else (pair, "Settings")
        if _PASSWORD_KEY.search(str(key)):
            issues.append(Issue(where, f'"{key}" is ignored: a password is never read from a workbook. Delete it '
                                "from the sheet; set XL_AR_SMTP_PASSWORD or store it in the system keyring "
                                "(keyring set xl-ar USER)", "warning"))
            continue
        canon = _LOOKUP.get(registry.fold(key))
        if canon is None or _blank(raw):
            continue
        try:
            if canon == "SmtpSecurity":
                v = str(raw).strip().lower()
                # "TLS" alone is ambiguous (STARTTLS on 587 or TLS on 465): it must be spelt out
                v = {"ssl/tls": "ssl", "smtps": "ssl", "implicit tls": "ssl", "无": "none", "不加密": "none"}.get(v, v)
                if v not in SECURITY_CHOICES:
                    raise ValueError
                values[canon] = v
            elif canon in ("SmtpPort", "ReminderDaysAhead", "PaymentDeadlineDays"):
                n = _whole(raw)
                if n < 0 or (canon == "SmtpPort" and not 0 < n < 65536):
                    raise ValueError
                values[canon] = n
            elif canon == "SendRatePerMinute":
                n = float(str(raw).strip()) if not isinstance(raw, (int, float)) else float(raw)
                if not n > 0:
                    raise ValueError
                values[canon] = n
            else:
                v = str(int(raw)) if isinstance(raw, float) and raw == int(raw) else str(raw)
                values[canon] = v.strip()
        except (ValueError, TypeError, OverflowError):
            issues.append(Issue(where, f'{canon} "{raw}" is not a valid value; the default is used', "warning"))
    security = values.get("SmtpSecurity", "starttls")
    s = DocsSettings(
        company_name=values.get("CompanyName", ""), company_name_zh=values.get("CompanyNameZh", ""),
        company_phone=values.get("CompanyPhone", ""), bank_account=values.get("BankAccount", ""),
        sender_name=values.get("SenderName", ""), sender_email=values.get("SenderEmail", ""),
        smtp_host=values.get("SmtpHost", ""), smtp_port=values.get("SmtpPort", _DEFAULT_PORTS[security]),
        smtp_security=security, smtp_user=values.get("SmtpUser", ""),
        rate_per_minute=values.get("SendRatePerMinute", 20.0),
        days_ahead=values.get("ReminderDaysAhead", 7), deadline_days=values.get("PaymentDeadlineDays", 7),
    )
    return s, issues
