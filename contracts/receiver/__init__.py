"""The receiver: the stub site, a reference for the website's webhook handler.

A test double, not a production website: a WSGI application (werkzeug) over a SQLite token
store that answers deliveries exactly as the contract says.

::

    from contracts.receiver import running_stub_site

    with running_stub_site("site.sqlite3", secrets="s3cr3t", tokens=["LSCOR"]) as site:
        ...  # POST to site.webhook_url, then site.token("LSCOR")["status"]

Names are imported on first use, so ``import contracts.receiver`` needs no werkzeug until one
of them is asked for (the command line imports this package on every start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.support.lazy import lazy_exports

if TYPE_CHECKING:
    from contracts.receiver.app import (
        DEFAULT_MAX_BODY_BYTES,
        ReceiverConfig,
        RejectReason,
        StubSite,
        create_app,
    )
    from contracts.receiver.store import (
        DEFAULT_DB_PATH,
        DeliveryRecord,
        TokenRecord,
        TokenStore,
        Transition,
    )
    from contracts.receiver.testing import RunningStubSite, as_request_handler, running_stub_site

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "contracts.receiver.app": [
            "DEFAULT_MAX_BODY_BYTES",
            "ReceiverConfig",
            "RejectReason",
            "StubSite",
            "create_app",
        ],
        "contracts.receiver.store": [
            "DEFAULT_DB_PATH",
            "DeliveryRecord",
            "TokenRecord",
            "TokenStore",
            "Transition",
        ],
        "contracts.receiver.testing": [
            "RunningStubSite",
            "as_request_handler",
            "running_stub_site",
        ],
    },
)


__all__ = [
    "DEFAULT_DB_PATH",
    "DEFAULT_MAX_BODY_BYTES",
    "DeliveryRecord",
    "ReceiverConfig",
    "RejectReason",
    "RunningStubSite",
    "StubSite",
    "TokenRecord",
    "TokenStore",
    "Transition",
    "as_request_handler",
    "create_app",
    "running_stub_site",
]
