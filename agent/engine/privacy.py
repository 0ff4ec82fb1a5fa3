"""Privacy enforcement: no KPI value may carry personal or network-identifying data.

The seed (FAQ A3) promises that no MAC or IP address, user name, host name, custom
configuration name or other user-provided string is ever collected or sent.  Policies are
written to respect that, but the engine does not trust them: every KPI value is checked
here before it enters a report, and a value that fails is dropped (the KPI is left out of the
report, with a ``PRIVACY_DROP`` event saying which rule it broke; see ``agent.engine.kpi``).

Two kinds of checks run over every string in the value, object keys included:

1. **Patterns** for data that identifies a network or a person whatever its source:
   IPv4 and IPv6 addresses, MAC addresses (colon, dash and Cisco dotted forms), e-mail
   addresses, URLs, fully qualified host names, and free text (four or more words).
2. **Operator text**: strings the engine actually collected that an operator typed.  The
   rule is the policy's: every ``text`` column is operator text unless the policy declares
   it ``"vocabulary": true`` (model or vendor vocabulary: enumerations, identities, product
   IDs, versions, serial numbers).  So host names, descriptions, contacts, locations and the
   names of user-defined objects are operator text by default, and a policy must say so
   explicitly for anything else.  A KPI string that equals such a value, or contains one of
   four characters or more, is a leak (case-insensitive).  Collected values that identify
   nothing on their own are not held against KPIs: numbers and the generic state words
   (``true``, ``up``, ``enabled``, ...), which a KPI may well report as a flag.

Known trade-offs: a dotted four-number version string (``1.2.3.4``) looks like an IPv4
address and is refused; a KPI should report versions as the model gives them or as numbers.
Numbers are taken as counts and flags: an address encoded as an integer, or a plain host
name that was never collected as operator text, is beyond what a check can recognise, which
is why the policy (signed, and readable by the operator) stays the first line of defence.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from agent.engine.policy import Policy
from agent.engine.store import Store, quote

# Operator strings shorter than this only leak by equality, not by being contained.
MIN_CONTAINED_LENGTH = 4
# Beyond this length the substrings of a KPI string are not enumerated; the operator
# strings are searched in it instead.
_SUBSTRING_SCAN_LIMIT = 128
FREE_TEXT_WORDS = 4

# Values that carry no identity even when they come from an operator-text column.
GENERIC_WORDS = frozenset(
    {
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "up",
        "down",
        "enabled",
        "disabled",
        "enable",
        "disable",
        "none",
        "null",
        "unknown",
        "default",
        "n/a",
    }
)

_IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_IPV6_CANDIDATE = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
_MAC = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])"
    r"|(?<![0-9A-Fa-f.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![0-9A-Fa-f.])"
    # The bare form (aabbccddeeff) is not matched: twelve hex digits are also what many
    # serial numbers look like (EC2045000123), and serials are allowed in a report.
)
# an IPv4 address written with dashes (10-1-1-1), as in generated interface or host names
_IPV4_DASHED = re.compile(r"(?<!\d)(?<!\d-)(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})(?!-?\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://|\bwww\.", re.IGNORECASE)
_FQDN = re.compile(
    r"(?<![\w.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w-])"
)
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class Violation:
    """Why a value may not leave the device: the rule it broke and the offending string.

    ``str()`` gives the rule only: the offending text must not travel on into event
    histories or reports.
    """

    rule: str
    text: str

    def __str__(self) -> str:
        return self.rule


def pattern_violation(text: str) -> Violation | None:
    """The first identifying pattern found in ``text``, if any."""
    for pattern in (_IPV4, _IPV4_DASHED):
        for match in pattern.finditer(text):
            if all(int(part) <= 255 for part in match.groups()):
                return Violation("IPv4 address", text)
    for match in _IPV6_CANDIDATE.finditer(text):
        candidate = match.group(0).strip(".:") if match.group(0) != "::" else "::"
        for form in (match.group(0), candidate):
            try:
                ipaddress.IPv6Address(form)
            except ValueError:
                continue
            return Violation("IPv6 address", text)
    if _MAC.search(text):
        return Violation("MAC address", text)
    if _EMAIL.search(text):
        return Violation("e-mail address", text)
    if _URL.search(text):
        return Violation("URL", text)
    if _FQDN.search(text):
        return Violation("host name", text)
    if len(text.split()) >= FREE_TEXT_WORDS:
        return Violation("free text", text)
    return None


def carries_identity(value: str) -> bool:
    """Whether a collected operator-text value could identify anything on its own."""
    folded = value.strip().casefold()
    return bool(folded) and folded not in GENERIC_WORDS and not _NUMBER.match(folded)


class PrivacyGuard:
    """Checks KPI values against the patterns and the operator text seen in the store."""

    def __init__(self, operator_text: Iterable[str] = ()) -> None:
        self._exact: set[str] = set()
        for value in operator_text:
            if carries_identity(value):
                self._exact.add(value.strip().casefold())
        self._contained = sorted(
            (v for v in self._exact if len(v) >= MIN_CONTAINED_LENGTH), key=len, reverse=True
        )
        self._lengths = sorted({len(v) for v in self._contained})

    @property
    def operator_text_count(self) -> int:
        return len(self._exact)

    @classmethod
    def from_store(cls, policy: Policy, store: Store) -> PrivacyGuard:
        """Collect the operator text the policy's non-vocabulary text columns hold."""
        values: list[str] = []
        for table in policy.tables():
            columns = [c.name for c in table.columns if c.type == "text" and not c.vocabulary]
            if not columns:
                continue
            selects = " UNION ".join(
                f"SELECT DISTINCT {quote(c)} FROM {quote(table.name)} WHERE {quote(c)} IS NOT NULL"
                for c in columns
            )
            values.extend(str(row[0]) for row in store.query(selects))
        return cls(values)

    def operator_violation(self, text: str) -> Violation | None:
        """Whether ``text`` is or contains operator-typed text the engine collected."""
        folded = text.casefold()
        if folded in self._exact:
            return Violation("operator text", text)
        if not self._contained:
            return None
        if len(folded) <= _SUBSTRING_SCAN_LIMIT:
            for length in self._lengths:
                if length > len(folded):
                    break
                for start in range(len(folded) - length + 1):
                    if folded[start : start + length] in self._exact:
                        return Violation("operator text", text)
            return None
        for value in self._contained:
            if value in folded:
                return Violation("operator text", text)
        return None

    def check(self, value: object) -> Violation | None:
        """The first violation in a parsed JSON value (strings and keys), or None."""
        for text in _strings(value):
            found = pattern_violation(text) or self.operator_violation(text)
            if found is not None:
                return found
        return None


def _strings(value: object) -> Iterator[str]:
    """Every string in a parsed JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
