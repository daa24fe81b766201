"""A real webhook sender for the tests, run as its own process; standard library only.

By default it behaves like the SDK's CLI today: it reads the URL from HOKUSAI_SITE_WEBHOOK_URL
(else WEBHOOK_URL) and the secret from HOKUSAI_SITE_WEBHOOK_SECRET (else WEBHOOK_SECRET), sends
one nested (v2) body with model.id lower-cased and a whole-seconds timestamp, signs the exact
bytes, sends no event header and no idempotency key, and does not retry. Without a secret it
sends unsigned, with a warning, as the real senders do. Its options reproduce the other real
senders (``--style publisher``: microseconds, an idempotency key, retries with the same bytes;
``--style v1``: the flat body) and the mistakes judged by ``check-sender``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

NAMESPACE = uuid.UUID("6f1c2b8e-2d1a-5c57-9d0e-53656e646572")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--style", choices=["cli", "publisher", "v1"], default="cli")
    parser.add_argument("--token", default="LSCOR")
    parser.add_argument("--token-case", choices=["contract", "upper", "lower"], default="contract")
    parser.add_argument("--model-name", default="Sales lead scoring model")
    parser.add_argument("--versions", default="4", help="comma-separated: one registration each")
    parser.add_argument("--run-id", default="0b5c2f0e7d3a4c1e9f8a6b5d4c3e2f1a")
    parser.add_argument("--api-schema", help="a JSON object (or null) to send as model.api_schema")
    parser.add_argument(
        "--timestamp", choices=["style", "aware", "local-as-utc", "once"], default="style"
    )
    parser.add_argument("--url", help="deliver here instead of the URL in the environment")
    parser.add_argument("--path", help="deliver to this path on the URL's host instead")
    parser.add_argument("--sign", choices=["exact", "reserialized", "none"], default="exact")
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--event-header", action="store_true")
    parser.add_argument("--key", choices=["style", "fresh", "none"], default="style")
    parser.add_argument("--retries", type=int, help="attempts after the first (style default)")
    parser.add_argument("--retry-wait", type=float, default=0.05, help="first wait; doubles")
    parser.add_argument("--ignore-retry-after", action="store_true")
    parser.add_argument("--re-stamp", action="store_true", help="a new timestamp per attempt")
    parser.add_argument("--hang", type=float, default=0.0, help="then sleep this long")
    parser.add_argument("--hang-child", help="start a child that sleeps too; write its pid here")
    parser.add_argument(
        "--escaped-child", help="start a sleeping child in a session of its own; write its pid"
    )
    parser.add_argument("--exit", type=int, default=0, dest="exit_status")
    return parser.parse_args(argv)


def stamp(options: argparse.Namespace) -> str:
    now = datetime.now(timezone.utc)
    if options.timestamp == "aware":
        return now.isoformat() + "Z"  # the aware-datetime mistake: ...+00:00Z
    if options.timestamp == "local-as-utc":
        return (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if options.style == "publisher":
        return now.replace(tzinfo=None).isoformat() + "Z"  # naive UTC: microseconds
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def token_as_sent(options: argparse.Namespace) -> str:
    if options.token_case == "upper":
        return str(options.token.upper())
    if options.token_case == "lower":
        return str(options.token.lower())
    return str(options.token.upper() if options.style == "v1" else options.token.lower())


def payload(options: argparse.Namespace, version: str, timestamp: str) -> dict[str, object]:
    token = token_as_sent(options)
    if options.style == "v1":
        return {
            "event_type": "model_registered",
            "timestamp": timestamp,
            "token_id": token,
            "model_name": options.model_name,
            "model_version": version,
            "mlflow_run_id": options.run_id or None,
            "metric_name": "accuracy",
            "baseline_value": 0.933,
            "status": "REGISTERED",
            "tags": {},
        }
    model: dict[str, object] = {
        "id": token,
        "name": options.model_name,
        "status": "registered",
        "version": version,
    }
    if options.run_id:
        model["run_id"] = options.run_id
    if options.api_schema is not None:
        model["api_schema"] = json.loads(options.api_schema)
    return {
        "event_type": "model_registered",
        "model": model,
        "timestamp": timestamp,
        "source": "mlflow",
    }


def target(options: argparse.Namespace) -> str:
    url = (
        options.url
        or os.environ.get("HOKUSAI_SITE_WEBHOOK_URL")
        or os.environ.get("WEBHOOK_URL")
        or ""
    )
    if not url:
        sys.exit("no webhook URL: set HOKUSAI_SITE_WEBHOOK_URL or WEBHOOK_URL")
    if options.path:
        parts = urllib.parse.urlsplit(url)
        url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, options.path, "", ""))
    return url


def secret() -> str | None:
    return os.environ.get("HOKUSAI_SITE_WEBHOOK_SECRET") or os.environ.get("WEBHOOK_SECRET")


def headers_for(
    options: argparse.Namespace, body: bytes, key: str | None, signing_secret: str | None
) -> dict[str, str]:
    headers = {"Content-Type": options.content_type}
    if signing_secret is not None and options.sign != "none":
        signed = body
        if options.sign == "reserialized":
            signed = json.dumps(json.loads(body), separators=(",", ":")).encode()
        digest = hmac.new(signing_secret.encode(), signed, hashlib.sha256).hexdigest()
        headers["X-Hokusai-Signature"] = f"sha256={digest}"
    if options.event_header or options.style == "v1":
        headers["X-Hokusai-Event"] = "model_registered"
    if key is not None:
        headers["X-Hokusai-Idempotency-Key"] = key
    return headers


def serialize(options: argparse.Namespace, body: dict[str, object]) -> bytes:
    if options.sign == "reserialized":
        return json.dumps(body, separators=(", ", ": ")).encode()  # what json= would send
    return json.dumps(body, separators=(",", ":")).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, None
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get("Retry-After")


def key_for(options: argparse.Namespace, version: str) -> str | None:
    wanted = options.key
    if wanted == "style":
        wanted = "none" if options.style == "cli" else "stable"
    if wanted == "none":
        return None
    if wanted == "fresh":
        return str(uuid.uuid4())
    name = f"{options.token.lower()}\n{options.token}\n{options.run_id}\n{version}"
    return str(uuid.uuid5(NAMESPACE, name))


def deliver(options: argparse.Namespace, url: str, version: str, once: str) -> int:
    signing_secret = secret()
    if signing_secret is None:
        print("warning: no webhook secret set; sending unsigned", file=sys.stderr)
    retries = options.retries
    if retries is None:
        retries = 0 if options.style == "cli" else 5
    timestamp = once if options.timestamp == "once" else stamp(options)
    key = key_for(options, version)
    wait = options.retry_wait
    status = 0
    for attempt in range(retries + 1):
        if attempt and options.re_stamp:
            timestamp = stamp(options)
        if attempt and options.key == "fresh":
            key = key_for(options, version)
        body = serialize(options, payload(options, version, timestamp))
        status, retry_after = post(url, body, headers_for(options, body, key, signing_secret))
        print(f"version {version}: attempt {attempt + 1} answered {status}")
        if status < 500 or attempt == retries:
            break
        pause = wait
        if retry_after is not None and not options.ignore_retry_after:
            pause = max(pause, float(retry_after))
        time.sleep(pause)
        wait *= 2
    return status


def sleeping_child(pid_file: str, *, own_session: bool) -> None:
    """A child that sleeps for an hour, sharing this process's output; its pid in a file."""
    code = "import time; time.sleep(3600)"
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=own_session)
    with open(pid_file, "w", encoding="utf-8") as handle:
        handle.write(str(child.pid))


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    if options.hang_child:
        sleeping_child(options.hang_child, own_session=False)
    if options.escaped_child:
        sleeping_child(options.escaped_child, own_session=True)
    url = target(options)
    once = stamp(options)
    statuses = [deliver(options, url, version, once) for version in options.versions.split(",")]
    time.sleep(options.hang)
    if options.exit_status:
        return int(options.exit_status)
    return 0 if all(200 <= status < 300 for status in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
