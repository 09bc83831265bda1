"""The ledger's tables, declared once: each field's header, core name, kind and whether required.

Adapters map a workbook's headers (English or Chinese, see ``xl_ar.book.headers``) onto these
fields; validation converts raw cell values to the kinds declared here; the core trusts the
result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "date", "money", "int", "number", "bool", "currency"]
#: The kinds read as numbers (float64, NaN for a blank).
NUMBER_KINDS = frozenset({"money", "number", "int"})


@dataclass(frozen=True)
class Field:
    """One column of a ledger table.

    Attributes:
        name: the core's column name (snake_case).
        header: the English header a new workbook gets.
        kind: how raw cell values are converted.
        required: a missing column is an error; a blank cell in a required column is one too.
        choices: allowed values (validated case-insensitively), if any.
        in_new_book: a new workbook gets the column; False for a column read only when the
            user keeps one (e.g. delivery notes).
    """

    name: str
    header: str
    kind: Kind = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    in_new_book: bool = True


@dataclass(frozen=True)
class Table:
    """A ledger sheet: its default sheet name and fields in their default order."""

    sheet: str
    fields: tuple[Field, ...]
    key: str | None = None  # the field whose values must be unique

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


SETTINGS = Table(
    "Settings",
    (Field("key", "Key", required=True), Field("value", "Value")),
    key="key",
)

CUSTOMERS = Table(
    "Customers",
    (
        Field("customer_id", "CustomerID", required=True),
        Field("name", "Name"),
        Field("class", "Class", choices=("A", "B", "C")),
        Field("contact", "Contact"),
        Field("email", "Email"),
        Field("phone", "Phone"),
        Field("terms_days", "TermsDays", "int"),
        Field("credit_limit", "CreditLimit", "money"),
        Field("owner", "Owner"),
        Field("language", "Language", choices=("zh", "en")),
        # Credit review inputs (all optional): manual values win over computed ones.
        Field("last_review", "LastReview", "date"),
        Field("manual_limit", "ManualLimit", "money"),
        Field("manual_grade", "ManualGrade", choices=("A", "B", "C", "D")),
        Field("manual_hold", "ManualHold"),
        Field("negative_news", "NegativeNews", "bool"),
        # Late-fee terms of this customer (blank = the Settings sheet's).
        Field("late_fee_policy", "LateFeePolicy"),
        Field("late_fee_rate", "LateFeeRate", "number"),
        Field("late_fee_grace_days", "LateFeeGraceDays", "int"),
        Field("late_fee_cap", "LateFeeCap", "number"),
    ),
    key="customer_id",
)

INVOICES = Table(
    "Invoices",
    (
        Field("invoice_no", "InvoiceNo", required=True),
        Field("customer_id", "CustomerID", required=True),
        Field("invoice_date", "InvoiceDate", "date", required=True),
        Field("due_date", "DueDate", "date"),
        Field("amount", "Amount", "money", required=True),
        Field("currency", "Currency", "currency"),
        Field("contract_no", "ContractNo"),
        Field("description", "Description"),
        Field("disputed", "Disputed", "bool"),
        Field("dispute_reason", "DisputeReason"),
        # Delivery evidence (送货单/签收单 number) if the user keeps one: the legal checklist reads it.
        Field("delivery_note", "DeliveryNote", in_new_book=False),
        # A credit note (negative amount) may name the invoice it corrects: it applies there first.
        Field("applies_to", "AppliesTo", in_new_book=False),
    ),
    key="invoice_no",
)

RECEIPTS = Table(
    "Receipts",
    (
        Field("receipt_no", "ReceiptNo", required=True),
        Field("customer_id", "CustomerID", required=True),
        Field("receipt_date", "ReceiptDate", "date", required=True),
        Field("amount", "Amount", "money", required=True),
        Field("currency", "Currency", "currency"),
        Field("invoice_no", "InvoiceNo"),
    ),
    key="receipt_no",
)

ACTIVITIES = Table(
    "Activities",
    (
        Field("date", "Date", "date", required=True),
        Field("customer_id", "CustomerID", required=True),
        Field("invoice_no", "InvoiceNo"),
        Field("channel", "Channel", choices=("phone", "email", "sms", "wechat", "visit", "letter", "statement", "legal", "other")),
        Field("by", "By"),
        Field("note", "Note"),
        Field("promise_date", "PromiseDate", "date"),
        Field("promise_amount", "PromiseAmount", "money"),
        Field("outcome", "Outcome"),
        # The amount of a write-off (Outcome 核销坏账/write-off); blank = what is open that day.
        Field("amount", "Amount", "money"),
    ),
)

ORDERS = Table(
    "Orders",
    (
        Field("order_no", "OrderNo", required=True),
        Field("customer_id", "CustomerID", required=True),
        Field("order_date", "OrderDate", "date"),
        Field("amount", "Amount", "money", required=True),
        Field("currency", "Currency", "currency"),
        Field("status", "Status"),
    ),
    key="order_no",
)

#: Collection-stage rules (one row per rule; see ``xl_ar.core.stages``).
STAGES = Table(
    "Stages",
    (
        Field("stage", "Stage", required=True),
        Field("from_day", "FromDay", "int", required=True),
        Field("to_day", "ToDay", "int"),
        Field("class", "Class"),
        Field("min_amount", "MinAmount", "money"),
        Field("action", "Action"),
        Field("channel", "Channel"),
        Field("owner_role", "OwnerRole"),
        Field("follow_up_days", "FollowUpDays", "int"),
        Field("review", "Review", "bool"),
    ),
)

RATES = Table(
    "Rates",
    (
        Field("series", "Series", required=True),
        Field("effective_from", "EffectiveFrom", "date", required=True),
        Field("rate_percent", "RatePercent", "number", required=True),
        Field("source", "Source"),
    ),
)

#: Exchange rates to the base currency: units of the base currency per one unit of Currency
#: (see ``xl_ar.core.fx``).
FX_RATES = Table(
    "FxRates",
    (
        Field("date", "Date", "date", required=True),
        Field("currency", "Currency", "currency", required=True),
        Field("rate", "Rate", "number", required=True),
        Field("source", "Source"),
    ),
)

#: The user-kept tables, in the order a new workbook shows them.
LEDGER_TABLES: tuple[Table, ...] = (SETTINGS, CUSTOMERS, INVOICES, RECEIPTS, ACTIVITIES)
OPTIONAL_TABLES: tuple[Table, ...] = (STAGES, ORDERS, RATES, FX_RATES)
TABLES: dict[str, Table] = {t.sheet: t for t in LEDGER_TABLES + OPTIONAL_TABLES}
