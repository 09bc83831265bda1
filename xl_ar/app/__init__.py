"""The runs every entry point calls (CLI, ribbon, demo): read → validate → compute → write.

- ``refresh``: check and refresh a ledger workbook (``load``, ``run_refresh``, ``Report``);
- ``reminders``: reminder drafts, the SMS list and the Outbox sheet;
- ``statements``: reconciliation statements per customer;
- ``send``: the Outbox over SMTP;
- ``confirmations``: returned statements imported into the ledger;
- ``plans``: milestone invoices and instalment promises appended to the ledger;
- ``demo``: the sample ledger and all of the above on it.

Every run takes a progress callback (``xl_ar.core.progress.Progress``) and returns a report;
none prints. Modules are imported on use, so the command starts fast.
"""
