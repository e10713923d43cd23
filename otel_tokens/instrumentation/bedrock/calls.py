"""The guarded call around botocore's ``BaseClient._make_api_call`` for Bedrock's LLM operations.

Every operation of every AWS client goes through ``_make_api_call(operation_name, api_params)``
(positional); anything but bedrock-runtime's Converse, ConverseStream, InvokeModel and
InvokeModelWithResponseStream passes through after one dict lookup. Those four run the generic
wrapper's guarded start (request, budget, repeat fingerprint, span) and failure recording;
finishing is Bedrock's own, because the responses are dicts whose stream or body sits under a
key (``stream``, ``body``) and must be tracked there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ... import errors
from ...recorder import Call
from ...records import Request, Response
from ...runtime import Runtime
from .._provider import Endpoint, ReadRequest, StreamState
from .._streams import StreamSession
from .._wrapper import complete_quietly, guarded_call, track_response
from . import invoke, mapping
from .tracking import ConverseResponse, InvokeModelResponse, TrackedBody, TrackedDict, TrackedEventStream

Finish = Callable[[Runtime, Endpoint, Call, Any], Any]


@dataclass(frozen=True)
class Operation:
    """One LLM operation of bedrock-runtime: how to read it, and how to finish its call."""

    endpoint: Endpoint
    finish: Finish

    def end(self, runtime: Runtime, call: Call, result: Any) -> Any:
        """``guarded_call``'s finish: what the caller gets; never raises."""
        try:
            return self.finish(runtime, self.endpoint, call, result)
        except Exception as exc:  # noqa: BLE001 - the finishers guard their stages; this is the last net
            errors.report("response", exc)
            complete_quietly(runtime, call)
            return result


def _read(endpoint: Endpoint, call: Call, result: Any) -> Response | None:
    try:
        response = endpoint.read_response(result)
        response.model = response.model or mapping.model_name(call.request.model)
    except Exception as exc:  # noqa: BLE001
        errors.report("response", exc)
        return None
    return response


def _track_under(key: str, proxy: type[TrackedEventStream | TrackedBody]) -> Finish:
    """Finish: the call ends when the stream or body under ``key`` ends; the caller gets a dict
    holding our proxy there (and verdicts on the dict or the proxy find the call)."""

    def finish(runtime: Runtime, endpoint: Endpoint, call: Call, result: Any) -> Any:
        session = StreamSession.start(call, runtime, endpoint.new_stream_state)
        try:
            tracked = TrackedDict(result, session=session)
            tracked[key] = proxy(result[key], session)
        except Exception as exc:  # noqa: BLE001
            errors.report("response", exc)
            complete_quietly(runtime, call)
            return result
        return tracked

    return finish


def _finish_converse(runtime: Runtime, endpoint: Endpoint, call: Call, result: Any) -> Any:
    return track_response(runtime, call, result, _read(endpoint, call, result), ConverseResponse)


_finish_from_body = _track_under("body", TrackedBody)


def _finish_invoke(runtime: Runtime, endpoint: Endpoint, call: Call, result: Any) -> Any:
    """Usage from the response headers when present; else from the body as the caller reads it."""
    response = _read(endpoint, call, result)
    if response is not None and response.usage is None:
        return _finish_from_body(runtime, endpoint, call, result)
    return track_response(runtime, call, result, response, InvokeModelResponse)


def _read_headers(result: Any) -> Response:
    return Response(usage=mapping.header_usage(result))


def _endpoint(
    read_request: ReadRequest,
    read_response: Callable[[Any], Response],
    new_state: Callable[[Request], StreamState],
) -> Endpoint:
    return Endpoint(
        module="botocore.client",
        qualname="BaseClient._make_api_call",
        is_async=False,
        read_request=read_request,
        read_response=read_response,
        new_stream_state=new_state,
        is_stream=lambda result: False,
    )


OPERATIONS: Final = {
    "Converse": Operation(
        _endpoint(mapping.read_converse_request, mapping.read_converse, mapping.ConverseStreamState),
        _finish_converse,
    ),
    "ConverseStream": Operation(
        _endpoint(mapping.read_converse_request, mapping.read_converse, mapping.ConverseStreamState),
        _track_under("stream", TrackedEventStream),
    ),
    "InvokeModel": Operation(
        _endpoint(invoke.read_invoke_request, _read_headers, invoke.InvokeBodyState), _finish_invoke
    ),
    "InvokeModelWithResponseStream": Operation(
        _endpoint(invoke.read_invoke_request, _read_headers, invoke.InvokeStreamState),
        _track_under("body", TrackedEventStream),
    ),
}


# --- the wrapper ------------------------------------------------------------------------------------
def _service_name(client: Any) -> Any:
    return getattr(getattr(getattr(client, "meta", None), "service_model", None), "service_name", None)


def _call(
    operation: Operation, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: Any
) -> Any:
    params = args[1] if len(args) > 1 else None
    if not isinstance(params, dict):
        return wrapped(*args, **kwargs)
    # botocore passes the params positionally: they stand in for kwargs in the guarded call.
    return guarded_call(
        operation.endpoint, instance, args, params, lambda _: wrapped(*args, **kwargs), operation.end
    )


def make_api_call_wrapper(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The ``wrapt`` wrapper of ``BaseClient._make_api_call``."""
    operation = OPERATIONS.get(args[0]) if args and type(args[0]) is str else None
    if operation is None or _service_name(instance) != mapping.SERVICE:
        return wrapped(*args, **kwargs)
    return _call(operation, wrapped, instance, args, kwargs)
