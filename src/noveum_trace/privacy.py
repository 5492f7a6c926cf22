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

import base64
import ipaddress
import re
import threading
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from typing import NamedTuple

from noveum_trace._diagnostics.guard import warn_once
from noveum_trace._diagnostics.stats import STATS

# No quote or backslash: it is substituted into JSON text on the worker.
SECRET_MASK = "[REDACTED_SECRET]"

# ---- secret patterns --------------------------------------------------------------------
#
# Each pattern (``_Spec``) is a fixed-width ``head``, an optional ``keep``, and a ``tail``:
# * ``bounded`` adds a left-boundary check on the head: not preceded by a word character,
#   *or* preceded by a JSON escape (``\n``, ``\u00e9``). A string may be JSON itself
#   (content such as ``gen_ai.input.messages``), where a key after a newline reads
#   "\nsk-..."; a plain ``\b`` would see "nsk-" and let the key through.
# * ``keep`` (optional) follows the head; head + keep stay in the output ("Bearer [...]").
# * ``replace`` names how a match is replaced (``_replace_text``): the whole match, the part
#   after ``keep``, only after a check (Basic credentials must decode to "user:password"),
#   or two parts (an AWS key id and the secret key beside it, in either order).
# * ``folded``: the head is matched in any case (auth schemes, "SecretAccessKey"); it is
#   written in lower case, and its anchors are looked up in the lowercased text.
# * Speed (the worker scans every string it writes): Python's regex engine scans fast only
#   for a pattern that starts with a literal; an alternation or a leading character class
#   (``(?i:bearer)`` is one) is 15-30x slower. So the fast path runs one search per
#   ``anchors`` literal, a suffix of the head chosen because it is rare in ordinary text
#   ("-" of "sk-", "J" of "eyJ", "IA" of "AKIA"), which checks the rest of the head with a
#   lookbehind; a substring test for the anchor comes first (for one character a memchr).
#   Patterns sharing an anchor share its search. Folded patterns are searched in
#   ``text.lower()`` (one pass over the string, cheaper than a substring test per case,
#   and no mixed case escapes it) with the same literal-led searches: every tail is closed
#   under lowercasing ASCII, so the lowered search finds what a case-insensitive one would
#   (a ``(?i)`` search is not literal-led, so 5x slower). The
#   substitution regex (one alternation of every pattern) runs only after a hit.


class _Spec(NamedTuple):
    head: str
    anchors: tuple[str, ...]
    tail: str
    keep: str | None = None
    bounded: bool = True
    replace: str = "all"
    folded: bool = False


def _boundary_text(head: str) -> str:
    return f'(?:(?<![A-Za-z0-9_]{head})|(?<=\\\\[nrtbf"/]{head})|(?<=\\\\u[0-9A-Fa-f]{{4}}{head}))'


_TOKEN68 = r"[A-Za-z0-9._~+/-]{16,}=*"  # RFC 6750 bearer token characters
_AWS_SECRET = r"(?:(?<![A-Za-z0-9/+=])|(?<=\\[nrtbf\"]))[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
_AWS_KEY_ID = r"[A-Z0-9]{16}(?![A-Za-z0-9])"
# Between a label and its value: quotes (escaped too, in JSON content), then ":" or "=".
_NAMED = r"[\"'\\]*\s*[:=]\s*[\"'\\]*"
_SECRET_SPECS: tuple[_Spec, ...] = (
    # OpenAI (sk-..., sk-proj-..., sk-svcacct-...) and Anthropic (sk-ant-api03-...) keys.
    _Spec("sk-", ("-",), r"[A-Za-z0-9_-]{20,}"),
    # "Bearer <token>" in headers or pasted into text; auth schemes are case-insensitive.
    _Spec("bearer", ("bearer",), _TOKEN68, keep=r"\s+", replace="keep", folded=True),
    # "Basic <base64 of user:password>" (padded, so a multiple of 4), masked only when it
    # decodes to that.
    _Spec(
        "basic",
        ("basic",),
        r"(?:[A-Za-z0-9+/]{4}){2,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![A-Za-z0-9+/=])",
        keep=r"\s+",
        replace="basic",
        folded=True,
    ),
    # JSON Web Tokens: base64url parts, the first (and usually the second) a JSON object.
    _Spec("eyJ", ("J",), r"[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){2,4}"),
    # AWS access key ids (long-term AKIA, temporary ASIA); with the secret access key when
    # it is within 80 characters of it, after (CSV, "id:secret", STS JSON) or before
    # ("secret:id", a reordered credentials dict), both masked. The pair before it holds a
    # key id too, so the key id's anchor finds it; it needs no search of its own.
    _Spec(
        "A[KS]IA", ("IA",), _AWS_KEY_ID + r"(?P<gap{i}>[\s\S]{0,80}?)" + _AWS_SECRET, replace="pair"
    ),
    _Spec(
        _AWS_SECRET,
        (),
        r"(?P<gap{i}>[\s\S]{0,80}?)A[KS]IA" + _boundary_text("A[KS]IA") + _AWS_KEY_ID,
        bounded=False,
        replace="pair",
    ),
    _Spec("A[KS]IA", ("IA",), _AWS_KEY_ID),
    # AWS secret keys where they are named, in any case: aws_secret_access_key = "...",
    # "SecretAccessKey": "...", AWS_SECRET_KEY=..., --aws-secret-access-key ...
    *(
        _Spec(
            head,
            ("key",),
            r"[A-Za-z0-9/+]{40}",
            keep=_NAMED,
            bounded=False,
            replace="keep",
            folded=True,
        )
        for head in ("secret[_ -]access[_ -]key", "secretaccesskey", "aws[_ -]secret[_ -]key")
    ),
    # GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained.
    _Spec("gh[pousr]_", ("_",), r"[A-Za-z0-9]{36,}"),
    _Spec("github_pat_", ("_",), r"[A-Za-z0-9_]{22,}"),
    # Google API keys and Slack tokens: cheap to add, common in the same apps.
    _Spec("AIza", ("AIza",), r"[0-9A-Za-z_-]{35}"),
    _Spec("xox[abposr]-", ("-",), r"[A-Za-z0-9-]{10,}"),
)
_MIN_REGISTERED = 8
_MAX_REGISTERED = 256  # each registered value costs one scan per masked string


def _after_head(spec: _Spec, index: int, head: str) -> str:
    """The pattern from the end of the head on (the boundary looks back over the head)."""
    bound = _boundary_text(head) if spec.bounded else ""
    return bound + (spec.keep or "") + spec.tail.replace("{i}", str(index))


def _search(anchor: str, folded: bool) -> re.Pattern[str]:
    """One literal-led search for every pattern whose head ends with ``anchor`` (for folded
    patterns: run on the lowercased text, where the head is its lower-case self)."""
    rest = [
        f"(?<={spec.head}){_after_head(spec, i, spec.head)}"
        for i, spec in enumerate(_SECRET_SPECS)
        if anchor in spec.anchors and spec.folded == folded
    ]
    return re.compile(re.escape(anchor) + "(?:" + "|".join(rest) + ")")


def _substitution(spec: _Spec, index: int) -> str:
    head = f"(?i:{spec.head})" if spec.folded else spec.head
    bound = _boundary_text(head) if spec.bounded else ""
    tail = spec.tail.replace("{i}", str(index))
    if spec.keep is None:
        return f"(?P<s{index}>{head}{bound}{tail})"
    return f"(?P<s{index}>(?P<k{index}>{head}{bound}{spec.keep}){tail})"


def _searches(folded: bool) -> tuple[tuple[str, Callable[[str], re.Match[str] | None]], ...]:
    """(anchor, its search) for the patterns matched as written, or for the folded ones."""
    anchors = dict.fromkeys(a for s in _SECRET_SPECS if s.folded == folded for a in s.anchors)
    return tuple((anchor, _search(anchor, folded).search) for anchor in anchors)


# The encoder masks each string before quoting it, and a string may itself be JSON (content).
_BUILTIN_TEXT_SEARCHES = _searches(folded=False)
_FOLDED_TEXT_SEARCHES = _searches(folded=True)
# No built-in pattern matches fewer characters than this ("Basic " and 8 base64 characters),
# so shorter strings need no scan unless a shorter secret was registered.
_MIN_BUILTIN_MATCH = 14
_BUILTIN_SUB = "|".join(_substitution(spec, i) for i, spec in enumerate(_SECRET_SPECS))
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


def _basic_credentials(encoded: str) -> bool:
    """Does ``encoded`` decode to "user:password" text (so "Basic English" stays)?"""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return ":" in decoded and decoded.isprintable()


def _replace_text(match: re.Match[str]) -> str:
    group = match.lastgroup  # "s<index>" of the pattern that matched; None: a registered one
    if group is None:
        return SECRET_MASK
    index = int(group[1:])
    kind = _SECRET_SPECS[index].replace
    if kind == "all":
        return SECRET_MASK
    if kind == "pair":  # the key id, what stands between (masked on its own), the secret key
        return SECRET_MASK + mask_secrets(match.group(f"gap{index}")) + SECRET_MASK
    kept = match.group(f"k{index}")
    if kind == "basic" and not _basic_credentials(match.group()[len(kept) :]):
        return match.group()
    return kept + SECRET_MASK


def mask_secrets(text: str) -> str:
    """Replace API keys, bearer tokens and registered secrets in ``text`` with a fixed mask.

    Returns ``text`` itself when nothing matches. The export worker's encoder calls it for
    every string it writes, so the common case (no secret) is a fast path: too short to hold
    one; else a substring test per registered secret, and per anchor a substring test (a
    single-character one is a ``memchr``) before its literal-led search, in the text or, for
    the case-insensitive patterns, in the text lowercased once. The slower
    substitution runs only after a hit. ``benchmarks/secret_masking.py`` measures it.
    """
    matchers = _matchers
    if len(text) < matchers.min_length:
        return text
    for literal in matchers.literals:
        if literal in text:
            break
    else:
        for anchor, search in _BUILTIN_TEXT_SEARCHES:
            if anchor in text and search(text) is not None:
                break
        else:
            # One pass for the patterns whose head has any case. Outside ASCII, lowering
            # can differ from the regex's case folding (the long s, U+017F, matches (?i)s
            # but lowers to itself): only in text built to look odd, never in a real header.
            lowered = text.lower()
            for anchor, search in _FOLDED_TEXT_SEARCHES:
                if anchor in lowered and search(lowered) is not None:
                    break
            else:
                return text
    masked = matchers.text.sub(_replace_text, text)
    return text if masked == text else masked  # "Basic English" is no credential: no copy


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
