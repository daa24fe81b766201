"""The pure core per operation: signing, verifying and validating, each beside its baseline.

Baselines: for signatures, the least Python can do (one ``hmac.new(...).hexdigest()`` and one
``hmac.compare_digest``) and a peer library (Standard Webhooks) verifying the same body; for
validation, a ``jsonschema`` validator built afresh for every payload.
"""

from __future__ import annotations

import base64
import cProfile
import hashlib
import hmac
import io
import pstats
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from jsonschema import Draft202012Validator
from standardwebhooks.webhooks import Webhook

import contracts
from benchmarks.results import Direction, Figure, Goal
from benchmarks.timing import batch_for, interleaved
from contracts.schema import load_json, load_schema

SECRET = "bench-secret-8f2c1d"
BODY_SIZES = {"1 KiB": 1024, "64 KiB": 64 * 1024}
VERIFY_GOAL = Goal(Direction.AT_MOST, 1.3, "contracts.verify at most 1.3x the bare HMAC floor")
FLOOR = "hmac floor"
PEER = "standardwebhooks"


def example_payload() -> dict[str, Any]:
    """The contract's example event: the size and shape of a real delivery."""
    payload: dict[str, Any] = load_json("examples/model_registered.json")
    return payload


def body_of_size(size: int) -> bytes:
    """A contract-valid body of exactly ``size`` bytes (a padding tag fills the gap)."""
    payload = example_payload()
    payload["tags"] = {**payload["tags"], "notes": ""}
    gap = size - len(contracts.serialize(payload))
    if gap < 0:
        raise ValueError(f"a valid body is at least {size - gap} bytes; asked for {size}")
    payload["tags"]["notes"] = "x" * gap
    body = contracts.serialize(payload)
    assert len(body) == size
    contracts.validate_payload(body)
    return body


def _signature_cases(body: bytes) -> dict[str, dict[str, Any]]:
    """The operations timed for one body: ours, the floor and the peer, checked to agree."""
    key = SECRET.encode("utf-8")
    header = contracts.sign(body, SECRET)
    received_hex = header[len(contracts.SIGNATURE_PREFIX) :]
    peer = Webhook(base64.b64encode(key).decode("ascii"))
    peer_text = body.decode("utf-8")
    peer_headers = {
        "webhook-id": "msg_bench",
        "webhook-timestamp": str(int(datetime.now(timezone.utc).timestamp())),
    }
    peer_headers["webhook-signature"] = peer.sign(
        "msg_bench", datetime.now(timezone.utc), peer_text
    )

    def floor_sign() -> str:
        return hmac.new(key, body, hashlib.sha256).hexdigest()

    def floor_verify() -> bool:
        return hmac.compare_digest(hmac.new(key, body, hashlib.sha256).hexdigest(), received_hex)

    def ours_sign() -> str:
        return contracts.sign(body, SECRET)

    def ours_verify() -> contracts.Verification:
        return contracts.verify(body, header, SECRET)

    def peer_verify() -> None:
        peer.verify(body, peer_headers, json_parse=False)

    assert floor_verify() and ours_verify() and ours_sign() == header
    peer_verify()  # raises when the peer does not accept its own signature
    return {
        "sign": {"contracts.sign": ours_sign, FLOOR: floor_sign},
        "verify": {"contracts.verify": ours_verify, FLOOR: floor_verify, PEER: peer_verify},
    }


def signing_figures(rounds: int) -> list[Figure]:
    """Sign and verify per operation for each body size, interleaved with their baselines."""
    figures: list[Figure] = []
    for label, size in BODY_SIZES.items():
        for operation, cases in _signature_cases(body_of_size(size)).items():
            batch = batch_for(cases[FLOOR])
            samples = interleaved(cases, rounds=rounds, batch=batch)
            floor = samples[FLOOR]
            for name, sample in samples.items():
                if name == FLOOR:
                    continue
                ours = name.startswith("contracts.")
                figures.append(
                    Figure(
                        group="signing",
                        name=f"{operation} {label}",
                        candidate=name,
                        baseline=FLOOR,
                        unit="ns/op",
                        candidate_value=sample.median_ns,
                        baseline_value=floor.median_ns,
                        goal=VERIFY_GOAL if ours and operation == "verify" else None,
                        note="" if ours else "signs id.timestamp.body, base64",
                        details={
                            "rounds": rounds,
                            "calls_per_round": batch,
                            "spread_candidate": round(sample.spread, 3),
                            "spread_baseline": round(floor.spread, 3),
                        },
                    )
                )
    return figures


_VALIDATION_NOTES = {
    "fresh Draft202012Validator": "ours: one jsonschema validator, built once and reused",
    "reused Draft202012Validator": "the same engine; ours adds the date and finite-number checks",
}


def validation_figures(rounds: int) -> list[Figure]:
    """``contracts.validate_payload`` (one ``jsonschema`` validator, built once) against a fresh
    ``Draft202012Validator`` per payload, and against one reused validator (the same engine,
    without the checks the schema cannot state)."""
    payload = example_payload()
    schema = load_schema()
    reused_validator = Draft202012Validator(schema)
    ours = "contracts.validate_payload"
    fresh, reused = "fresh Draft202012Validator", "reused Draft202012Validator"

    cases: dict[str, Callable[[], object]] = {
        ours: lambda: contracts.validate_payload(payload),
        fresh: lambda: Draft202012Validator(schema).validate(payload),
        reused: lambda: reused_validator.validate(payload),
    }
    for operation in cases.values():
        operation()
    batch = batch_for(cases[ours])
    samples = interleaved(cases, rounds=rounds, batch=batch)
    details = {
        "rounds": rounds,
        "calls_per_round": batch,
        "body_bytes": len(contracts.serialize(payload)),
    }
    return [
        Figure(
            group="validation",
            name="validate one payload",
            candidate=ours,
            baseline=baseline,
            unit="ns/op",
            candidate_value=samples[ours].median_ns,
            baseline_value=samples[baseline].median_ns,
            details=details,
            note=_VALIDATION_NOTES[baseline],
        )
        for baseline in (fresh, reused)
    ]


def verify_profile(size: int = 1024, calls: int = 200_000, top: int = 12) -> str:
    """Where ``contracts.verify`` spends its time beyond the HMAC itself (cProfile, by tottime)."""
    body = body_of_size(size)
    header = contracts.sign(body, SECRET)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        contracts.verify(body, header, SECRET)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()
