"""Secret masking: what ``privacy.mask_secrets`` costs per string, against writing it at all.

The export worker's encoder masks every string it writes, then quotes it as JSON. Masking
must cost next to nothing on strings that cannot hold a secret (nearly all of them), so
each category below is timed twice in the same run, interleaved:
  - ``quote``: ``json.encoder.encode_basestring`` alone, the encoder's cost of writing the
    string with no masking (the reference);
  - ``mask``: ``mask_secrets`` alone.
It prints ns per string for both, and mask/quote. The last rows hold real secrets, for the
cost of a hit (the substitution), which is rare by nature.

    python benchmarks/secret_masking.py [--repeat 5] [--seconds 0.2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from json.encoder import encode_basestring

import orjson

from noveum_trace.privacy import mask_secrets

PROSE = (
    "The quick brown fox jumps over the lazy dog. Summarise the quarterly report, listing "
    "revenue by region, the top three risks, and what the board asked for in March. "
)
MESSAGES = orjson.dumps(
    [
        {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
        {"role": "user", "content": PROSE * 3},
        {"role": "assistant", "content": "Revenue grew 12% in EMEA; risks: FX, churn, supply."},
    ]
).decode()

CLEAN: dict[str, list[str]] = {
    "short attr (model, system, op)": ["gpt-4o-mini", "openai", "chat", "stop", "chat gpt-4o"],
    "id-like (response id, 29-38 ch)": [
        "chatcmpl-9xYzAbCdEfGhIjKlMnOpQrStUv",
        "msg_01XFDUDYJgAACzvnptvVoYEL",
        "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452e3",
    ],
    "sentence (~160 ch)": [PROSE],
    "url and path": [
        "https://api.openai.com/v1/chat/completions",
        "/home/user/projects/app/src/service/handlers/completions.py",
    ],
    "JSON messages (~800 ch)": [MESSAGES],
    "long prompt (8 KB)": [PROSE * 50],
    "stack trace (~1.5 KB)": [
        "Traceback (most recent call last):\n"
        + '  File "/app/src/service/handlers/completions.py", line 42, in handle\n'
        "    response = client.chat.completions.create(model=model, messages=messages)\n"
        * 8
        + "openai.RateLimitError: Error code: 429 - {'error': {'message': 'Rate limit reached'}}"
    ],
}

SECRETS: dict[str, list[str]] = {
    "hit: OpenAI key in text": ["my key is sk-proj-Abc123def456GHI789jkl012MNO345pqr, ok"],
    "hit: JWT in a header": [
        "Authorization: BEARER eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX3Rlc3Q"
    ],
}


def per_string_ns(func: Callable[[str], object], strings: list[str], seconds: float) -> float:
    loops = 1
    while True:  # calibrate: enough loops to fill ``seconds``
        start = time.perf_counter()
        for _ in range(loops):
            for text in strings:
                func(text)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / (loops * len(strings)) * 1e9
        loops *= 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.2)
    args = parser.parse_args()
    print(f"{'strings':34} {'quote ns':>9} {'mask ns':>9} {'mask/quote':>10}")
    for label, strings in {**CLEAN, **SECRETS}.items():
        quote, mask = [], []
        for _ in range(args.repeat):  # interleaved, so drift hits both alike
            quote.append(per_string_ns(encode_basestring, strings, args.seconds))
            mask.append(per_string_ns(mask_secrets, strings, args.seconds))
        q, m = statistics.median(quote), statistics.median(mask)
        print(f"{label:34} {q:9.0f} {m:9.0f} {m / q:10.2f}")


if __name__ == "__main__":
    main()
