"""The state of one ``generate_content_stream`` call: its chunks accumulated into a response."""

from __future__ import annotations

from typing import Any

from ...records import Request, Response, Usage
from . import mapping as m


class GenerateStreamState:
    """Chunks of ``generate_content_stream``.

    Within one request, each chunk's ``usage_metadata`` is the running total (the last one is
    final); the SDK's automatic continuation keeps it cumulative across the requests that
    resume a cut-off generation too. Automatic function calling starts a new request per
    round whose usage starts again from zero: a new ``response_id`` after a round that ended
    (a finish reason and no continuation token) closes a round, and the rounds are summed.
    """

    __slots__ = ("_finished", "_latest", "_resumable", "finish_reasons", "model", "response_id")

    def __init__(self, request: Request) -> None:
        self.response_id: str | None = None
        self.model: str | None = None
        self.finish_reasons: dict[int, str] = {}
        self._latest: Any = None  # usage_metadata of the current round so far
        self._finished: list[Usage | None] = []  # usage of the rounds already closed
        self._resumable = False  # the current request may be resumed with a continuation token

    def on_chunk(self, chunk: Any) -> None:
        response_id = getattr(chunk, "response_id", None)
        if response_id and self.response_id and response_id != self.response_id and not self._resumable:
            self._finished.append(m.gemini_usage(self._latest))
            self._latest = None
            self.finish_reasons = {}
        if response_id:
            self.response_id = response_id
        model = getattr(chunk, "model_version", None)
        if model:
            self.model = model
        metadata = getattr(chunk, "usage_metadata", None)
        if metadata is not None:
            self._latest = metadata
        for position, candidate in enumerate(getattr(chunk, "candidates", None) or ()):
            reason = m.finish_reason(candidate)
            if reason:
                index = getattr(candidate, "index", None)
                self.finish_reasons[index if isinstance(index, int) else position] = reason
            if position == 0:
                self._track_continuation(candidate, reason)

    def _track_continuation(self, candidate: Any, reason: str | None) -> None:
        if getattr(candidate, "continuation_token", None):
            self._resumable = True
        elif reason and reason != "continuation":
            self._resumable = False

    def response(self) -> Response:
        return Response(
            response_id=self.response_id,
            model=self.model,
            finish_reasons=tuple(self.finish_reasons[i] for i in sorted(self.finish_reasons)),
            usage=m.summed([*self._finished, m.gemini_usage(self._latest)]),
        )
