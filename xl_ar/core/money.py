"""Money: integer minor units inside the core, one rounding rule at the edges.

Every amount that enters the core is converted here, once, to an integer count of the
currency's minor unit (cents, fen, pence). Rounding is half-up (away from zero), applied to
the decimal value the user typed, not to the binary float Excel stores: ``1.005`` typed in a
cell is stored as 1.00499999999999989..., yet an accountant expects ``1.01``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np

#: ISO 4217 minor-unit exponents for the currencies a ledger is likely to hold.
#: A currency not listed here is reported by validation as unknown.
CURRENCY_EXPONENTS: dict[str, int] = {
    "CNY": 2, "HKD": 2, "TWD": 2, "MOP": 2, "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2,
    "AUD": 2, "CAD": 2, "NZD": 2, "SGD": 2, "MYR": 2, "THB": 2, "PHP": 2, "INR": 2,
    "IDR": 2, "AED": 2, "SAR": 2, "RUB": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2,
    "CZK": 2, "HUF": 2, "MXN": 2, "BRL": 2, "ZAR": 2, "TRY": 2,
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0,
    "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}

#: The largest amount (major units) a ledger cell may hold: ten trillion. Minor units of it in
#: int64 leave room for sums of a million such rows, and float64 still holds it to the cent.
MAX_AMOUNT = 1e13

# Scaled values are first rounded to this many decimals to remove binary noise
# (1.005 * 100 = 100.49999999999999) before the half-up step. Six decimals is far
# below any real amount's precision and far above float64 noise for amounts < 1e9.
_NOISE_DECIMALS = 6


def exponent(currency: str) -> int:
    """Return the minor-unit exponent of a currency code.

    Args:
        currency: ISO 4217 code, e.g. ``"CNY"``.

    Returns:
        The number of decimals of the currency's minor unit.

    Raises:
        KeyError: the currency is unknown.
    """
    return CURRENCY_EXPONENTS[currency.upper()]


def to_minor(value: float | int | str | Decimal, exp: int = 2) -> int:
    """Convert one amount to integer minor units, half-up.

    Args:
        value: the amount in major units.
        exp: minor-unit exponent of its currency.

    Returns:
        The amount in minor units.
    """
    if isinstance(value, float):
        value = repr(value)  # shortest repr = the decimal the user typed
    q = Decimal(value).scaleb(exp).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(q)


def to_minor_array(values: np.ndarray, exp: int | np.ndarray = 2) -> np.ndarray:
    """Vectorised :func:`to_minor` for float arrays (NaN is not allowed).

    Args:
        values: amounts in major units.
        exp: one exponent, or one per value.

    Returns:
        int64 array of minor units, rounded half-up away from zero.
    """
    values = np.asarray(values, dtype=np.float64)
    scaled = np.round(np.abs(values) * np.power(10.0, exp), _NOISE_DECIMALS)
    _check_int64(scaled)
    return (np.sign(values) * np.floor(scaled + 0.5)).astype(np.int64)


def round_half_up(values: np.ndarray) -> np.ndarray:
    """Round float minor-unit amounts (e.g. computed interest) to whole minor units, half-up.

    Args:
        values: amounts already in minor units, possibly fractional.

    Returns:
        int64 array.
    """
    values = np.asarray(values, dtype=np.float64)
    scaled = np.round(np.abs(values), _NOISE_DECIMALS)
    _check_int64(scaled)
    return (np.sign(values) * np.floor(scaled + 0.5)).astype(np.int64)


def to_major(minor: int, exp: int = 2) -> Decimal:
    """Convert minor units back to an exact decimal amount in major units.

    Args:
        minor: amount in minor units.
        exp: minor-unit exponent.

    Returns:
        ``Decimal`` with exactly ``exp`` decimals.
    """
    return Decimal(int(minor)).scaleb(-exp)


def to_major_array(minor: np.ndarray, exp: int | np.ndarray = 2) -> np.ndarray:
    """Minor units to float major units for writing into cells (exact to the cent on output).

    A float64 represents every amount below 2**53 minor units closely enough that Excel
    shows it exactly at the currency's decimals.

    Args:
        minor: int64 array of minor units.
        exp: exponent(s).

    Returns:
        float64 array, each value rounded to ``exp`` decimals.
    """
    minor = np.asarray(minor, dtype=np.int64)
    if np.isscalar(exp) or np.ndim(exp) == 0:
        return np.round(minor / 10.0 ** int(exp), int(exp))
    exp = np.asarray(exp)
    out = minor / np.power(10.0, exp)
    for e in np.unique(exp):  # np.round needs a scalar number of decimals
        mask = exp == e
        out[mask] = np.round(out[mask], int(e))
    return out


def convert_half_up(minor: np.ndarray, exp_from: int | np.ndarray, rate: np.ndarray | Decimal, exp_to: int) -> np.ndarray:
    """Convert minor units of one currency to minor units of another at a rate, half-up, per line.

    Each line is converted exactly (rational arithmetic on the decimal rate as typed) and
    rounded once, half-up away from zero, so a converted total is the sum of converted lines.

    Args:
        minor: int64 amounts in minor units of their own currency.
        exp_from: their minor-unit exponent(s).
        rate: units of the target currency per one unit of the source, one or per line
            (``Decimal``; anything else is taken by its shortest decimal repr).
        exp_to: the target currency's exponent.

    Returns:
        int64 amounts in minor units of the target currency.
    """
    minor = np.asarray(minor, dtype=np.int64)
    n = minor.shape[0] if minor.ndim else 1
    rates = [rate] * n if not isinstance(rate, (np.ndarray, list, tuple)) else list(rate)
    exps = [int(exp_from)] * n if np.ndim(exp_from) == 0 else [int(e) for e in np.asarray(exp_from)]
    out = np.zeros(n, np.int64)
    cache: dict[tuple[Decimal, int], tuple[int, int]] = {}
    for i, (a, r, e) in enumerate(zip(np.atleast_1d(minor).tolist(), rates, exps)):
        key = (r if isinstance(r, Decimal) else Decimal(repr(float(r))), e)
        if key not in cache:  # rate as an exact fraction num/den, with the exponents folded in
            sign, digits, power = key[0].as_tuple()
            num = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
            power += exp_to - e
            cache[key] = (num * 10 ** power, 1) if power >= 0 else (num, 10 ** -power)
        num, den = cache[key]
        q = abs(a) * abs(num)
        v = (2 * q + den) // (2 * den)  # half-up on the magnitude
        out[i] = v if (a < 0) == (num < 0) else -v
    return out


def _check_int64(scaled: np.ndarray) -> None:
    """Refuse what int64 minor units cannot hold (a cast would wrap silently to garbage)."""
    if scaled.size and not (np.isfinite(scaled).all() and float(scaled.max()) < 2.0**62):
        raise OverflowError("an amount is too large for minor units in int64")
