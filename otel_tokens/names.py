"""The registry of every name otel-tokens emits: span attributes, metrics, labels, outcomes.

The recorder, the dashboard and rule generators and the tests all import from here,
so a name exists exactly once. Prometheus names are derived in one function,
:func:`prometheus_name`, the same way the OTel Prometheus exporter derives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

INSTRUMENTATION_NAME: Final = "otel_tokens"
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.37.0"

# --- OTel GenAI semantic conventions (current names) -------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"  # noqa: S105 - not a secret
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_RESULT_EVENT: Final = "gen_ai.evaluation.result"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
ENDUSER_ID: Final = "enduser.id"

# Deprecated semconv names, still emitted by older instrumentations (read by the span processor).
GEN_AI_SYSTEM: Final = "gen_ai.system"
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"

# --- otel-tokens span attributes ------------------------------------------------------------------
ATTR_TASK: Final = "otel_tokens.task"
ATTR_TEAM: Final = "otel_tokens.team"
ATTR_COST_USD: Final = "otel_tokens.cost.usd"
ATTR_COST_PRICED: Final = "otel_tokens.cost.priced"
ATTR_USAGE_SOURCE: Final = "otel_tokens.usage.source"
ATTR_REPEAT: Final = "otel_tokens.repeat"

EVALUATION_NAME: Final = "otel_tokens.outcome"
UNLABELED_TASK: Final = "unlabeled"
OVERFLOW_LABEL_VALUE: Final = "__other__"

# Baggage keys carrying the task across services.
BAGGAGE_TASK: Final = ATTR_TASK
BAGGAGE_TEAM: Final = ATTR_TEAM


class Outcome(str, Enum):
    """What became of a call's output. Exactly one per call."""

    USED = "used"
    DISCARDED = "discarded"
    UNREAD = "unread"
    UNMARKED = "unmarked"
    ERROR = "error"


OUTCOMES: Final = tuple(o.value for o in Outcome)
VERDICTS: Final = (Outcome.USED.value, Outcome.DISCARDED.value)


class TokenType(str, Enum):
    """Disjoint token kinds: their sum is the billed total."""

    INPUT = "input"
    CACHE_READ = "cache_read"
    CACHE_WRITE = "cache_write"
    OUTPUT = "output"
    REASONING = "reasoning"


TOKEN_TYPES: Final = tuple(t.value for t in TokenType)


class UsageSource(str, Enum):
    PROVIDER = "provider"
    ESTIMATED = "estimated"
    MISSING = "missing"


class CallStatus(str, Enum):
    OK = "ok"
    ERROR = "error"


# --- metric labels ---------------------------------------------------------------------------------
LABEL_PROVIDER: Final = "provider"
LABEL_MODEL: Final = "model"
LABEL_OPERATION: Final = "operation"
LABEL_TASK: Final = "task"
LABEL_TEAM: Final = "team"
LABEL_TOKEN_TYPE: Final = "token_type"  # noqa: S105 - not a secret
LABEL_STATUS: Final = "status"
LABEL_OUTCOME: Final = "outcome"
LABEL_STAGE: Final = "stage"
LABEL_LABEL: Final = "label"

CALL_LABELS: Final = (LABEL_PROVIDER, LABEL_MODEL, LABEL_OPERATION, LABEL_TASK, LABEL_TEAM)
# Labels whose values come from users and are capped.
CAPPED_LABELS: Final = (LABEL_TASK, LABEL_TEAM, LABEL_MODEL)

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    """One instrument: its OTel name, kind, unit and the labels it carries."""

    name: str
    kind: Kind
    unit: str
    description: str
    labels: tuple[str, ...]

    @property
    def prometheus(self) -> str:
        return prometheus_name(self)


def prometheus_name(spec: MetricSpec) -> str:
    """The name the OTel Prometheus exporter exposes for ``spec`` (without histogram suffixes).

    Dots become underscores, a unit outside braces is appended (``s`` as ``seconds``),
    and counters get ``_total``.
    """
    name = spec.name.replace(".", "_")
    unit = _PROMETHEUS_UNITS.get(spec.unit, spec.unit)
    if unit and not (spec.unit.startswith("{") and spec.unit.endswith("}")) and spec.unit != "1":
        name = f"{name}_{unit}"
    if spec.kind == "counter":
        name += "_total"
    return name


_PROMETHEUS_UNITS: Final = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}

_C = CALL_LABELS
TOKENS = MetricSpec(
    "otel_tokens.tokens", "counter", "{token}", "Billed tokens by disjoint type.", (*_C, LABEL_TOKEN_TYPE)
)
COST_USD = MetricSpec("otel_tokens.cost_usd", "counter", "{USD}", "Cost of LLM calls in US dollars.", _C)
CALLS = MetricSpec("otel_tokens.calls", "counter", "{call}", "LLM calls by status.", (*_C, LABEL_STATUS))
OUTCOME_TOKENS = MetricSpec(
    "otel_tokens.outcome_tokens",
    "counter",
    "{token}",
    "Billed tokens of resolved calls by outcome.",
    (*_C, LABEL_OUTCOME),
)
OUTCOME_COST_USD = MetricSpec(
    "otel_tokens.outcome_cost_usd",
    "counter",
    "{USD}",
    "Cost of resolved calls by outcome.",
    (*_C, LABEL_OUTCOME),
)
OUTCOME_CALLS = MetricSpec(
    "otel_tokens.outcome_calls", "counter", "{call}", "Resolved calls by outcome.", (*_C, LABEL_OUTCOME)
)
PENDING_CALLS = MetricSpec("otel_tokens.pending_calls", "gauge", "{call}", "Calls awaiting an outcome.", ())
UNPRICED_CALLS = MetricSpec(
    "otel_tokens.unpriced_calls", "counter", "{call}", "Calls whose model had no known price.", _C
)
INTERNAL_ERRORS = MetricSpec(
    "otel_tokens.internal_errors",
    "counter",
    "{error}",
    "Failures inside otel-tokens (never the user's).",
    (LABEL_STAGE,),
)
LABEL_OVERFLOWS = MetricSpec(
    "otel_tokens.label_overflows",
    "counter",
    "{value}",
    "Label values replaced by __other__ because the label reached its cap.",
    (LABEL_LABEL,),
)
REJECTED_REFS = MetricSpec(
    "otel_tokens.rejected_refs",
    "counter",
    "{ref}",
    "Outcome refs rejected as forged, altered, expired, replayed or malformed.",
    ("reason",),
)
REPEAT_CALLS = MetricSpec(
    "otel_tokens.repeat_calls",
    "counter",
    "{call}",
    "Calls whose request was seen within the repeat window.",
    _C,
)
REPEAT_TOKENS = MetricSpec(
    "otel_tokens.repeat_tokens", "counter", "{token}", "Billed tokens of repeated calls.", _C
)
RUNAWAY_RUNS = MetricSpec(
    "otel_tokens.runaway_runs",
    "counter",
    "{run}",
    "Task runs over the call or token threshold.",
    (LABEL_TASK, LABEL_TEAM),
)
BUDGET_BLOCKS = MetricSpec(
    "otel_tokens.budget_blocks",
    "counter",
    "{call}",
    "Calls refused by an opt-in budget guard.",
    (LABEL_TASK, LABEL_TEAM),
)

# Semantic-convention histograms (labels are semconv attribute names).
SEMCONV_LABELS: Final = (
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    SERVER_ADDRESS,
    SERVER_PORT,
    ERROR_TYPE,
)
TOKEN_USAGE = MetricSpec(
    "gen_ai.client.token.usage",
    "histogram",
    "{token}",
    "Number of input and output tokens used.",
    (*SEMCONV_LABELS, GEN_AI_TOKEN_TYPE),
)
OPERATION_DURATION = MetricSpec(
    "gen_ai.client.operation.duration", "histogram", "s", "GenAI operation duration.", SEMCONV_LABELS
)
TIME_TO_FIRST_CHUNK = MetricSpec(
    "gen_ai.client.operation.time_to_first_chunk",
    "histogram",
    "s",
    "Time to receive the first chunk of a streamed response.",
    SEMCONV_LABELS,
)

# Bucket boundaries from the GenAI semantic conventions.
TOKEN_BUCKETS: Final = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
DURATION_BUCKETS: Final = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)

METRICS: Final = (
    TOKENS,
    COST_USD,
    CALLS,
    OUTCOME_TOKENS,
    OUTCOME_COST_USD,
    OUTCOME_CALLS,
    PENDING_CALLS,
    UNPRICED_CALLS,
    INTERNAL_ERRORS,
    LABEL_OVERFLOWS,
    REJECTED_REFS,
    REPEAT_CALLS,
    REPEAT_TOKENS,
    RUNAWAY_RUNS,
    BUDGET_BLOCKS,
    TOKEN_USAGE,
    OPERATION_DURATION,
    TIME_TO_FIRST_CHUNK,
)

# Stages named in otel_tokens_internal_errors_total{stage}.
STAGES: Final = (
    "request",
    "response",
    "stream_chunk",
    "stream_end",
    "pricing",
    "recording",
    "outcome",
    "ref",
    "read_tracking",
    "export",
    "processor",
    "budget",
    "fingerprint",
    "instrument",
)
