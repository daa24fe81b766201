"""The SDK side: register a model in MLflow for a token, then send the signed webhook.

::

    from contracts.sender import ModelRegistry

    registry = ModelRegistry()  # MLFLOW_TRACKING_URI, HOKUSAI_SITE_WEBHOOK_URL or WEBHOOK_URL,
                                # HOKUSAI_SITE_WEBHOOK_SECRET or WEBHOOK_SECRET; or ./.env
    registration = registry.register_tokenized_model(
        "runs:/<run_id>/model", "Sales lead scoring model", "LSCOR", "accuracy", 0.933
    )
    registration.payload["model"]["api_schema"]  # v2 by default, from the MLflow signature
    registration.notification.delivered  # False: it waits in the outbox for a resend

Names are loaded on first use, so importing this package (as the CLI does) pulls in neither
``requests`` nor MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.support.lazy import lazy_exports

if TYPE_CHECKING:
    from contracts.sender.config import ConfigurationError
    from contracts.sender.delivery import (
        DeliveryPolicy,
        DeliveryReason,
        NotificationOutcome,
        WebhookDelivery,
    )
    from contracts.sender.mlflow_server import (
        TINY_MODEL_ARTIFACT_PATH,
        MlflowServerError,
        log_tiny_model,
        loopback_webhook_settings,
        running_mlflow_server,
        save_tiny_model,
    )
    from contracts.sender.mlflow_webhooks import (
        BRIDGE_EVENTS,
        MlflowWebhookError,
        NotAWebhookServerError,
        WebhookInfo,
        WebhookNotFoundError,
        WebhookTestOutcome,
        WebhookUrlRefusedError,
        check_loopback_webhooks,
        create_bridge_webhook,
        list_webhooks,
        trigger_test_delivery,
    )
    from contracts.sender.notify import ResendResult
    from contracts.sender.outbox import Outbox, OutboxEntry
    from contracts.sender.registry import (
        MlflowRegistrationError,
        ModelRegistry,
        ModelVersionNotFoundError,
        NotificationError,
        NotifyMode,
        Registration,
        RegistrationInputError,
        TrackingServerUnreachableError,
    )

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "contracts.sender.config": ["ConfigurationError"],
        "contracts.sender.delivery": [
            "DeliveryPolicy",
            "DeliveryReason",
            "NotificationOutcome",
            "WebhookDelivery",
        ],
        "contracts.sender.mlflow_server": [
            "TINY_MODEL_ARTIFACT_PATH",
            "MlflowServerError",
            "log_tiny_model",
            "loopback_webhook_settings",
            "running_mlflow_server",
            "save_tiny_model",
        ],
        "contracts.sender.mlflow_webhooks": [
            "BRIDGE_EVENTS",
            "MlflowWebhookError",
            "NotAWebhookServerError",
            "WebhookInfo",
            "WebhookNotFoundError",
            "WebhookTestOutcome",
            "WebhookUrlRefusedError",
            "check_loopback_webhooks",
            "create_bridge_webhook",
            "list_webhooks",
            "trigger_test_delivery",
        ],
        "contracts.sender.outbox": ["Outbox", "OutboxEntry"],
        "contracts.sender.notify": ["ResendResult"],
        "contracts.sender.registry": [
            "ModelRegistry",
            "ModelVersionNotFoundError",
            "MlflowRegistrationError",
            "NotificationError",
            "NotifyMode",
            "Registration",
            "RegistrationInputError",
            "TrackingServerUnreachableError",
        ],
    },
)


__all__ = [
    "BRIDGE_EVENTS",
    "TINY_MODEL_ARTIFACT_PATH",
    "ConfigurationError",
    "DeliveryPolicy",
    "DeliveryReason",
    "MlflowRegistrationError",
    "MlflowServerError",
    "MlflowWebhookError",
    "ModelRegistry",
    "ModelVersionNotFoundError",
    "NotAWebhookServerError",
    "NotificationError",
    "NotificationOutcome",
    "NotifyMode",
    "Outbox",
    "OutboxEntry",
    "Registration",
    "RegistrationInputError",
    "ResendResult",
    "TrackingServerUnreachableError",
    "WebhookDelivery",
    "WebhookInfo",
    "WebhookNotFoundError",
    "WebhookTestOutcome",
    "WebhookUrlRefusedError",
    "check_loopback_webhooks",
    "create_bridge_webhook",
    "list_webhooks",
    "log_tiny_model",
    "loopback_webhook_settings",
    "running_mlflow_server",
    "save_tiny_model",
    "trigger_test_delivery",
]
