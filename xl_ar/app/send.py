"""The send run: the Outbox's e-mail drafts over SMTP, each at most once, logged in Activities.

The run itself (plan under the journal's lock, deliver, log and save) is
``xl_ar.documents.send.send_outbox``: sending is the documents layer's own work and needs no
other run. Entry points call it through here, as they call every other run.
"""

from __future__ import annotations

from xl_ar.documents.send import SendError, SendReport, send_outbox

__all__ = ["SendError", "SendReport", "send_outbox"]
