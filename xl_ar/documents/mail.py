"""E-mail messages built safely: checked headers, stable ids, ``.eml`` drafts, SMS text and CSV cells.

Everything that reaches a header comes from a user's cells (a customer's name and address,
the company's name), so it is checked here before any message exists: a line break or other
control character in a name, or anything but plain addresses in an e-mail cell, refuses the
message (a ``\\r\\nBcc:`` in a cell is a header injection). Names and subjects in Chinese are
encoded with the ``email`` package (RFC 2047 headers, RFC 2231 attachment names); bodies are
base64, so a message is 7-bit clean for any server and any mail client. A draft goes out with
its headers as written: they are checked again when it is read back, never folded again.

Every message carries a stable id (:func:`message_id`): the same customer, as-of date,
channel, letter kind and invoices give the same id on every run, which is how a send that
stopped half-way resumes without sending anything twice.
"""

from __future__ import annotations

import binascii
import datetime as dt
import email.policy
import email.utils
import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from email import message_from_bytes
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from pathlib import Path
from typing import Any, Iterable, Sequence

#: How a draft is read back (its addresses, subject and attachments checked before it is sent):
#: CRLF line ends, encoded-words decoded, 7-bit bodies. Drafts are written by :func:`build_email`.
POLICY = email.policy.SMTP.clone(cte_type="7bit")
ID_HEADER = "X-XL-AR-Id"
#: Headers for the tool itself (who, which items): kept in the draft, stripped before sending.
META_HEADERS = ("X-XL-AR-Customer", "X-XL-AR-Items", "X-XL-AR-By", "X-XL-AR-Stage", "X-XL-AR-Channel")
MAX_NAME = 200

_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_ANGLE = re.compile(r"^(.*)<([^<>]*)>\s*$")
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
# GSM 03.38 basic alphabet: an SMS in it holds 160 characters, any other text 70 (UCS-2).
_GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
            "¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXT = set("^{}\\[~]|€")


class UnsafeHeader(ValueError):
    """A value that must not go into a mail header (line break, control character, bad address).

    Attributes:
        what: what the value is ("recipient name", "X-XL-AR-Customer", ...), as the caller named
            it: where the value came from can be told from it ("" when not one value's fault).
    """

    def __init__(self, message: str, what: str = ""):
        super().__init__(message)
        self.what = what


def safe_text(value: Any, what: str, limit: int | None = MAX_NAME) -> str:
    """A name or subject for a header: stripped; refused if it holds a control character.

    Args:
        value: the cell value.
        what: what it is, for the message ("customer name").
        limit: the most characters it may have (None: no bound, for a value the tool builds).

    Returns:
        The text.

    Raises:
        UnsafeHeader: it contains a line break or another control character, or is too long.
    """
    s = "" if value is None else str(value).strip()
    if _CONTROL.search(s):
        raise UnsafeHeader(f"{what} contains a line break or control character (header injection?)", what)
    if limit is not None and len(s) > limit:
        raise UnsafeHeader(f"{what} is longer than {limit} characters", what)
    return s


def check_address(text: str, what: str = "e-mail address") -> str:
    """One plain address ``local@domain``: ASCII local part, domain converted to IDNA.

    Args:
        text: the address.
        what: what it is, for the message.

    Returns:
        The address with its domain in lower case (and punycode for a non-ASCII domain).

    Raises:
        UnsafeHeader: it is not a plain, single address.
    """
    s = safe_text(text, what)
    local, at, domain = s.rpartition("@")
    if not at or not local or not domain or len(local) > 64 or not _LOCAL.match(local):
        raise UnsafeHeader(f'{what} "{s}" is not a valid e-mail address', what)
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UnsafeHeader(f'{what} "{s}" has an invalid domain', what) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(x) for x in labels) or len(ascii_domain) > 253:
        raise UnsafeHeader(f'{what} "{s}" has an invalid domain', what)
    return f"{local}@{ascii_domain}"


def parse_addresses(cell: Any, what: str = "e-mail address") -> list[str]:
    """The addresses of an e-mail cell: one, or several separated by ``,`` or ``;``.

    ``Name <addr>`` is accepted (the name is dropped: the letter uses the customer's own), and a
    quoted name may hold the separators: ``"Evil, Inc" <e@x.example>`` is one address.

    Args:
        cell: the cell value.
        what: what it is, for messages.

    Returns:
        The checked addresses (empty for a blank cell).

    Raises:
        UnsafeHeader: a control character anywhere, or a part that is not an address.
    """
    s = "" if cell is None else str(cell).strip()
    if _CONTROL.search(s):
        raise UnsafeHeader(f"{what} contains a line break or control character (header injection?)", what)
    out = []
    for part in _split_addresses(s):
        addr = check_address(_address_of(part, what), what)
        if addr not in out:
            out.append(addr)
    return out


def _split_addresses(s: str) -> list[str]:
    """Split at ``,``/``;`` (and their full-width forms) outside quotes and angle brackets."""
    parts, cur, quoted, angled, escaped = [], [], False, False, False
    for ch in s:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"' and not angled:
            quoted = not quoted
        elif ch == "<" and not quoted:
            angled = True
        elif ch == ">" and not quoted:
            angled = False
        elif ch in ",;，；" and not quoted and not angled:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    out: list[str] = []
    for p in (p.strip() for p in parts):
        # ``Evil, Inc <e@x>`` typed without quotes: a piece with no address belongs to the next.
        if out and "@" not in out[-1] and "<" not in out[-1] and "<" in p:
            out[-1] = f"{out[-1]}, {p}"
        elif p:
            out.append(p)
    return out


def _address_of(part: str, what: str) -> str:
    """The address of one ``Name <addr>`` (read by the standard library's parser) or bare address."""
    if "<" not in part and ">" not in part:
        return part
    m = _ANGLE.match(part)
    if m is not None and not m.group(1).strip().startswith('"'):
        # An unquoted name with a comma in it: quote it, as the writer of the cell meant.
        part = email.utils.formataddr((m.group(1).strip(), m.group(2).strip()))
    pairs = email.utils.getaddresses([part])
    if m is None or len(pairs) != 1 or pairs[0][1] != m.group(2).strip():
        raise UnsafeHeader(f"{what} {part!r} is not one address of the form Name <local@domain>", what)
    return pairs[0][1]


def message_id(customer_id: str, step: str | dt.date, channel: str, kind: str, invoice_nos: Iterable[str]) -> str:
    """The stable id of a message: the same inputs give the same id on every run.

    The run's date is not part of it: the reminder of one step of the cadence (``"mild#2"``,
    the stage and the step within it) about the same invoices is the same message on every
    day it is prepared, so it goes out once however often the routine runs. Amounts are left
    out on purpose: a receipt arriving in between does not make it another letter.

    Args:
        customer_id, channel, kind: what the message is.
        step: the cadence step (``stage#n``); a date is accepted for one-off messages.
        invoice_nos: the invoices it lists.

    Returns:
        ``xlar-`` and 20 hex digits.
    """
    step_key = step.isoformat() if isinstance(step, dt.date) else str(step)
    key = json.dumps([str(customer_id), step_key, channel, kind, sorted(map(str, invoice_nos))],
                     ensure_ascii=False, separators=(",", ":"))
    return "xlar-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message."""

    filename: str
    content: bytes
    mimetype: str


def build_email(
    *,
    msg_id: str,
    sender: tuple[str, str],
    to: Sequence[tuple[str, str]],
    subject: str,
    text: str,
    html: str | None,
    date: dt.datetime,
    attachments: Sequence[Attachment] = (),
    meta: dict[str, str] | None = None,
) -> Message:
    """A draft e-mail: text and HTML alternatives, attachments, stable Message-ID.

    Built with the standard library's MIME classes (``email.mime``), each header encoded here
    once it is checked (RFC 2047 words for non-ASCII names and subjects, RFC 2231 for
    attachment names), so writing the draft only joins its lines: a run writes thousands, and
    ``EmailMessage`` parsed and refolded every header again on the way (2.8 ms a message
    against 1.0 ms). A draft is read back and its headers checked again by :func:`outgoing`
    before it is sent, as written.

    Args:
        msg_id: the stable id (:func:`message_id`).
        sender: (display name, address) of the From line.
        to: (display name, address) per recipient (addresses already checked).
        subject: the subject; runs of whitespace (a template's line breaks) become one space.
        text: the plain-text body.
        html: the HTML body, or None.
        date: the Date header (aware datetime).
        attachments: files to attach.
        meta: ``X-XL-AR-*`` headers for the tool (customer, items, by), stripped when sent.

    Returns:
        The message, with ``X-Unsent: 1`` so mail clients open it as a draft (its bytes:
        :func:`eml_bytes`).

    Raises:
        UnsafeHeader: a name, subject or address that must not go into a header.
    """
    sname, saddr = safe_text(sender[0], "sender name"), check_address(sender[1], "sender e-mail (SenderEmail)")
    subject = safe_text(" ".join(subject.split()), "subject")
    if not to:
        raise UnsafeHeader("a message needs at least one recipient")
    recipients = [_address(safe_text(n, "recipient name"), check_address(a)) for n, a in to]
    heads = [("Subject", _encoded(subject, "Subject")), ("From", _address(sname, saddr)),
             ("To", _address_list(recipients)), ("Date", email.utils.format_datetime(date)),
             ("Message-ID", f"<{msg_id}@{saddr.rpartition('@')[2]}>"), (ID_HEADER, msg_id),
             ("X-Unsent", "1")]  # Outlook and others open such an .eml as an editable draft
    for k, v in (meta or {}).items():
        # The items list is the tool's own JSON (ASCII, folded at its spaces): as long as the
        # customer's list of invoices, which a long-overdue customer makes long.
        heads.append((k, _encoded(safe_text(v, k, None if k == "X-XL-AR-Items" else MAX_NAME), k)))
    body: Message = _text_part(text, "plain")
    if html:
        body = _multipart("alternative", [body, _text_part(html, "html")], msg_id)
    if attachments:
        body = _multipart("mixed", [body, *(_attachment(a) for a in attachments)], msg_id)
    top = Message(policy=_DRAFT)  # the headers first, then the body's own (Content-Type, ...)
    for k, v in heads:
        top[k] = v
    top["MIME-Version"] = "1.0"
    for k, v in body.items():
        if k != "MIME-Version":
            top[k] = v
    top.set_payload(body.get_payload())
    return top


#: The drafts' policy: headers encoded by :func:`build_email` itself, CRLF line ends, 78 columns.
_DRAFT = email.policy.compat32.clone(linesep="\r\n")


def _encoded(value: str, name: str) -> Header | str:
    """A header's value: ASCII as it is, anything else as RFC 2047 words (``=?utf-8?b?...?=``),
    and so is ASCII that a reader would take for such a word (``=?``), to read back as typed."""
    return value if value.isascii() and "=?" not in value else Header(value, "utf-8", header_name=name)


def _address(name: str, addr: str) -> str:
    """``Name <addr>`` with the name quoted or encoded as it needs (a checked name and address)."""
    if "=?" in name:  # not to be read back as an encoded word
        return f"{Header(name, 'utf-8').encode()} <{addr}>"
    return email.utils.formataddr((name, addr), charset="utf-8")


def _address_list(addresses: list[str]) -> str:
    """Addresses joined by commas, one to a line when they do not fit on one (so a header is
    never folded inside a quoted name)."""
    one = ", ".join(addresses)
    return one if len(one) <= 72 else ",\r\n ".join(addresses)


def _text_part(content: str, subtype: str) -> Message:
    """A text part in UTF-8, base64, its lines in the canonical CRLF form.

    Made as ``MIMEText(text, subtype, "utf-8")`` makes it, less its MIME-Version (the same
    headers in the same order, the same base64 lines, CRLF-ended as :func:`_base64_crlf` makes
    them), without its way there: it sets the charset parameter by parsing the Content-Type
    header it has just written, and a draft has two text parts.
    """
    content = content if content.endswith("\n") else content + "\n"
    data = re.sub(r"\r\n|\r|\n", "\r\n", content).encode("utf-8")
    part = Message(policy=_DRAFT)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(_base64_crlf(data))
    return part


def _multipart(subtype: str, parts: list[Message], msg_id: str) -> Message:
    """A multipart of ``parts`` with a boundary of its own: the same message, the same bytes.

    The boundary holds "_", which base64 never does, so no body can contain it; it is checked
    against the parts' headers. Left to the email package, a random boundary is made and the
    whole message (its attachments' base64 included) searched for it: a third of a draft's
    writing time.
    """
    part = MIMEMultipart(subtype, policy=_DRAFT)
    del part["MIME-Version"]
    for p in parts:
        part.attach(p)
    boundary = f"=_xl-ar_{subtype}_{hashlib.sha256(msg_id.encode('utf-8')).hexdigest()[:24]}"
    if not any(boundary in str(v) for p in parts for q in p.walk() for v in q.values()):
        part.set_boundary(boundary)
    return part


def _base64_crlf(data: bytes) -> str:
    """``data`` in base64 as the email package encodes a body (``base64.encodebytes``: lines of
    76 characters, each ended), with CRLF line ends, as the draft writes them: the writer would
    otherwise split the body into its lines and write each again with CRLF
    (:class:`_DraftGenerator`); the bytes are the same. Encoded whole and then cut into lines:
    ``encodebytes`` encodes 57 bytes at a time, 2.3 times as long for a 24 KB statement."""
    text = binascii.b2a_base64(data, newline=False).decode("ascii")
    return "\r\n".join([text[i:i + 76] for i in range(0, len(text), 76)]) + "\r\n" if text else ""


def _attachment(a: Attachment) -> Message:
    """A file as a base64 part, its name RFC 2231-encoded when it is not ASCII."""
    maintype, _, subtype = a.mimetype.partition("/")
    part = MIMEBase(maintype, subtype or "octet-stream", policy=_DRAFT)
    del part["MIME-Version"]
    part.set_payload(_base64_crlf(a.content))  # as email.encoders.encode_base64 does, CRLF-ended
    part["Content-Transfer-Encoding"] = "base64"
    name = safe_text(a.filename, "attachment name")
    part.add_header("Content-Disposition", "attachment", filename=name if name.isascii() else ("utf-8", "", name))
    return part


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write a file so that it is either the old or the whole new content, never half of it.

    The new content goes to a temp file beside it, named after it and this process (created
    exclusively, never through a link; ``mkstemp``'s random name when that one cannot be made),
    is flushed to disk, then renamed over it. A run writes thousands of drafts: the named temp
    file costs about a third less than ``mkstemp``'s.

    Args:
        path: the file.
        data: its new content.
        durable: flush it to disk before the rename. A run that writes many files passes False
            and makes them durable together before it records them anywhere
            (:func:`xl_ar.book.atomic.sync_files`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".~xl-ar-{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_BINARY", 0), 0o600)
    except OSError:  # taken (by a crashed process of the same id: left alone), or the name too long
        fd, name = tempfile.mkstemp(prefix=".~xl-ar-", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def eml_bytes(msg: Message) -> bytes:
    """The message as an ``.eml`` file's bytes (CRLF, 7-bit): ``msg.as_bytes(policy=msg.policy)``."""
    out = io.BytesIO()
    _DraftGenerator(out, mangle_from_=False, policy=msg.policy).flatten(msg)
    return out.getvalue()


#: A header value the draft's policy writes as it is, when it fits on the header's line.
_PLAIN_HEADER = re.compile(r"[!-~]+(?: [!-~]+)*")


def _header_line(name: str, value: Any) -> bytes | None:
    """A draft's header line as its policy folds it (``_DRAFT.fold_binary``), for a value that
    fits on the line as it is: printable ASCII, single spaces between words (None for any
    other). The policy would make a ``Header`` of each and encode it, 21 times a draft."""
    if type(value) is str and len(name) + len(value) + 2 <= _DRAFT.max_line_length and _PLAIN_HEADER.fullmatch(value):
        return f"{name}: {value}{_DRAFT.linesep}".encode("ascii")
    return None


def _folds_as_draft(policy: Any) -> bool:
    """Whether ``policy`` folds a header as the draft's policy does: the draft's own, or the copy
    of it the generator makes for each part of a multipart (it clones the policy with the line
    end it is given), which folds alike while its line end, line length and 7-bit setting are
    the draft's."""
    return policy is _DRAFT or (type(policy) is type(_DRAFT) and policy.linesep == _DRAFT.linesep
                                and policy.max_line_length == _DRAFT.max_line_length
                                and policy.cte_type == _DRAFT.cte_type)


class _DraftGenerator(BytesGenerator):
    """The standard library's generator, except that a text whose line ends are all CRLF already
    (the base64 bodies and attachments of a draft, made so by :func:`_base64_crlf`) is written as
    it is, when CRLF is what the draft's lines end with: the same bytes as splitting it into
    lines and writing each with its line end again (715 writes a draft); and that a draft's
    header which needs no folding or encoding is written as it is (see ``_write_headers``)."""

    def _write_headers(self, msg: Message) -> None:
        if not _folds_as_draft(self.policy):
            return super()._write_headers(msg)  # type: ignore[misc]
        for name, value in msg.raw_items():
            self._fp.write(_header_line(name, value) or self.policy.fold_binary(name, value))
        self.write(self._NL)

    def _write_lines(self, lines: str) -> None:
        if getattr(self, "_NL", None) == "\r\n" and lines.count("\n") == lines.count("\r\n") == lines.count("\r"):
            self.write(lines)
        else:
            super()._write_lines(lines)  # type: ignore[misc]


@dataclass(frozen=True)
class Outgoing:
    """A draft made ready to send.

    Attributes:
        id: the stable id.
        sender: envelope sender (the From address).
        recipients: envelope recipients (To, Cc and Bcc).
        data: the bytes to send (Date set to now; draft and tool headers removed).
        subject: the decoded subject.
        customer_id, items, by, stage: from the tool's headers, for the collection log.
    """

    id: str
    sender: str
    recipients: list[str]
    data: bytes
    subject: str
    customer_id: str
    items: list[str]
    by: str
    stage: str


def outgoing(raw: bytes, now: dt.datetime, where: str = "message") -> Outgoing:
    """Read a draft ``.eml`` and make it ready to send, checking its headers again.

    Args:
        raw: the file's bytes.
        now: the time of sending (the Date header).
        where: the file, for messages.

    Returns:
        The :class:`Outgoing` message.

    Raises:
        UnsafeHeader: no id, no sender, no valid recipient, or an address that is not plain.
    """
    msg = message_from_bytes(raw, policy=POLICY)
    mid = str(msg.get(ID_HEADER, "")).strip()
    if not re.fullmatch(r"xlar-[0-9a-f]{20}", mid):
        raise UnsafeHeader(f"{where} has no {ID_HEADER} header: not a draft made by xl-ar")
    senders = [a.addr_spec for a in getattr(msg["From"], "addresses", ())] if msg["From"] else []
    if len(senders) != 1:
        raise UnsafeHeader(f"{where} must have exactly one From address")
    sender = check_address(senders[0], "From address")
    recipients: list[str] = []
    for h in ("To", "Cc", "Bcc"):
        for hv in msg.get_all(h, ()):
            for a in getattr(hv, "addresses", ()):
                addr = check_address(a.addr_spec, f"{h} address")
                if addr not in recipients:
                    recipients.append(addr)
            if hasattr(hv, "defects") and hv.defects:
                raise UnsafeHeader(f"{where}: the {h} header is malformed")
    if not recipients:
        raise UnsafeHeader(f"{where} has no recipient")
    meta = {h: str(msg.get(h, "")) for h in META_HEADERS}
    try:
        items = [str(x) for x in json.loads(meta["X-XL-AR-Items"] or "[]")]
    except (ValueError, TypeError):
        items = []
    # What goes out is the draft as written, less the tool's headers, dated now: its headers are
    # not folded again (the email package's refolding can drop the quotes or encoding a name
    # needs: "A:B" <a@x> came out as A:B <a@x>, a group, and lost the next address).
    out = message_from_bytes(raw, policy=_DRAFT)
    for h in ("X-Unsent", "Bcc", "Date", *META_HEADERS):
        del out[h]
    out["Date"] = email.utils.format_datetime(now)
    return Outgoing(mid, sender, recipients, out.as_bytes(policy=_DRAFT), str(msg.get("Subject", "")),
                    meta["X-XL-AR-Customer"], items, meta["X-XL-AR-By"], meta["X-XL-AR-Stage"])


def items_header(invoice_nos: Sequence[str]) -> str:
    """The ``X-XL-AR-Items`` value: a JSON list, ASCII only, with a space after each comma (so
    a long list folds into short header lines and survives any unfolding)."""
    return json.dumps(list(map(str, invoice_nos)), ensure_ascii=True, separators=(", ", ": "))


def sms_segments(text: str) -> int:
    """How many SMS parts a text takes (160/153 GSM characters, else 70/67 UCS-2 characters)."""
    if all(ch in _GSM7 or ch in _GSM7_EXT for ch in text):
        n = sum(2 if ch in _GSM7_EXT else 1 for ch in text)
        return 1 if n <= 160 else -(-n // 153)
    n = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    return 1 if n <= 70 else -(-n // 67)


def phone_number(cell: Any) -> str:
    """A phone cell as digits only ("" when it is not a phone number).

    Spaces, hyphens, dots, brackets and a leading ``+`` are dropped (``+86 138-0000-0000``
    becomes ``8613800000000``: SMS gateways take the international number without the plus,
    and a CSV cell starting with ``+`` is a formula trigger); anything else (letters, ``=``)
    makes the cell no phone number, so a formula can never reach the SMS list this way.
    """
    if isinstance(cell, float) and cell == int(cell):
        cell = int(cell)
    s = "" if cell is None else str(cell).strip()
    s = re.sub(r"[\s\-.()（）]", "", s)
    s = s[1:] if s.startswith("+") else s
    return s if re.fullmatch(r"\d{5,20}", s) else ""


def csv_safe(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula.

    Text starting with ``= + - @`` (or a tab or line break) gets a leading ``'``, which Excel
    and LibreOffice show as text (OWASP's advice for CSV injection).
    """
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(_CSV_TRIGGERS) else s
