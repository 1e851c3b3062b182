"""Firmware versions: parsed once into two sortable int64 keys, so rules compare numbers.

Parsing strings is the expensive part of evaluating a fleet (FINDINGS.md: 0.95 s of 1.3 s for
a million devices), so ``readiness.frames`` parses each *distinct* firmware string once when
it builds the frame, and ``readiness.scoring`` only ever compares the integer keys.

Ordering is PEP 440's (``packaging.version``): ``2.1.0b3 < 2.1.0rc1 < 2.1.0 < 2.1.0.post1``,
``10.0 > 9.9``, ``3.2 == 3.2.0``; ``"2.1.0-b3"`` and a leading ``v`` are accepted. Two
deliberate limits, each reported in words instead of guessed at:

- a string that is not a version at all (``"abc"``, ``"3.2.1-build45"``) is *not a version*;
- a version outside the key's range (more than four non-zero release numbers, a number above
  1,048,575, an epoch, pre/post/dev numbers above 65,535/4,094/4,094) is *not comparable*.

A local label (``3.2.1+oem7``) is ignored when ordering: ``3.2.1+oem7 == 3.2.1``.

The key: ``hi = r0 << 40 | r1 << 20 | r2`` and
``lo = r3 << 43 | phase << 40 | pre_n << 24 | post << 12 | dev`` where phase is
0 dev-release, 1 a, 2 b, 3 rc, 4 final; post is 0 when absent (else post + 1) and dev is
4095 when absent, mirroring how PEP 440 sorts the missing parts. ``(hi, lo)`` compares like
the version, lexicographically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from packaging.version import InvalidVersion, Version

MISSING_KEY = -1  # hi and lo of a missing or unusable version: never a valid key (keys are >= 0)

_R_MAX = (1 << 20) - 1
_PRE_MAX = (1 << 16) - 1
_POST_MAX = 4094
_DEV_MAX = 4094
_PHASE = {"a": 1, "b": 2, "rc": 3}


@dataclass(frozen=True)
class VersionKey:
    """A parsed version as its two sortable integers."""

    hi: int
    lo: int

    def as_tuple(self) -> tuple[int, int]:
        return self.hi, self.lo


class VersionProblem(ValueError):
    """Why a string cannot be used as a version, in words."""


def parse_version(raw: str) -> VersionKey:
    """Parse ``raw`` into its key; raise VersionProblem saying why it cannot be ordered."""
    text = raw.strip()
    try:
        v = Version(text)
    except InvalidVersion:
        raise VersionProblem(f"'{raw}' is not a version") from None
    if v.epoch:
        raise VersionProblem(f"'{raw}' has an epoch, which is not comparable here")
    release = list(v.release)
    while len(release) > 4 and release[-1] == 0:
        release.pop()
    if len(release) > 4:
        raise VersionProblem(f"'{raw}' has more than four release numbers")
    release += [0] * (4 - len(release))
    if any(r > _R_MAX for r in release):
        raise VersionProblem(f"'{raw}' has a number above {_R_MAX}")
    if v.pre is not None:
        phase, pre_n = _PHASE[v.pre[0]], v.pre[1]
    elif v.dev is not None and v.post is None:
        phase, pre_n = 0, 0  # 1.0.dev1 sorts before 1.0a1
    else:
        phase, pre_n = 4, 0
    post = 0 if v.post is None else v.post + 1
    dev = 4095 if v.dev is None else v.dev
    if pre_n > _PRE_MAX or (v.post or 0) > _POST_MAX or (v.dev or 0) > _DEV_MAX:
        raise VersionProblem(f"'{raw}' has a pre/post/dev number out of range")
    hi = release[0] << 40 | release[1] << 20 | release[2]
    lo = release[3] << 43 | phase << 40 | pre_n << 24 | post << 12 | dev
    return VersionKey(hi, lo)


def parse_version_series(
    values: pd.Series | pd.Categorical,
) -> tuple[pd.Categorical, np.ndarray, np.ndarray]:
    """Parse a column of version strings: (raw as a categorical, hi keys, lo keys).

    Each distinct string is parsed once (a fleet has a few hundred distinct firmware strings
    for a hundred thousand devices). Empty strings and nulls become missing (NaN category,
    keys MISSING_KEY); strings that are not usable versions keep their raw text with keys
    MISSING_KEY, so a reason can quote them.
    """
    raw = values if isinstance(values, pd.Categorical) else text_categorical(values)
    cat_hi: np.ndarray = np.full(len(raw.categories) + 1, MISSING_KEY, dtype=np.int64)
    cat_lo: np.ndarray = np.full(len(raw.categories) + 1, MISSING_KEY, dtype=np.int64)
    for i, text in enumerate(raw.categories):
        try:
            key = parse_version(str(text))
        except VersionProblem:
            continue
        cat_hi[i], cat_lo[i] = key.hi, key.lo
    codes = raw.codes  # -1 (missing) indexes the spare MISSING_KEY slot at the end
    return raw, cat_hi[codes], cat_lo[codes]


def text_categorical(
    values: pd.Series | np.ndarray, categories: list[str] | None = None
) -> pd.Categorical:
    """Strings (stripped; blank or null = missing) as a categorical, touching each distinct
    value once: factorize in C, clean the few uniques in Python, remap the codes.

    With ``categories`` the categories are fixed (enum choices) and other values are missing.
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    cleaned = [str(u).strip() for u in uniques]
    if categories is None:
        categories = sorted({c for c in cleaned if c})
    position = {c: i for i, c in enumerate(categories)}
    lut = np.array([position.get(c, -1) for c in cleaned] + [-1], dtype=np.int64)
    return pd.Categorical.from_codes(lut[codes], categories=categories, validate=False)
