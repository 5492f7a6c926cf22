"""Privacy: the content policy (capture switch, redaction, truncation) and secret masking.

Two layers, applied at different places on purpose:

* ``ContentPolicy.apply`` runs on the caller's thread for every value under a content key
  (``semconv.CONTENT_KEYS``) before the span is queued: it drops content when capture is off,
  runs the user's redaction hook and the opt-in built-in redactors, then truncates.
* ``mask_secrets`` runs on the export worker, in the encoder, over every string it writes
  (values, keys, names, messages), whatever the settings, so a key that slipped into *any*
  string (an attribute, an error message, a resource) is masked before it reaches a file or
  the network. Keeping it off the caller's thread keeps the hot path free of regex scans.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring

from noveum_trace._diagnostics.guard import warn_once
from noveum_trace._diagnostics.stats import STATS

# No quote or backslash: it is substituted into JSON text on the worker.
SECRET_MASK = "[REDACTED_SECRET]"

# ---- secret patterns --------------------------------------------------------------------
#
# Each pattern is (head, anchor_on_last, keep, tail, bounded):
# * ``head`` is fixed-width; ``bounded`` adds a left-boundary check on it: not preceded by
#   a word character, *or* preceded by a JSON escape (``\n``, ``\u00e9``). A string may be
#   JSON itself (content such as ``gen_ai.input.messages``), where a key after a newline
#   reads "\nsk-..."; a plain ``\b`` would see "nsk-" and let the key through.
# * ``keep`` (optional) follows the head; head + keep stay in the output ("Bearer [...]").
# * Speed (the worker scans every string it writes): Python's regex engine scans fast only
#   for a pattern that starts with a literal; an alternation or a leading character class is
#   ~15x slower. So the fast path runs one literal-led search per pattern. ``anchor_on_last``
#   leads the search with the head's rarer last character ("-" of "sk-") and checks the rest
#   with a lookbehind. The substitution regex runs only after a hit, and replaces the whole key.
_Spec = tuple[str, bool, "str | None", str, bool]
_SECRET_SPECS: tuple[_Spec, ...] = (
    # OpenAI (sk-..., sk-proj-..., sk-svcacct-...) and Anthropic (sk-ant-api03-...) keys.
    ("sk-", True, None, r"[A-Za-z0-9_-]{20,}", True),
    # "Bearer <token>" (RFC 6750 token68 characters), in headers or pasted into text.
    ("Bearer", False, r"\s+", r"[A-Za-z0-9._~+/-]{16,}=*", True),
    ("bearer", False, r"\s+", r"[A-Za-z0-9._~+/-]{16,}=*", True),
    # AWS access key ids (long-term AKIA, temporary ASIA).
    ("A[KS]IA", False, None, r"[A-Z0-9]{16}(?![A-Za-z0-9])", True),
    # AWS secret keys where they are named: aws_secret_access_key = "...", "AWS_SECRET_KEY": "..."
    (
        "[Aa][Ww][Ss]_",
        True,
        r"(?i:secret_(?:access_)?key)[\"'\\]*\s*[:=]\s*[\"'\\]*",
        r"[A-Za-z0-9/+]{40}",
        False,
    ),
    # GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained.
    ("gh[pousr]_", True, None, r"[A-Za-z0-9]{36,}", True),
    ("github_pat_", True, None, r"[A-Za-z0-9_]{22,}", True),
    # Google API keys and Slack tokens: cheap to add, common in the same apps.
    ("AIza", False, None, r"[0-9A-Za-z_-]{35}", True),
    ("xox[abposr]-", True, None, r"[A-Za-z0-9-]{10,}", True),
)
_MIN_REGISTERED = 8
_MAX_REGISTERED = 256  # each registered value costs one scan per line


def _pattern(spec: _Spec, index: int, for_search: bool) -> str:
    head, anchor_on_last, keep, tail, bounded = spec
    lead = f"{head[-1]}(?<={head})" if for_search and anchor_on_last else head
    if bounded:
        lead += (
            f'(?:(?<![A-Za-z0-9_]{head})|(?<=\\\\[nrtbf"/]{head})|(?<=\\\\u[0-9A-Fa-f]{{4}}{head}))'
        )
    if keep is None:
        return lead + tail
    if for_search:
        return lead + keep + tail
    return f"(?P<keep{index}>{lead}{keep}){tail}"


# The encoder masks each string before quoting it; a string may itself be JSON (content).
_BUILTIN_TEXT_SEARCHES = tuple(
    re.compile(_pattern(spec, i, True)) for i, spec in enumerate(_SECRET_SPECS)
)
# No built-in pattern matches fewer characters than this (Slack's "xoxb-" + 10), so shorter
# strings need no scan unless a shorter secret was registered.
_MIN_BUILTIN_MATCH = 15
_BUILTIN_SUB = "|".join(_pattern(spec, i, False) for i, spec in enumerate(_SECRET_SPECS))
_BUILTIN_TEXT_RE = re.compile(_BUILTIN_SUB)


class _Matchers:
    """The compiled matchers: swapped as a whole (one assignment) when a secret is added."""

    __slots__ = ("literals", "min_length", "text")

    def __init__(self, registered: Sequence[str]) -> None:
        # Longest first, so a registered value that contains another is masked whole.
        ordered = sorted(registered, key=len, reverse=True)
        self.literals = tuple(ordered)
        self.min_length = min([_MIN_BUILTIN_MATCH, *map(len, ordered)])
        self.text = re.compile("|".join([*(re.escape(value) for value in ordered), _BUILTIN_SUB]))


_lock = threading.Lock()
_registered: set[str] = set()
_matchers = _Matchers(())


def _json_escaped(value: str) -> str:
    return encode_basestring(value)[1:-1]


def register_secret(value: str) -> None:
    """Mask every occurrence of ``value`` from now on (e.g. the client's own ``api_key``).

    Values shorter than 8 characters are ignored: masking them would shred ordinary text.
    The JSON-escaped forms are registered too: the encoder masks each string before quoting
    it, and a string that is itself JSON (content such as ``gen_ai.input.messages``) holds
    the value escaped once, or twice when that JSON was nested. Thread-safe.
    """
    global _matchers
    if not isinstance(value, str) or len(value) < _MIN_REGISTERED:
        return
    once = _json_escaped(value)
    # A value the built-in patterns already mask whole (an OpenAI or Anthropic key) needs no
    # literal of its own: every literal adds a scan per masked string.
    forms = {v for v in (value, once, _json_escaped(once)) if not _BUILTIN_TEXT_RE.fullmatch(v)}
    with _lock:
        if forms <= _registered or len(_registered) >= _MAX_REGISTERED:
            return
        _registered.update(forms)
        _matchers = _Matchers(tuple(_registered))


def _replace_text(match: re.Match[str]) -> str:
    group = match.lastgroup  # set only when a pattern with a kept prefix matched
    return SECRET_MASK if group is None else match.group(group) + SECRET_MASK


def mask_secrets(text: str) -> str:
    """Replace API keys, bearer tokens and registered secrets in ``text`` with a fixed mask.

    Returns ``text`` itself when nothing matches. The export worker's encoder calls it for
    every string it writes, so the common case (no secret) is a fast path: too short to hold
    one, then for short text one combined search, for long text a substring test per
    registered secret and one literal-led search per built-in pattern (Python's regex engine
    scans fast only for a pattern that starts with a literal). The slower substitution runs
    only after a hit.
    """
    matchers = _matchers
    size = len(text)
    if size < matchers.min_length:
        return text
    if size < 256:  # short: one combined search beats one search per pattern
        if matchers.text.search(text) is None:
            return text
        return matchers.text.sub(_replace_text, text)
    if any(literal in text for literal in matchers.literals) or any(
        search.search(text) is not None for search in _BUILTIN_TEXT_SEARCHES
    ):
        return matchers.text.sub(_replace_text, text)
    return text


def secrets_generation() -> object:
    """Changes whenever a secret is registered: lets callers drop text masked before it."""
    return _matchers


def min_secret_length() -> int:
    """Strings shorter than this cannot contain a secret that ``mask_secrets`` masks."""
    return _matchers.min_length


# ---- built-in redactors (opt-in by name) ---------------------------------------------

# Lookbehinds pin every match to the start of a run: without them a long run of word
# characters (a base64 blob) would be rescanned from each position, quadratically.
_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# Phone numbers with an international prefix or the usual group separators; bare digit runs
# are left alone (they are far more often ids, counts or amounts).
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]?\d{3,4}(?!\w)"
    r"|(?<![\w+])\+\d{8,14}(?!\w)"
)
_CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IPV4_RE = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w.])"
)
# Candidates only; each is confirmed by ``ipaddress`` so times ("12:30:45") are left alone.
_IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?![\w:]|\.\d)"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = ord(char) - 48
        if index % 2:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group())
    return "[REDACTED_CARD]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group()


def _ipv6(match: re.Match[str]) -> str:
    text = match.group()
    if not any(c not in ":." for c in text):
        return text
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return text
    return "[REDACTED_IP]"


def redact_email(text: str) -> str:
    return _EMAIL_RE.sub("[REDACTED_EMAIL]", text)


def redact_phone(text: str) -> str:
    return _PHONE_RE.sub("[REDACTED_PHONE]", text)


def redact_credit_card(text: str) -> str:
    """Digit runs of 13-19 (spaces or dashes allowed) that pass the Luhn check."""
    return _CARD_RE.sub(_card, text)


def redact_ip(text: str) -> str:
    """IPv4 dotted quads and IPv6 addresses (validated, so clock times are kept)."""
    return _IPV6_RE.sub(_ipv6, _IPV4_RE.sub("[REDACTED_IP]", text))


# Card before phone: a card number would otherwise be half-eaten as a phone number.
BUILTIN_REDACTORS: dict[str, Callable[[str], str]] = {
    "email": redact_email,
    "credit_card": redact_credit_card,
    "phone": redact_phone,
    "ip": redact_ip,
}

Redactor = Callable[[str], str]
RedactSpec = Redactor | str | Sequence[str | Redactor] | None


def _resolve_redactors(redact: RedactSpec) -> tuple[Redactor, ...]:
    if redact is None:
        return ()
    items: Sequence[str | Redactor] = (
        [redact] if isinstance(redact, str) or callable(redact) else redact
    )
    found: list[Redactor] = []
    for item in items:
        if callable(item):
            found.append(item)
        elif isinstance(item, str) and item.strip().lower() in BUILTIN_REDACTORS:
            found.append(BUILTIN_REDACTORS[item.strip().lower()])
        else:
            raise ValueError(
                f"noveum_trace: option 'redact' takes a callable or built-in redactor names "
                f"({', '.join(sorted(BUILTIN_REDACTORS))}); got {item!r}"
            )
    # Built-ins run in their fixed order (cards before phones), user hooks first as given.
    builtin_order = list(BUILTIN_REDACTORS.values())
    hooks = [f for f in found if f not in builtin_order]
    builtins = [f for f in builtin_order if f in found]
    return (*hooks, *builtins)


def _note_failure(exc: BaseException) -> None:
    STATS.incr("redaction_failures")
    warn_once(
        "privacy.redact",
        "noveum_trace: the redaction hook raised %s: %s; the content was dropped and the span "
        "kept. Further failures are only counted (get_stats()['redaction_failures']).",
        type(exc).__name__,
        exc,
    )


class ContentPolicy:
    """What happens to a content value before it is recorded.

    ``redact`` is a callable ``str -> str``, a built-in name (``"email"``, ``"phone"``,
    ``"credit_card"``, ``"ip"``), or a sequence mixing both. Raises ``ValueError`` naming
    ``redact`` for an unknown name.
    """

    __slots__ = ("capture", "max_length", "redactors")

    def __init__(self, capture: bool, redact: RedactSpec, max_length: int) -> None:
        self.capture = capture
        self.redactors = _resolve_redactors(redact)
        self.max_length = max_length

    def apply(self, value: str) -> tuple[str | None, bool]:
        """``(value to record, or None to drop it; was it truncated?)``."""
        if not self.capture:
            return None, False
        if self.redactors:
            try:
                for redactor in self.redactors:
                    result = redactor(value)
                    value = result if isinstance(result, str) else str(result)
            except Exception as exc:
                # A failing hook must not leak the unredacted text: drop it, keep the span.
                _note_failure(exc)
                return None, False
        if len(value) <= self.max_length:
            return value, False
        # Mask before cutting: a key cut in half would no longer match on the worker.
        return mask_secrets(value)[: self.max_length], True
