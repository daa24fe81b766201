"""The bridge: MLflow's own model-registry webhooks, turned into the contract's notification.

A model version registered from the MLflow UI or a plain ``MlflowClient`` never goes through
the SDK, so the website never hears of it. MLflow (3.3 and later) sends a signed webhook for it;
the bridge verifies it, and when the version is tagged ``hokusai_token_id`` it writes the
contract's v2 ``model_registered`` notification to the durable outbox and delivers it, signed
with ``X-Hokusai-Signature``, exactly as the SDK would (same body, same idempotency key).

::

    from contracts.bridge import Bridge, BridgeConfig
    from contracts.support.server import RunningServer

    bridge = Bridge(BridgeConfig(["mlflow-secret"], site_url, site_secret, outbox_path))
    bridge.start()
    server = RunningServer(bridge, port=8081)  # point the MLflow webhook at server.url("/")

Names are imported on first use, so importing this package needs neither werkzeug nor MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.support.lazy import lazy_exports

if TYPE_CHECKING:
    from contracts.bridge.app import Bridge, BridgeConfig
    from contracts.bridge.catch_up import CatchUp, catch_up
    from contracts.bridge.events import Ignored, TaggedVersion, tagged_version
    from contracts.bridge.verify import (
        DEFAULT_TOLERANCE_SECONDS,
        MlflowDelivery,
        MlflowEvent,
        MlflowEventError,
        MlflowSignatureError,
        parse_mlflow_event,
        receive_mlflow_event,
        sign_mlflow_delivery,
        verify_mlflow_delivery,
    )

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "contracts.bridge.app": ["Bridge", "BridgeConfig"],
        "contracts.bridge.catch_up": ["CatchUp", "catch_up"],
        "contracts.bridge.events": [
            "Ignored",
            "TaggedVersion",
            "tagged_version",
        ],
        "contracts.bridge.verify": [
            "DEFAULT_TOLERANCE_SECONDS",
            "MlflowDelivery",
            "MlflowEvent",
            "MlflowEventError",
            "MlflowSignatureError",
            "parse_mlflow_event",
            "receive_mlflow_event",
            "sign_mlflow_delivery",
            "verify_mlflow_delivery",
        ],
    },
)

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "Bridge",
    "BridgeConfig",
    "CatchUp",
    "Ignored",
    "MlflowDelivery",
    "MlflowEvent",
    "MlflowEventError",
    "MlflowSignatureError",
    "TaggedVersion",
    "catch_up",
    "parse_mlflow_event",
    "receive_mlflow_event",
    "sign_mlflow_delivery",
    "tagged_version",
    "verify_mlflow_delivery",
]
