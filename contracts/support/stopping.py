"""``with`` for whatever starts when made and ends with ``stop()``: servers, judges, processes."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

_Started = TypeVar("_Started", bound="StopsOnExit")


class StopsOnExit:
    """A ``with`` block ends by calling :meth:`stop`, however it ends."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Started) -> _Started:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
