"""Peer instrumentations of the real ``openai`` SDK, read by otel-tokens' span processor.

Each peer runs in its own test environment (``bash scripts/test-env peers-openai-v2`` and
``bash scripts/test-env peers-openllmetry``); the tests are deselected everywhere else.

- ``same metrics``: the same call, instrumented by otel-tokens, then traced by the peer and
  read by the processor, gives the same call metric points (token split, cost, calls, labels),
  for what the peer reports. What a peer leaves out is counted as the type that contains it
  (the official instrumentation reports no cached or reasoning tokens: they count as uncached
  input and as output, and the cost is genai-prices' for that split).
- ``outcomes``: a verdict by response id or on the SDK's response reaches the call.
- ``both``: otel-tokens patching and the peer on the same call, in either patch order: two
  spans, one count.
- a failing processor never reaches the app.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import Telemetry, make_telemetry
from helpers_openai import EMBEDDING_MODEL, LEGACY_MODEL, MESSAGES, MODEL, Tokens

import otel_tokens
from otel_tokens import errors, names

TOKENS = Tokens(prompt=21, completion=8, cached=5, reasoning=2)
CALL_METRICS = (names.TOKENS.name, names.COST_USD.name, names.CALLS.name, names.UNPRICED_CALLS.name)

Surface = Callable[[Any, Any, dict[str, str]], Awaitable[Any]]


async def chat(client: Any, aclient: Any, headers: dict[str, str]) -> Any:
    return client.chat.completions.create(model=MODEL, messages=MESSAGES, extra_headers=headers)


async def chat_async(client: Any, aclient: Any, headers: dict[str, str]) -> Any:
    return await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, extra_headers=headers)


async def chat_stream(client: Any, aclient: Any, headers: dict[str, str]) -> Any:
    # Peers ask for no usage chunk themselves: the caller does, for them and for otel-tokens alike.
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        extra_headers=headers,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    return chunks[-1]  # the usage chunk carries the response id


async def embeddings(client: Any, aclient: Any, headers: dict[str, str]) -> Any:
    return client.embeddings.create(model=EMBEDDING_MODEL, input="hello world", extra_headers=headers)


async def responses(client: Any, aclient: Any, headers: dict[str, str]) -> Any:
    return client.responses.create(model=MODEL, input="triage this email", extra_headers=headers)


async def completions(client: Any, aclient: Any, headers: dict[str, str]) -> Any:
    return client.completions.create(model=LEGACY_MODEL, prompt="triage this email", extra_headers=headers)


@dataclass(frozen=True)
class Peer:
    env: str
    module: str  # the peer's instrumentor: "module:Class"
    # surface -> (reports cached tokens, reports reasoning tokens), from the peer's sources
    surfaces: dict[str, tuple[bool, bool]]
    # Its uninstrument() leaves its wrappers in place (see strip_wrappers).
    leaves_wrappers: bool = False

    def instrumentor(self) -> Any:
        import importlib

        module, _, cls = self.module.partition(":")
        return getattr(importlib.import_module(module), cls)()


SURFACES: dict[str, Surface] = {
    "chat": chat,
    "chat_async": chat_async,
    "chat_stream": chat_stream,
    "embeddings": embeddings,
    "responses": responses,
    "completions": completions,
}
PEERS = (
    # opentelemetry-instrumentation-openai-v2 2.4b0: chat and embeddings; usage is
    # prompt_tokens / completion_tokens only.
    Peer(
        "peers-openai-v2",
        "opentelemetry.instrumentation.openai_v2:OpenAIInstrumentor",
        dict.fromkeys(("chat", "chat_async", "chat_stream", "embeddings"), (False, False)),
    ),
    # OpenLLMetry 0.62: cached tokens everywhere, reasoning tokens except in streams and legacy completions.
    Peer(
        "peers-openllmetry",
        "opentelemetry.instrumentation.openai:OpenAIInstrumentor",
        {
            "chat": (True, True),
            "chat_async": (True, True),
            "chat_stream": (True, False),
            "embeddings": (True, True),
            "responses": (True, True),
            "completions": (True, False),
        },
        leaves_wrappers=True,
    ),
)


def strip_wrappers(package: str) -> None:
    """Remove the outermost wrappers from modules under ``package`` on the methods these tests call.

    OpenLLMetry 0.62 unwraps with ``unwrap("openai.resources.chat.completions",
    "Completions.create")``, which opentelemetry-instrumentation 0.66b resolves as attribute
    "Completions.create" of module ``openai.resources.chat``: a silent no-op. Its wrappers would
    pile up across tests and wrap every later call (otel-tokens' own runs included).
    """
    import importlib

    for module, names_ in (
        ("openai.resources.chat.completions", ("Completions", "AsyncCompletions")),
        ("openai.resources.completions", ("Completions", "AsyncCompletions")),
        ("openai.resources.embeddings", ("Embeddings", "AsyncEmbeddings")),
        ("openai.resources.responses", ("Responses", "AsyncResponses")),
    ):
        for cls in (getattr(importlib.import_module(module), n) for n in names_):
            method = vars(cls).get("create")
            while getattr(getattr(method, "_self_wrapper", None), "__module__", "").startswith(package):
                cls.create = method.__wrapped__  # type: ignore[union-attr]
                method = vars(cls).get("create")


def params(only: Callable[[str], bool] = lambda s: True) -> list[Any]:
    """(peer, surface) pairs, each marked for its peer's environment."""
    return [
        pytest.param(peer, surface, marks=pytest.mark.env(peer.env), id=f"{peer.env}-{surface}")
        for peer in PEERS
        for surface in peer.surfaces
        if only(surface)
    ]


def per_peer() -> list[Any]:
    return [pytest.param(peer, marks=pytest.mark.env(peer.env), id=peer.env) for peer in PEERS]


# --- running one side ------------------------------------------------------------------------------


@contextlib.contextmanager
def otel_tokens_in(mode: str, tel: Telemetry, **settings: Any) -> Iterator[None]:
    settings.setdefault("raise_internal_errors", True)
    otel_tokens.instrument(
        tel.tracer_provider, tel.meter_provider, tel.logger_provider, mode=mode, **settings
    )
    try:
        yield
    finally:
        gc.collect()
        otel_tokens.uninstrument()
        errors.configure(None, False)
        errors.reset_logged()


@contextlib.contextmanager
def peer_on(peer: Peer, tel: Telemetry) -> Iterator[None]:
    instrumentor = peer.instrumentor()
    instrumentor.instrument(
        tracer_provider=tel.tracer_provider,
        meter_provider=tel.meter_provider,
        logger_provider=tel.logger_provider,
    )
    try:
        yield
    finally:
        instrumentor.uninstrument()
        if peer.leaves_wrappers:
            strip_wrappers(type(instrumentor).__module__ + ".")


@pytest.fixture
def clients(make_openai_client) -> tuple[Any, Any]:
    return make_openai_client(), make_openai_client(aio=True)


def call_metrics(tel: Telemetry) -> dict[tuple[str, frozenset[tuple[str, Any]]], float]:
    return {(m, frozenset(attrs.items())): value for m in CALL_METRICS for attrs, value in tel.points(m)}


def peer_spans(tel: Telemetry) -> list[Any]:
    return [s for s in tel.finished_spans() if s.instrumentation_scope.name != names.INSTRUMENTATION_NAME]


# --- same metrics as otel-tokens' own instrumentation ------------------------------------------------


@pytest.mark.parametrize(("peer", "surface"), params())
async def test_same_metrics_as_our_instrumentation(peer: Peer, surface: str, clients) -> None:
    """Plain counts (no cached or reasoning tokens): every call metric point is equal."""
    call = SURFACES[surface]
    headers = Tokens(prompt=21, completion=8).headers()
    own = make_telemetry()
    with otel_tokens_in("instrument", own), otel_tokens.task("triage", team="support"):
        await call(*clients, headers)
    derived = make_telemetry()
    with (
        peer_on(peer, derived),
        otel_tokens_in("processor", derived),
        otel_tokens.task("triage", team="support"),
    ):
        await call(*clients, headers)
    assert len(peer_spans(derived)) == 1
    ours, theirs = call_metrics(own), call_metrics(derived)
    assert ours and theirs.keys() == ours.keys()
    for key, value in ours.items():
        assert theirs[key] == pytest.approx(value), key


@pytest.mark.parametrize(("peer", "surface"), params())
async def test_cached_and_reasoning_tokens(peer: Peer, surface: str, clients) -> None:
    """The split is otel-tokens' where the peer reports the detail; where it does not, the detail
    counts in the total that contains it, and the cost is genai-prices' for that split."""
    cached, reasoning = peer.surfaces[surface]
    embedding = surface == "embeddings"
    seen = Tokens(
        prompt=TOKENS.prompt,
        completion=TOKENS.completion,
        cached=TOKENS.cached if cached else 0,
        reasoning=TOKENS.reasoning if reasoning and not embedding else 0,
    )
    derived = make_telemetry()
    with peer_on(peer, derived), otel_tokens_in("processor", derived):
        await SURFACES[surface](*clients, TOKENS.headers())
    split = {t: derived.total(names.TOKENS.name, token_type=t) for t in names.TOKEN_TYPES}
    assert {t: n for t, n in split.items() if n} == seen.split(embeddings=embedding)
    model = EMBEDDING_MODEL if embedding else LEGACY_MODEL if surface == "completions" else MODEL
    assert derived.total(names.COST_USD.name) == pytest.approx(seen.cost(model, embeddings=embedding))
    if cached and (reasoning or embedding):  # the peer reports everything: exactly otel-tokens' numbers
        own = make_telemetry()
        with otel_tokens_in("instrument", own):
            await SURFACES[surface](*clients, TOKENS.headers())
        assert call_metrics(derived).keys() == call_metrics(own).keys()
        assert derived.total(names.COST_USD.name) == pytest.approx(own.total(names.COST_USD.name))


# --- outcomes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("peer", "surface"), params(lambda s: s in ("chat", "chat_stream")))
async def test_outcome_by_response_id(peer: Peer, surface: str, clients) -> None:
    tel = make_telemetry()
    with peer_on(peer, tel), otel_tokens_in("processor", tel):
        with otel_tokens.task("triage", team="support"):
            reply = await SURFACES[surface](*clients, Tokens(prompt=21, completion=8).headers())
            otel_tokens.record_outcome(outcome="used", response_id=reply.id)
        [span] = peer_spans(tel)
        labels = {"outcome": "used", "task": "triage", "team": "support", "provider": "openai"}
        assert tel.total(names.OUTCOME_CALLS.name, **labels) == 1
        assert tel.total(names.OUTCOME_TOKENS.name, **labels) == 29
        assert tel.total(names.OUTCOME_COST_USD.name, **labels) == pytest.approx(
            Tokens(prompt=21, completion=8).cost(MODEL)
        )
        [event] = [e.log_record for e in tel.outcome_events()]
        assert event.span_id == span.context.span_id


@pytest.mark.parametrize("peer", per_peer())
async def test_run_verdict_and_verdict_on_the_response(peer: Peer, clients) -> None:
    tel = make_telemetry()
    headers = Tokens(prompt=21, completion=8).headers()
    with peer_on(peer, tel), otel_tokens_in("processor", tel):
        with otel_tokens.task("agent") as run:
            await chat(*clients, headers)
            await chat_async(*clients, headers)
            run.mark_discarded()
        otel_tokens.mark_used(await chat(*clients, headers))  # found by the response's id
        assert tel.total(names.OUTCOME_CALLS.name, outcome="discarded", task="agent") == 2
        assert tel.total(names.OUTCOME_CALLS.name, outcome="used", task="unlabeled") == 1


# --- both on the same call: two spans, one count ------------------------------------------------------


def both_params() -> list[Any]:
    return [
        pytest.param(
            peer,
            surface,
            peer_first,
            marks=[pytest.mark.env(peer.env)],
            id=f"{peer.env}-{surface}-{'ours-outside-peer' if peer_first else 'peer-outside-ours'}",
        )
        for peer in PEERS
        for surface in ("chat", "chat_async", "chat_stream")
        for peer_first in (True, False)
    ]


@pytest.mark.parametrize(("peer", "surface", "peer_first"), both_params())
async def test_both_on_the_same_call_count_once(peer: Peer, surface: str, peer_first: bool, clients) -> None:
    """Whichever patched last runs outside: the processor skips the peer's span either way."""
    tel = make_telemetry()
    headers = TOKENS.headers()
    with contextlib.ExitStack() as stack:
        if peer_first:
            stack.enter_context(peer_on(peer, tel))
        stack.enter_context(otel_tokens_in("both", tel))
        if not peer_first:
            stack.enter_context(peer_on(peer, tel))
        await SURFACES[surface](*clients, headers)
        spans = tel.finished_spans()
        assert len(spans) == 2
        ours = [s for s in spans if s.instrumentation_scope.name == names.INSTRUMENTATION_NAME]
        [theirs] = peer_spans(tel)
        [our] = ours
        # The one patched last runs outside; the inner span is the outer one's child.
        outer, inner = (our, theirs) if peer_first else (theirs, our)
        assert inner.parent is not None and inner.parent.span_id == outer.context.span_id
        assert tel.total(names.CALLS.name) == 1
        split = {t: tel.total(names.TOKENS.name, token_type=t) for t in names.TOKEN_TYPES}
        assert {t: n for t, n in split.items() if n} == TOKENS.split()  # otel-tokens' own full split
        assert tel.total(names.COST_USD.name) == pytest.approx(TOKENS.cost(MODEL))


# --- never break the app ---------------------------------------------------------------------------


@pytest.mark.parametrize("peer", per_peer())
async def test_a_failing_processor_leaves_the_call_alone(peer: Peer, clients, monkeypatch) -> None:
    import openai

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected failure inside otel-tokens")

    tel = make_telemetry()
    headers = Tokens(prompt=21, completion=8).headers(**{"x-fake-output": "one two three"})
    monkeypatch.setattr("otel_tokens.processor.observed_call", boom)
    with peer_on(peer, tel), otel_tokens_in("processor", tel, raise_internal_errors=False):
        reply = await chat(*clients, headers)
        assert reply.choices[0].message.content == "one two three"
        with pytest.raises(openai.InternalServerError):
            await chat(*clients, {**headers, "x-fake-status": "500"})
        assert len(peer_spans(tel)) == 2
        assert tel.total(names.INTERNAL_ERRORS.name, stage="processor") == 2
        assert tel.total(names.CALLS.name) == 0
