"""Sending the Outbox over SMTP: a dry run by default, never the same message twice.

Crash safety, step by step. Each message has a stable id (``X-XL-AR-Id``). A journal file
beside the workbook, ``BOOK.xlsx.xl-ar-sent.jsonl``, gets one line per event, flushed and
fsynced before the next step:

1. after the server accepted the recipients and *before* the message body goes out:
   ``sending`` (from here on the server may have the message);
2. after the server's 250 reply to the body: ``sent`` (with customer, items, subject, by);
3. after a definite refusal (a 5xx/4xx reply, a connection lost before the body): ``failed``.

A later run skips every ``sent`` id (and every id the Activities sheet already records), and
sends a ``failed`` one again. An id left at ``sending`` (the process died, or the connection
dropped, while the server was taking the body) is *uncertain*: the server may have delivered
it, so it is not sent again unless the user checks and asks (``--retry-uncertain``); this is
the only window SMTP leaves, and it is a body's transfer long. A connection that drops between
messages (a server that allows N messages per connection) is reopened and the batch goes on.

The collection log is written once, at the end of the batch: every ``sent`` journal entry the
Activities sheet does not have yet is appended (one row per invoice, the id in the Note), the
Outbox statuses are updated, and the workbook is saved (backup, atomic replace). If the run
died before that, or the workbook was open in Excel, the next run appends the missing rows
first: the journal is the record of what went out, the workbook is brought up to it.

The password is never read from the workbook: ``XL_AR_SMTP_PASSWORD``, else the system
keyring (service ``xl-ar``, the SMTP user).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import os
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from xl_ar.book.faults import fault_point
from xl_ar.book.package import BookError, WorkbookPackage
from xl_ar.book.reader import read_book
from xl_ar.core.issues import Issue
from xl_ar.core.settings import parse_settings
from xl_ar.documents import DocsSettings, parse_docs_settings
from xl_ar.documents.mail import Outgoing, UnsafeHeader, outgoing
from xl_ar.documents.outbox import (OutboxEntry, SentRecord, log_sent, logged_ids, read_outbox, with_status,
                               write_outbox)
from xl_ar.core.progress import Progress, quiet
from xl_ar.documents.journal import (  # noqa: F401 - re-exported: the send run's names
    JOURNAL_SUFFIX, Journal, SendError, journal_path, sent_ids,
)

PASSWORD_ENV = "XL_AR_SMTP_PASSWORD"
KEYRING_SERVICE = "xl-ar"
MAX_CONNECT_FAILURES = 3
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}




# ------------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to connect (from the Settings sheet)."""

    host: str
    port: int
    security: str
    user: str
    rate_per_minute: float
    timeout: float = 30.0


def smtp_config(docs: DocsSettings) -> SmtpConfig:
    """Check the SMTP settings; raise :class:`SendError` naming the setting to fix."""
    if not docs.smtp_host:
        raise SendError("SmtpHost is blank on the Settings sheet: set the outgoing mail server")
    host = docs.smtp_host.strip()
    if not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]+", host):
        raise SendError(f'SmtpHost "{host}" is not a host name')
    if docs.smtp_security == "none" and docs.smtp_user and host.lower() not in _LOOPBACK:
        raise SendError("SmtpSecurity is none: a password would cross the network unencrypted; use starttls or ssl")
    return SmtpConfig(host, docs.smtp_port, docs.smtp_security, docs.smtp_user, docs.rate_per_minute)


def smtp_password(user: str, env: Any = None) -> str | None:
    """The SMTP password: ``XL_AR_SMTP_PASSWORD``, else the system keyring (service ``xl-ar``).

    Args:
        user: the SMTP user (the keyring's user name).
        env: the environment (default ``os.environ``).

    Returns:
        The password, or None when neither has one.
    """
    env = os.environ if env is None else env
    if env.get(PASSWORD_ENV):
        return env[PASSWORD_ENV]
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, user)
    except Exception:  # no keyring backend on this machine (a server): same as no password
        return None


def _connect(cfg: SmtpConfig, password: str | None, context: ssl.SSLContext | None) -> smtplib.SMTP:
    ctx = context or ssl.create_default_context()
    local = socket.gethostname() or "localhost"  # getfqdn() may wait on DNS
    if cfg.security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, local_hostname=local, timeout=cfg.timeout,
                                              context=ctx)
    else:
        smtp = smtplib.SMTP(cfg.host, cfg.port, local_hostname=local, timeout=cfg.timeout)
    try:
        smtp.ehlo()
        if cfg.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise SendError(f"{cfg.host} does not offer STARTTLS; refusing to send unencrypted")
            smtp.starttls(context=ctx)
            smtp.ehlo()
        if cfg.user:
            smtp.login(cfg.user, password or "")
    except BaseException:
        with contextlib.suppress(Exception):
            smtp.close()
        raise
    return smtp


class _Refused(Exception):
    """The server refused the message (it was not delivered)."""


class _Uncertain(Exception):
    """The connection failed while the server was taking the body: it may have been delivered."""


def _closing(smtp: smtplib.SMTP, code: int, resp: bytes) -> None:
    """421 before the body: the server is closing the connection (e.g. N messages per
    connection); nothing was delivered, so it is a lost connection: reconnect and go on."""
    if code == 421:
        with contextlib.suppress(Exception):
            smtp.close()
        raise smtplib.SMTPServerDisconnected(f"{code} {resp.decode(errors='replace')}")


def _with_date(data: bytes, when: dt.datetime) -> bytes:
    """The message with its Date header set to the moment it goes out (top-level header only)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    line = b"Date: " + email.utils.format_datetime(when).encode("ascii")
    head, n = re.subn(rb"(?m)^Date:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*", lambda m: line, head, count=1)
    return (head if n else head + b"\r\n" + line) + sep + body


def _deliver(smtp: smtplib.SMTP, out: Outgoing, journal: Journal, data: bytes) -> dict[str, str]:
    """MAIL, RCPT, DATA step by step, so a failure is known to be before or during the body."""
    code, resp = smtp.mail(out.sender)
    _closing(smtp, code, resp)
    if code != 250:
        with contextlib.suppress(Exception):
            smtp.rset()
        raise _Refused(f"sender refused: {code} {resp.decode(errors='replace')}")
    refused = {}
    for r in out.recipients:
        code, resp = smtp.rcpt(r)
        _closing(smtp, code, resp)
        if code not in (250, 251):
            refused[r] = f"{code} {resp.decode(errors='replace')}"
    if len(refused) == len(out.recipients):
        with contextlib.suppress(Exception):
            smtp.rset()
        raise _Refused("recipient refused: " + "; ".join(f"{k}: {v}" for k, v in refused.items()))
    code, resp = smtp.docmd("DATA")
    _closing(smtp, code, resp)
    if code != 354:
        with contextlib.suppress(Exception):
            smtp.rset()
        raise _Refused(f"DATA refused: {code} {resp.decode(errors='replace')}")
    fault_point("send:data")
    journal.record(out.id, "sending", at=_now_iso())
    fault_point("send:journalled")
    body = re.sub(rb"(?m)^\.", b"..", data)  # dot-stuffing (RFC 5321 4.5.2)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    try:
        smtp.send(body + b".\r\n")
        code, resp = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise _Uncertain(f"connection lost while sending the message body ({exc})") from None
    if code != 250:
        raise _Refused(f"message refused: {code} {resp.decode(errors='replace')}")
    fault_point("send:delivered")
    return refused


def _now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


# ------------------------------------------------------------------------------- the run


@dataclass
class Planned:
    """A message that would go: its Outbox entry and the checked message."""

    entry: OutboxEntry
    out: Outgoing
    attachments: list[str] = field(default_factory=list)


@dataclass
class SendReport:
    """What a send did (or, in a dry run, would do).

    Attributes:
        dry_run: nothing was sent or written.
        planned: the messages that go (or would go), in Outbox order.
        sent: ids the server accepted in this run; ``refused_recipients`` per id, if some.
        failed: id -> reason (not delivered; a later run tries again).
        uncertain: id -> reason (maybe delivered: not sent again without ``--retry-uncertain``).
        skipped: id -> reason (already sent, on hold, SMS, draft missing...).
        logged: collection-log rows appended to Activities; ``pending_log`` messages sent but
            not yet in Activities (logged by the next run).
        backup: the workbook's backup, when it was written.
        issues: warnings (a password key on Settings, a workbook that could not be written).
    """

    book: str
    dry_run: bool = True
    planned: list[Planned] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    refused_recipients: dict[str, dict[str, str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    uncertain: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    logged: int = 0
    sms_released: int = 0
    awaiting_approval: dict[str, str] = field(default_factory=dict)
    pending_log: int = 0
    backup: Path | None = None
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.uncertain

    def __str__(self) -> str:
        wait = (f"; {len(self.awaiting_approval)} 封待审批 awaiting approval (Outbox: Approved, ApprovedBy, ApprovedAt)"
                if self.awaiting_approval else "")
        if self.dry_run:
            return f"试运行 / dry run: {len(self.planned)} 封邮件待发送 would be sent (use --yes to send){wait}"
        return (f"已发送 sent {len(self.sent)}, 失败 failed {len(self.failed)}, 待核实 uncertain {len(self.uncertain)}, "
                f"短信 SMS released {self.sms_released}, 催收日志 logged {self.logged} row(s){wait}")

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        return {"dry_run": self.dry_run,
                "planned": [{"id": p.entry.id, "customer_id": p.entry.customer_id, "to": p.out.recipients,
                             "subject": p.out.subject, "attachments": p.attachments} for p in self.planned],
                "sent": self.sent, "refused_recipients": self.refused_recipients, "failed": self.failed,
                "uncertain": self.uncertain, "skipped": self.skipped, "logged": self.logged,
                "sms_released": self.sms_released, "awaiting_approval": self.awaiting_approval,
                "pending_log": self.pending_log, "issues": [i.as_dict() for i in self.issues]}


def _draft_path(entry: OutboxEntry, base: Path) -> Path | None:
    """The draft file of an Outbox row (relative to the workbook's folder); None unless an .eml.

    A workbook is data from anywhere: only an existing ``.eml`` is read, and it is sent only
    when it carries the row's own message id (checked by the caller).
    """
    if not entry.file:
        return None
    p = Path(entry.file)
    p = p if p.is_absolute() else base / p
    if p.suffix.lower() != ".eml" or not p.is_file():
        return None
    return p


def send_outbox(
    book: str | os.PathLike[str],
    *,
    yes: bool = False,
    retry_uncertain: bool = False,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    now: Callable[[], dt.datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout: float = 30.0,
    progress: Progress = quiet,
) -> SendReport:
    """Send the Outbox's e-mail drafts over SMTP; log them in Activities.

    Args:
        book: the workbook.
        yes: really send (default: a dry run that lists what would go and writes nothing).
        retry_uncertain: also send messages whose earlier sending may or may not have
            reached the server (check the recipient's mailbox or the server log first).
        password: the SMTP password (default: :func:`smtp_password`).
        ssl_context: for TLS (default: the system's trusted certificates).
        now: the clock for Date headers and the log (default: local time now).
        sleep, clock: for the rate limit (tests pass their own).
        timeout: socket timeout in seconds.
        progress: called with (stage, fraction done).

    Returns:
        The :class:`SendReport`.

    Raises:
        SendError: no Outbox, no server, no password, login refused, server unreachable.
    """
    path = Path(book)
    now = now or (lambda: dt.datetime.now().astimezone())
    report = SendReport(str(path), dry_run=not yes)
    WorkbookPackage.open(path)  # refuses zip bombs and non-workbooks before any parser sees the file
    data = read_book(path)
    settings, _ = parse_settings(data.settings)
    docs, issues = parse_docs_settings(settings.extra)
    report.issues += issues
    sheet, entries = read_outbox(path)
    if sheet is None:
        raise SendError(f"{path.name} has no Outbox sheet: run xl-ar reminders first")
    journal = Journal(path)
    if not yes:  # a dry run reads only: no journal, no lock, no workbook write
        _plan(report, path, entries, journal.load(), logged_ids(data), retry_uncertain, now)
        try:
            smtp_config(docs)
        except SendError as exc:
            report.issues.append(Issue("Settings", f"sending would stop: {exc}", "warning"))
        return report
    with journal.open():
        # planned under the lock: a send that ran meanwhile has its messages in the journal
        _plan(report, path, entries, journal.load(), logged_ids(data), retry_uncertain, now)
        _record_sms(report, journal, entries, logged_ids(data), now)
        try:
            if report.planned:
                _send_all(report, journal, docs, password, ssl_context, now, sleep, clock, timeout, progress)
        except SendError as exc:
            exc.report = report  # type: ignore[attr-defined] - what went out before it stopped
            raise
        finally:
            _log_and_update(report, path, journal, entries, sheet, settings.language, now)
    return report


def _plan(report: SendReport, path: Path, entries: list[OutboxEntry], state: dict[str, dict[str, Any]],
          logged: set[str], retry_uncertain: bool, now: Callable[[], dt.datetime]) -> None:
    """Sort the Outbox's rows into planned, skipped, uncertain and failed."""
    report.planned, report.skipped, report.uncertain, report.failed = [], {}, {}, {}
    report.awaiting_approval = {}
    for e in entries:
        ev = state.get(e.id, {})
        if e.channel != "email":
            report.skipped[e.id] = "SMS: send sms.csv through your SMS gateway"
        elif e.id in logged or ev.get("state") == "sent":
            report.skipped[e.id] = "already sent"
        elif e.status == "hold":
            report.skipped[e.id] = "on hold"
        elif e.approval_missing():
            report.awaiting_approval[e.id] = e.approval_missing()
        elif ev.get("state") in ("sending", "uncertain") and not retry_uncertain:
            report.uncertain[e.id] = (ev.get("error") or "an earlier send stopped while the server was taking "
                                      "this message; check whether it arrived, then use --retry-uncertain")
        else:
            p = _draft_path(e, path.parent)
            if p is None:
                report.failed[e.id] = f"draft {e.file or '(none)'} is not an .eml file that exists"
                continue
            try:
                out = outgoing(p.read_bytes(), now(), p.name)
            except UnsafeHeader as exc:
                report.failed[e.id] = f"refused: {exc}"
                continue
            if out.id != e.id:
                report.failed[e.id] = f"{p.name} is message {out.id}, not {e.id}: run xl-ar reminders again"
                continue
            report.planned.append(Planned(e, out, _attachment_names(out.data)))
    report.pending_log = sum(1 for k, v in state.items() if v.get("state") == "sent" and k not in logged)


def _record_sms(report: SendReport, journal: Journal, entries: list[OutboxEntry], logged: set[str],
                now: Callable[[], dt.datetime]) -> None:
    """Record the Outbox's SMS rows as handed to the gateway.

    The SMS list (``sms.csv``) goes out through the user's SMS gateway, not through this run;
    a confirmed send is the moment the day's batch is released, so its SMS rows are journalled
    and logged on Activities like the e-mails (a row on hold stays back). Without this the
    cadence would see no SMS ever sent and list the same text again the next day.
    """
    state = journal.load()
    for e in entries:
        if e.channel != "sms" or e.status == "hold" or e.id in logged or state.get(e.id, {}).get("state") == "sent":
            continue
        journal.record(e.id, "sent", at=now().isoformat(timespec="seconds"), customer_id=e.customer_id,
                       items=[x.strip() for x in e.items.split(",") if x.strip()], channel="sms",
                       by=e.owner, subject=e.subject, to=e.to)
        report.sms_released += 1
        report.skipped[e.id] = "SMS: handed to the SMS gateway (sms.csv) and logged"


def _attachment_names(data: bytes) -> list[str]:
    from email import message_from_bytes

    from xl_ar.documents.mail import POLICY

    return [a.get_filename() or "" for a in message_from_bytes(data, policy=POLICY).iter_attachments()]


def _send_all(report: SendReport, journal: Journal, docs: DocsSettings, password: str | None,
              ssl_context: ssl.SSLContext | None, now: Callable[[], dt.datetime], sleep: Callable[[float], None],
              clock: Callable[[], float], timeout: float, progress: Progress) -> None:
    cfg = smtp_config(docs)
    cfg = SmtpConfig(cfg.host, cfg.port, cfg.security, cfg.user, cfg.rate_per_minute, timeout)
    if cfg.user and password is None:
        password = smtp_password(cfg.user)
        if not password:
            raise SendError(f"no SMTP password for {cfg.user}: set {PASSWORD_ENV} or store it with "
                            f"`keyring set {KEYRING_SERVICE} {cfg.user}` (never in the workbook)")
    interval = 60.0 / cfg.rate_per_minute
    smtp: smtplib.SMTP | None = None
    last = None
    lost_in_a_row = 0
    try:
        for k, p in enumerate(report.planned):
            progress("send", k / len(report.planned))
            wait = last + interval - clock() if last is not None else 0.0
            if wait > 0:  # (the clock read once: read twice, the wait could come out below zero)
                sleep(wait)
            last = clock()
            for attempt in range(MAX_CONNECT_FAILURES):
                try:
                    if smtp is None:
                        smtp = _connect(cfg, password, ssl_context)
                    refused = _deliver(smtp, p.out, journal, _with_date(p.out.data, now()))
                except _Refused as exc:
                    journal.record(p.out.id, "failed", at=_now_iso(), error=str(exc))
                    report.failed[p.out.id] = str(exc)
                except _Uncertain as exc:
                    journal.record(p.out.id, "uncertain", at=_now_iso(), error=str(exc))
                    report.uncertain[p.out.id] = str(exc)
                    smtp = _close(smtp)
                except smtplib.SMTPAuthenticationError as exc:
                    raise SendError(f"the server refused the login of {cfg.user}: {exc.smtp_code} "
                                    f"{exc.smtp_error.decode(errors='replace')}") from None
                except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPHeloError,
                        ConnectionError, socket.timeout, OSError) as exc:
                    # Lost before the body went out: not delivered; reconnect and try again.
                    smtp = _close(smtp)
                    if attempt + 1 < MAX_CONNECT_FAILURES:
                        continue
                    journal.record(p.out.id, "failed", at=_now_iso(), error=f"connection: {exc}")
                    report.failed[p.out.id] = f"could not reach {cfg.host}:{cfg.port}: {exc}"
                    lost_in_a_row += 1
                    if lost_in_a_row >= 2:
                        raise SendError(f"{cfg.host}:{cfg.port} keeps failing ({exc}); the rest was not sent: "
                                        "run xl-ar send again later") from None
                else:
                    lost_in_a_row = 0
                    at = now().isoformat(timespec="seconds")
                    journal.record(p.out.id, "sent", at=at, customer_id=p.out.customer_id, items=p.out.items,
                                   channel="email", by=p.out.by or docs.sender_name or cfg.user,
                                   subject=p.out.subject, to=p.out.recipients, refused=refused)
                    fault_point("send:sent")
                    report.sent.append(p.out.id)
                    if refused:
                        report.refused_recipients[p.out.id] = refused
                break
    finally:
        _close(smtp, polite=True)
    progress("send", 1.0)


def _close(smtp: smtplib.SMTP | None, polite: bool = False) -> None:
    if smtp is not None:
        with contextlib.suppress(Exception):
            if polite:
                smtp.quit()
            else:
                smtp.close()
    return None


def _log_and_update(report: SendReport, path: Path, journal: Journal, entries: list[OutboxEntry], sheet: str,
                    lang: str, now: Callable[[], dt.datetime]) -> None:
    """Bring the workbook up to the journal: Activities rows, then Outbox statuses; one save."""
    fault_point("send:log")
    state = journal.load()
    records: list[SentRecord] = []
    try:
        data = read_book(path)  # again: the user may have typed in the log while we were sending
        logged = logged_ids(data)
        for k, ev in state.items():
            if ev.get("state") != "sent" or k in logged:
                continue
            try:
                day = dt.datetime.fromisoformat(str(ev.get("at"))).date()
            except ValueError:
                day = now().date()
            records.append(SentRecord(k, day, str(ev.get("customer_id", "")), list(ev.get("items") or []),
                                      str(ev.get("channel", "email")), str(ev.get("by", "")),
                                      str(ev.get("subject", ""))))
        updates: dict[str, dict[str, str]] = {}
        for e in entries:
            ev = state.get(e.id, {})
            if ev.get("state") == "sent":
                updates[e.id] = {"status": "sent", "sent_at": str(ev.get("at", "")), "note": ""}
            elif e.id in report.failed:
                updates[e.id] = {"status": "failed", "note": report.failed[e.id]}
            elif ev.get("state") in ("sending", "uncertain"):
                updates[e.id] = {"status": "uncertain", "note": str(ev.get("error") or "")}
        pkg = WorkbookPackage.open(path).refuse_1904()
        report.logged = log_sent(pkg, data, records, lang)
        write_outbox(pkg, with_status(entries, updates), lang, sheet)
        report.backup = pkg.save_changes()
        report.pending_log = 0
    except BookError as exc:
        report.pending_log = len(records)
        report.issues.append(Issue(path.name, f"the collection log was not updated ({exc}); the sent messages are "
                                   f"recorded in {journal.path.name} and will be logged by the next xl-ar send",
                                   "warning"))
