"""Privacy: the capture switch, redaction (hook and built-ins), truncation, secret masking.

Unit tests drive ``privacy`` directly; the rest go through ``noveum_trace.init`` and scan
what lands in the trace files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import noveum_trace
from noveum_trace import privacy, semconv
from noveum_trace._diagnostics.stats import STATS
from noveum_trace.instrumentation import trace_llm_call
from noveum_trace.privacy import (
    SECRET_MASK,
    ContentPolicy,
    mask_secrets,
    register_secret,
)

from .conftest import Traces

OPENAI_KEY = "sk-proj-Abc123def456GHI789jkl012MNO345pqr"
ANTHROPIC_KEY = "sk-ant-api03-Zyx987Wvu654Tsr321Qpo000-abcDEF_ghi"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
AWS_ID = "AKIAIOSFODNN7EXAMPLE"
_PROSE = "Summarise the quarterly report, listing revenue by region and the top risks. " * 4
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _masked_json(line: bytes) -> bytes:
    """A JSON document masked as the encoder masks a string that holds JSON (content)."""
    return mask_secrets(line.decode()).encode()


def _output(traces: Traces) -> bytes:
    """Every byte written under the trace directory."""
    noveum_trace.flush()
    files = [path for path in traces.directory.rglob("*") if path.is_file()]
    assert files, "no trace file was written"
    return b"".join(path.read_bytes() for path in files)


# ---- secret masking (always on) --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"my key is {OPENAI_KEY}.", OPENAI_KEY),
        (f"key={ANTHROPIC_KEY}", ANTHROPIC_KEY),
        ("old style sk-abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJhbGci"),
        ("AWS id AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
        ("temporary ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
        (
            'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
            "wJalrXUtnFEMI/K7MDENG",
        ),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "bPxRfiCY"),
        ("token ghp_" + "a1B2c3D4e5" * 4, "a1B2c3D4e5"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "11ABCDEFG"),
        (f"line one\n{OPENAI_KEY}", OPENAI_KEY),
        # JWTs (three base64url parts, the first two JSON objects), wherever they appear.
        (f"id_token={JWT}", "SflKxwRJSMeKKF2QT4fw"),
        (f'{{"id_token": "{JWT}"}}', "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
        # Auth schemes are case-insensitive.
        ("Authorization: BEARER abcdefghijklmnop0123", "abcdefghijklmnop0123"),
        ("authorization: bearer abcdefghijklmnop0123", "abcdefghijklmnop0123"),
        # Basic credentials: base64 of "user:password".
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
        ("headers: {'authorization': 'BASIC YWxhZGRpbjpvcGVuc2VzYW1l'}", "YWxhZGRpbjpvcGVu"),
        # An AWS secret access key next to its key id, however it is laid out.
        (f"{AWS_ID} {AWS_SECRET}", "wJalrXUtnFEMI/K7MDENG"),
        (f"Access key ID,Secret access key\n{AWS_ID},{AWS_SECRET}", "bPxRfiCYEXAMPLEKEY"),
        (
            f'{{"AccessKeyId": "ASIAY34FZKBOKMUTVV7A", "SecretAccessKey": "{AWS_SECRET}"}}',
            "wJalrXUtnFEMI/K7MDENG",
        ),
        # ... or before it (a reordered credentials dict, "secret:id").
        (
            f'{{"SecretAccessKey": "{AWS_SECRET}", "AccessKeyId": "ASIAIOSFODNN7EXAMPLE"}}',
            "wJalrXUtnFEMI/K7MDENG",
        ),
        (f"{AWS_SECRET}:{AWS_ID}", "bPxRfiCYEXAMPLEKEY"),
        (f"secret {AWS_SECRET} for id {AWS_ID}", "bPxRfiCYEXAMPLEKEY"),
        # A secret access key named as such, in any spelling and case, with no key id near.
        (f'{{"SecretAccessKey": "{AWS_SECRET}"}}', "bPxRfiCYEXAMPLEKEY"),
        (f"secret_access_key={AWS_SECRET}", "bPxRfiCYEXAMPLEKEY"),
        (f"SECRET_ACCESS_KEY: {AWS_SECRET}", "bPxRfiCYEXAMPLEKEY"),
        (f"Aws_Secret_Access_Key = '{AWS_SECRET}'", "bPxRfiCYEXAMPLEKEY"),
        (f"secretaccesskey={AWS_SECRET}", "bPxRfiCYEXAMPLEKEY"),
        (f"aws-secret-access-key={AWS_SECRET}", "bPxRfiCYEXAMPLEKEY"),
        (f"AWS_SECRET_KEY={AWS_SECRET}", "bPxRfiCYEXAMPLEKEY"),
        # Auth schemes in mixed case.
        ("Authorization: BeaRer abcdefghijklmnopqrstuvwx123", "abcdefghijklmnopqrstuvwx123"),
        ("authorization: bAsIc dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
        # Non-ASCII text around them (lowercasing is the case-insensitive pre-check).
        ("r\u00e9sum\u00e9 \u201cBeaRer abcdefghijklmnopqrstuvwx123\u201d", "abcdefghijklmnop"),
    ],
)
def test_secret_patterns_are_masked_in_text_and_in_encoded_json(text: str, leaked: str) -> None:
    masked = mask_secrets(text)
    assert leaked not in masked and SECRET_MASK in masked
    # Long text takes the other fast path (one anchored search per pattern).
    padded = mask_secrets(f"{_PROSE} {text} {_PROSE}")
    assert leaked not in padded and SECRET_MASK in padded
    # The same text inside JSON content (escaped once), or inside nested JSON (twice).
    once = orjson.dumps({"v": text})
    twice = orjson.dumps({"v": once.decode()})
    for line in (once, twice):
        out = _masked_json(line)
        assert leaked.encode() not in out and SECRET_MASK.encode() in out
        orjson.loads(out)  # still valid JSON: the mask has no quote or backslash


def test_kept_prefixes_say_what_was_masked() -> None:
    assert mask_secrets("Bearer abcdefghijklmnop0123") == f"Bearer {SECRET_MASK}"
    assert mask_secrets("BEARER abcdefghijklmnop0123") == f"BEARER {SECRET_MASK}"
    assert mask_secrets("Basic dXNlcjpwYXNzd29yZA==") == f"Basic {SECRET_MASK}"
    pair = mask_secrets(f"id {AWS_ID} and secret {AWS_SECRET}.")
    assert pair == f"id {SECRET_MASK} and secret {SECRET_MASK}."
    aws = mask_secrets("aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert aws == f"aws_secret_access_key: {SECRET_MASK}"
    assert mask_secrets("BeaRer abcdefghijklmnop0123") == f"BeaRer {SECRET_MASK}"
    reversed_pair = mask_secrets(f"secret {AWS_SECRET} and id {AWS_ID}.")
    assert reversed_pair == f"secret {SECRET_MASK} and id {SECRET_MASK}."
    named = mask_secrets(f'{{"SecretAccessKey": "{AWS_SECRET}"}}')
    assert named == f'{{"SecretAccessKey": "{SECRET_MASK}"}}'


@pytest.mark.parametrize(
    "text",
    [
        "ask-me-anything is a fine title",
        "task-1234567890abcdefghijklmnop",  # "sk-" inside a word is not a key
        "the bearer of bad news",
        "scikit-learn and sk-learn",
        "AKIA is not a key by itself",
        "gpt-4o-2024-08-06 answered in 1.2s",
        "Basic internationalization support comes first",  # a word, not base64 credentials
        "basic authentication is deprecated here",
        "BEARER bonds of the nineteenth century",
        "keyJar.eyJournal.eyJump is no token",
        "BaSiC English has 850 words; the secret access key is in the vault",
        "bEaReR of the key to the secret_access_key field docs",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_secrets(text) == text
    line = orjson.dumps({"v": text}).decode()
    assert mask_secrets(line) is line


def test_clean_text_is_returned_without_a_copy() -> None:
    line = orjson.dumps({"resourceSpans": [{"name": "chat gpt-4o", "n": list(range(100))}]})
    text = line.decode()
    assert mask_secrets(text) is text


def test_registered_secrets_are_masked_exactly() -> None:
    value = "client-key-4f9a1c77e2"  # matches no built-in pattern
    assert mask_secrets(f"x {value} y") == f"x {value} y"
    register_secret(value)
    assert mask_secrets(f"x {value} y") == f"x {SECRET_MASK} y"
    assert value.encode() not in _masked_json(orjson.dumps([value, {"k": value}]))
    register_secret("short")  # under 8 characters: ignored, it would shred normal text
    assert mask_secrets("a short text") == "a short text"


def test_registered_secret_with_json_special_characters() -> None:
    value = 'p"ss\\word-7731x'
    register_secret(value)
    # As on the worker: an attribute (escaped once) and JSON content (escaped twice).
    content = orjson.dumps({"password": value}).decode()
    out = _masked_json(orjson.dumps({"a": value, "b": content}))
    assert b"word-7731x" not in out
    orjson.loads(out)


def test_register_secret_is_thread_safe() -> None:
    values = [f"threaded-secret-{i:04d}-zz" for i in range(64)]
    threads = [threading.Thread(target=register_secret, args=(v,)) for v in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out = _masked_json(orjson.dumps(values))
    assert not any(v.encode() in out for v in values)


_KEYS = st.sampled_from(
    [OPENAI_KEY, ANTHROPIC_KEY, "AKIAIOSFODNN7EXAMPLE", "ghp_" + "x9" * 18, JWT]
)


@settings(max_examples=200, deadline=None)
@given(before=st.text(max_size=40), key=_KEYS, after=st.text(max_size=40))
def test_an_embedded_key_never_survives_encoding(before: str, key: str, after: str) -> None:
    # Whatever surrounds it (newlines, quotes, unicode), a key that starts a token is masked.
    text = before + " " + key + " " + after
    for line in (orjson.dumps(text), orjson.dumps(orjson.dumps([text]).decode())):
        assert key.encode() not in _masked_json(line)


# ---- the content policy ------------------------------------------------------------------


def test_capture_off_drops_everything() -> None:
    assert ContentPolicy(False, None, 100).apply("hello") == (None, False)


@pytest.mark.parametrize(
    ("name", "text", "gone", "mask"),
    [
        ("email", "write to jane.doe+news@example.co.uk today", "jane.doe", "[REDACTED_EMAIL]"),
        ("phone", "call +1 415-555-0100 now", "555-0100", "[REDACTED_PHONE]"),
        ("phone", "or (020) 7946 0958", "7946", "[REDACTED_PHONE]"),
        ("credit_card", "card 4111 1111 1111 1111 ok", "4111 1111", "[REDACTED_CARD]"),
        ("credit_card", "amex 378282246310005.", "378282246310005", "[REDACTED_CARD]"),
        ("ip", "from 192.168.10.42 to 10.0.0.1", "192.168", "[REDACTED_IP]"),
        ("ip", "v6 2001:db8::8a2e:370:7334 and fe80::1", "2001:db8", "[REDACTED_IP]"),
    ],
)
def test_builtin_redactors(name: str, text: str, gone: str, mask: str) -> None:
    value, truncated = ContentPolicy(True, name, 10_000).apply(text)
    assert value is not None and gone not in value and mask in value and not truncated


def test_builtin_redactors_leave_lookalikes() -> None:
    policy = ContentPolicy(True, ["credit_card", "ip"], 10_000)
    text = "order 4111 1111 1111 1112 at 12:30:45 in std::vector v1.2.3"  # fails Luhn
    assert policy.apply(text) == (text, False)


def test_hooks_and_names_combine() -> None:
    policy = ContentPolicy(True, [str.upper, "email"], 10_000)
    assert policy.apply("mail a@b.io") == ("MAIL [REDACTED_EMAIL]", False)


def test_unknown_redactor_name_raises_naming_redact() -> None:
    with pytest.raises(ValueError, match="redact"):
        ContentPolicy(True, "emails", 100)
    with pytest.raises(ValueError, match="redact"):
        ContentPolicy(True, ["email", 42], 100)  # type: ignore[list-item]


def test_raising_hook_drops_the_content_and_counts() -> None:
    STATS.reset()

    def broken(text: str) -> str:
        raise RuntimeError("redactor bug")

    assert ContentPolicy(True, broken, 100).apply("private") == (None, False)
    assert STATS.snapshot()["redaction_failures"] == 1


def test_non_string_hook_result_is_coerced() -> None:
    policy = ContentPolicy(True, lambda text: len(text), 100)  # type: ignore[arg-type,return-value]
    assert policy.apply("four") == ("4", False)


def test_truncation_happens_after_redaction_and_never_halves_a_key() -> None:
    policy = ContentPolicy(True, lambda text: text.replace("x", ""), 10)
    assert policy.apply("xxxxxxxxxxxxabc") == ("abc", False)
    value, truncated = ContentPolicy(True, None, 30).apply("prefix " + OPENAI_KEY + " suffix")
    assert truncated and value is not None and "Abc123" not in value


# ---- through init(): what lands in the trace files ---------------------------------------

PROMPT = "Tell me about the capybara habitat"
COMPLETION = "Capybaras live near rivers and lakes"
TOOL_ARGS = '{"city": "Montevideo"}'
TOOL_RESULT = "Sunny, 24 degrees in Montevideo"
DECORATOR_ARG = "Which rivers do capybaras like?"
DECORATOR_RESULT = "The Parana and the Uruguay rivers"
CONTENT_STRINGS = [PROMPT, COMPLETION, "Montevideo", TOOL_RESULT, DECORATOR_ARG, DECORATOR_RESULT]


def _emit_content() -> None:
    """Content in every place it can appear: each content key as a span attribute and as
    an event attribute, the guide's prompt/completion events, tool calls, and a decorator."""
    tracer = noveum_trace.get_tracer("test")
    with tracer.start_span("manual chat") as span:
        span.set_attribute(semconv.GEN_AI_REQUEST_MODEL, "gpt-4o")
        span.set_attribute(semconv.GEN_AI_USAGE_INPUT_TOKENS, 12)
        for key in semconv.CONTENT_KEYS:
            span.set_attribute(key, f"{PROMPT} via attribute")
            span.add_event("content", {key: f"{COMPLETION} via event"})
        span.add_event(semconv.EVENT_CONTENT_PROMPT, {semconv.GEN_AI_PROMPT: PROMPT})
        span.add_event(semconv.EVENT_CONTENT_COMPLETION, {semconv.GEN_AI_COMPLETION: COMPLETION})
        span.set_attribute(
            semconv.GEN_AI_TOOL_CALLS,
            [{"id": "call_1", "function": {"name": "weather", "arguments": TOOL_ARGS}}],
        )
        span.set_attribute(
            semconv.GEN_AI_INPUT_MESSAGES, [{"role": "tool", "content": TOOL_RESULT}]
        )

    @trace_llm_call(system="openai", model="gpt-4o")
    def ask(question: str) -> str:
        return DECORATOR_RESULT

    assert ask(DECORATOR_ARG) == DECORATOR_RESULT


@pytest.mark.parametrize(
    "switch",
    [
        {"capture_content": False},
        {"env": ("NOVEUM_TRACE_CAPTURE_CONTENT", "false")},
        {"env": ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "false")},
    ],
)
def test_capture_off_leaves_no_content_anywhere(
    traces: Traces, monkeypatch: pytest.MonkeyPatch, switch: dict[str, Any]
) -> None:
    options = {k: v for k, v in switch.items() if k != "env"}
    if "env" in switch:
        monkeypatch.setenv(*switch["env"])
    traces.init(**options)
    _emit_content()
    output = _output(traces)
    for text in CONTENT_STRINGS:
        assert text.encode() not in output, text
    spans = traces.by_name()
    # Counts, models and timings still do.
    assert spans["manual chat"]["attributes"][semconv.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert spans["manual chat"]["attributes"][semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert semconv.LLM_LATENCY_MS in spans["chat gpt-4o"]["attributes"]
    assert {e["name"] for e in spans["chat gpt-4o"]["events"]} == set()


def test_capture_on_records_the_same_content(traces: Traces) -> None:
    # The control for the test above: the same emitter does write every string.
    traces.init()
    _emit_content()
    output = _output(traces)
    for text in CONTENT_STRINGS:
        assert text.encode() in output, text


def test_redaction_hook_sees_every_content_field(traces: Traces) -> None:
    seen: list[str] = []

    def hook(text: str) -> str:
        seen.append(text)
        return text.replace("capybara", "[ANIMAL]").replace("Montevideo", "[CITY]")

    traces.init(redact=hook)
    _emit_content()
    output = _output(traces)
    assert b"capybara" not in output and b"Montevideo" not in output
    assert b"[ANIMAL]" in output and b"[CITY]" in output
    # one call per content value: tool calls and messages arrive JSON-encoded
    assert any("Montevideo" in text and '"weather"' in text for text in seen)
    assert sum("via attribute" in text for text in seen) >= len(semconv.CONTENT_KEYS)
    assert sum("via event" in text for text in seen) == len(semconv.CONTENT_KEYS)


def test_builtin_redactors_by_name_through_init(traces: Traces) -> None:
    traces.init(redact=["email", "credit_card"])

    @trace_llm_call(model="gpt-4o")
    def ask(note: str) -> str:
        return "charged 5500 0000 0000 0004 for ops@example.com"

    ask("mail ops@example.com")
    output = _output(traces)
    assert b"ops@example.com" not in output and b"5500 0000" not in output
    assert b"[REDACTED_EMAIL]" in output and b"[REDACTED_CARD]" in output


def test_unknown_redactor_name_fails_init(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="redact"):
        noveum_trace.init(log_directory=str(tmp_path), redact="postcodes")


def test_raising_redactor_keeps_the_span_and_drops_the_content(traces: Traces) -> None:
    calls: list[str] = []

    def hook(text: str) -> str:
        calls.append(text)
        raise RuntimeError("bad hook")

    traces.init(redact=hook)
    _emit_content()
    spans = traces.by_name()
    output = _output(traces)
    assert calls, "the hook was never called"
    assert set(spans) == {"manual chat", "chat gpt-4o"}
    for text in CONTENT_STRINGS:
        assert text.encode() not in output
    assert spans["manual chat"]["attributes"][semconv.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert noveum_trace.get_stats()["redaction_failures"] == len(calls)


def test_long_content_is_truncated_with_a_marker(traces: Traces) -> None:
    traces.init(max_content_length=64)
    long_prompt = "word " * 100

    @trace_llm_call(model="gpt-4o", name="long")
    def ask(prompt: str) -> str:
        return "short answer"

    ask(long_prompt)
    span = traces.by_name()["long"]
    prompt_event = next(e for e in span["events"] if e["name"] == semconv.EVENT_CONTENT_PROMPT)
    attrs = prompt_event["attributes"]
    assert len(attrs[semconv.GEN_AI_PROMPT]) == 64
    assert attrs[semconv.GEN_AI_PROMPT + semconv.TRUNCATED_SUFFIX] is True
    completion = next(e for e in span["events"] if e["name"] == semconv.EVENT_CONTENT_COMPLETION)
    assert completion["attributes"] == {semconv.GEN_AI_COMPLETION: "short answer"}


# ---- the secret scan ------------------------------------------------------------------


def _secret_everywhere(key: str, register: Callable[[str], None]) -> None:
    register(key)  # what instrumentation does with a client's api_key
    tracer = noveum_trace.get_tracer("test")
    with tracer.start_span("manual chat") as span:
        span.set_attribute("app.config", f"api_key={key}")
        span.set_attribute("http.request.header.authorization", f"Bearer {key}")
        span.add_event(
            semconv.EVENT_CONTENT_PROMPT,
            {semconv.GEN_AI_PROMPT: [{"role": "user", "content": f"my key is {key}"}]},
        )
        span.set_status("error", f"auth failed for {key}")

    @trace_llm_call(system="openai", model="gpt-4o")
    def call(client_config: dict[str, str], question: str) -> str:
        raise PermissionError(f"invalid api key {key}")

    with pytest.raises(PermissionError):
        call({"api_key": key, "base_url": "http://127.0.0.1:1"}, f"use {key} please")


@pytest.mark.parametrize(
    "key",
    [OPENAI_KEY, ANTHROPIC_KEY, "custom-gateway-token-58d1f0a9"],
    ids=["openai", "ant", "reg"],
)
def test_secret_never_reaches_a_trace_file(traces: Traces, key: str) -> None:
    traces.init()
    _secret_everywhere(key, register_secret)
    output = _output(traces)
    assert key.encode() not in output
    assert key[-12:].encode() not in output
    assert SECRET_MASK.encode() in output
    assert len(traces.by_name()) == 2


def test_secret_scan_holds_with_capture_and_redaction_and_truncation(traces: Traces) -> None:
    traces.init(redact=["email"], max_content_length=40)
    _secret_everywhere(OPENAI_KEY, privacy.register_secret)
    output = _output(traces)
    assert OPENAI_KEY[:20].encode() not in output
