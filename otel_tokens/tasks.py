"""Task runs: which task (and team) an LLM call served, carried on the OTel context.

A run is entered with ``with`` / ``async with`` or used as a decorator. It lives on the
OTel context (contextvars, so asyncio tasks inherit it) and in OTel baggage (so it crosses
services with the app's propagators). The innermost run wins.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from opentelemetry import baggage, context

from . import names

if TYPE_CHECKING:
    from .outcomes import PendingCall

MAX_NAME_LENGTH: Final = 128
# Longer label values (a model name from a response, say) are not names: they count as overflow.
MAX_LABEL_VALUE_LENGTH: Final = 256
_RUN_KEY: Final = context.create_key("otel_tokens.task_run")

F = TypeVar("F", bound=Callable[..., Any])


def validate_name(value: object, argument: str, *, optional: bool = False) -> str | None:
    """Check a task or team name; raise a ``ValueError``/``TypeError`` naming ``argument``."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{argument} must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{argument} is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}")
    if not value.isprintable():
        raise ValueError(f"{argument} must not contain control characters: {value!r}")
    return value


class BudgetExceeded(RuntimeError):
    """Raised before an LLM call that the task run's opt-in budget no longer allows."""

    def __init__(self, task: str, limit: str, allowed: float, spent: float) -> None:
        super().__init__(f"task {task!r} reached its budget: {limit}={allowed:g}, already spent {spent:g}")
        self.task = task
        self.limit = limit
        self.allowed = allowed
        self.spent = spent


class TaskRun:
    """One run of a task. Use as ``with``/``async with`` or as a decorator.

    Example::

        with otel_tokens.task("email-triage", team="support") as run:
            reply = client.chat.completions.create(...)
            run.mark_used()
    """

    def __init__(
        self,
        name: str,
        team: str | None = None,
        *,
        max_tokens: int | None = None,
        max_cost_usd: float | None = None,
        max_calls: int | None = None,
    ) -> None:
        self.name: str = validate_name(name, "name") or names.UNLABELED_TASK
        self.team: str | None = validate_name(team, "team", optional=True)
        for argument, limit in (
            ("max_tokens", max_tokens),
            ("max_cost_usd", max_cost_usd),
            ("max_calls", max_calls),
        ):
            if limit is not None and (
                isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit >= 0  # NaN too
            ):
                raise ValueError(f"{argument} must be a non-negative number, got {limit!r}")
        self.max_tokens = max_tokens
        self.max_cost_usd = max_cost_usd
        self.max_calls = max_calls
        self.parent: TaskRun | None = None
        self.verdict: str | None = None
        self.calls: list[PendingCall] = []
        self.call_count = 0
        self.tokens = 0
        self.cost_usd = 0.0
        self.runaway_reported = False
        self.lock = threading.Lock()
        self._token: object | None = None
        self._entered = False
        self._ended = False

    # --- verdicts ------------------------------------------------------------------------------------
    def mark_used(self) -> None:
        """Verdict ``used`` for every call of this run that has no verdict of its own."""
        self._set_verdict(names.Outcome.USED.value)

    def mark_discarded(self) -> None:
        """Verdict ``discarded`` for every call of this run that has no verdict of its own."""
        self._set_verdict(names.Outcome.DISCARDED.value)

    def _set_verdict(self, outcome: str) -> None:
        from .outcomes import warn_repeat_verdict

        if self._ended or self.verdict is not None:
            warn_repeat_verdict(f"task run {self.name!r}")
            return
        self.verdict = outcome

    # --- context management --------------------------------------------------------------------------
    def __enter__(self) -> TaskRun:
        if self._entered:
            raise RuntimeError(f"task run {self.name!r} was already entered; call otel_tokens.task() again")
        self._entered = True
        self.parent = current_run()
        if self.team is None:
            # A run without a team belongs to the enclosing run's team (or the upstream one from
            # baggage), as the baggage it passes on already says.
            self.team = current_labels()[1]
        ctx = context.set_value(_RUN_KEY, self)
        ctx = baggage.set_baggage(names.BAGGAGE_TASK, self.name, ctx)
        if self.team is not None:
            ctx = baggage.set_baggage(names.BAGGAGE_TEAM, self.team, ctx)
        self._token = context.attach(ctx)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            context.detach(self._token)  # type: ignore[arg-type]
            self._token = None
        self._end()

    async def __aenter__(self) -> TaskRun:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)

    def _end(self) -> None:
        from .outcomes import end_run

        self._ended = True
        end_run(self)

    @property
    def ended(self) -> bool:
        return self._ended

    def _fresh(self) -> TaskRun:
        return TaskRun(
            self.name,
            self.team,
            max_tokens=self.max_tokens,
            max_cost_usd=self.max_cost_usd,
            max_calls=self.max_calls,
        )

    def __call__(self, func: F) -> F:
        """Decorate a sync or async function: every invocation is a fresh run of this task."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"TaskRun(name={self.name!r}, team={self.team!r}, calls={self.call_count})"


def task(
    name: str,
    team: str | None = None,
    *,
    max_tokens: int | None = None,
    max_cost_usd: float | None = None,
    max_calls: int | None = None,
) -> TaskRun:
    """Label every LLM call made inside with a task (and team).

    Example::

        with otel_tokens.task("code-review", team="platform") as run:
            ...

        @otel_tokens.task("summarize")
        async def summarize(text: str) -> str: ...
    """
    return TaskRun(name, team, max_tokens=max_tokens, max_cost_usd=max_cost_usd, max_calls=max_calls)


def current_run() -> TaskRun | None:
    """The innermost task run on the current context, if any."""
    run = context.get_value(_RUN_KEY)
    return run if isinstance(run, TaskRun) else None


def current_labels() -> tuple[str, str | None, TaskRun | None]:
    """(task, team, run) for a call starting now: the local run, else baggage from upstream."""
    run = context.get_value(_RUN_KEY)
    if isinstance(run, TaskRun):
        return run.name, run.team, run
    entries = baggage.get_all()
    if not entries:
        return names.UNLABELED_TASK, None, None
    task_name = entries.get(names.BAGGAGE_TASK)
    team = entries.get(names.BAGGAGE_TEAM)
    return (
        _safe_name(task_name) or names.UNLABELED_TASK,
        _safe_name(team),
        None,
    )


def _safe_name(value: object) -> str | None:
    # Baggage comes from other services: never raise on it, just ignore what is invalid.
    try:
        return validate_name(value, "baggage", optional=True)
    except (TypeError, ValueError):
        return None


class LabelCap:
    """Caps the distinct values of one metric label, and their length; the overflow maps to
    ``__other__``. Memory stays bounded whatever the values: at most ``limit`` of them are kept."""

    def __init__(self, label: str, limit: int, on_overflow: Callable[[str], None]) -> None:
        self.label = label
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._on_overflow = on_overflow

    def __call__(self, value: str) -> str:
        if not isinstance(value, str):  # a provider's non-string model, say: never a label value
            self._on_overflow(self.label)
            return names.OVERFLOW_LABEL_VALUE
        if value in self._seen:
            return value
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) < self.limit and len(value) <= MAX_LABEL_VALUE_LENGTH:
                self._seen.add(value)
                return value
        self._on_overflow(self.label)
        return names.OVERFLOW_LABEL_VALUE
