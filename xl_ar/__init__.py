"""xl-ar: receivables collection for ledgers kept in Excel."""

__version__ = "0.1.0"
