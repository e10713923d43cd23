"""Counters summed in process and reported through observable counters.

The OTel SDK's synchronous ``Counter.add`` cleans and hashes its attributes on every call (~8 us
with six labels, ten adds per LLM call). Summing here into a dict keyed by the label values costs
~0.5 us, and the SDK reads the totals at collection time: the same monotonic cumulative sums,
with the same names, units and labels, for every reader and exporter (deltas are derived by the
SDK when a reader asks for them). Exemplars are not attached to these counters.

Instruments live as long as their meter: ``instrument()`` after ``uninstrument()`` on the same
meter provider gets the same sums back, as it would get the same synchronous counter back.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from typing import Any, cast

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from .names import MetricSpec


class SummedCounter:
    """A monotonic counter: ``add`` sums per label-value tuple; the SDK observes the totals."""

    __slots__ = ("_get", "_keys", "_lock", "_sums")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._keys = keys
        get = itemgetter(*keys) if keys else None
        self._get: Callable[[Mapping[str, str]], Any] | None = get
        self._lock = threading.Lock()
        self._sums: dict[tuple[str, ...], float] = {}

    def add(self, amount: float, attributes: Mapping[str, str]) -> None:
        if not amount >= 0 or math.isinf(amount):  # negative (as in the SDK), NaN or infinite: dropped
            return
        key = self._key(attributes)
        with self._lock:
            self._sums[key] = self._sums.get(key, 0) + amount

    def _key(self, attributes: Mapping[str, str]) -> tuple[str, ...]:
        get = self._get
        if get is None:
            return ()
        try:
            found = get(attributes)
        except KeyError:  # a label the caller did not set reports as empty
            return tuple(attributes.get(key, "") for key in self._keys)
        return found if len(self._keys) > 1 else (found,)

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            totals = list(self._sums.items())
        keys = self._keys
        return [Observation(total, dict(zip(keys, values, strict=True))) for values, total in totals]


class GaugeSource:
    """What an observable gauge reports: the latest instrumentation's source, else 0."""

    __slots__ = ("source",)

    def __init__(self) -> None:
        self.source: Callable[[], int] | None = None

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        source = self.source
        return [Observation(source() if source is not None else 0)]


# Per meter, by instrument name: what its callbacks read (a second create on the same meter
# returns the first instrument, whose callbacks stay the first ones).
_BY_METER: weakref.WeakKeyDictionary[Meter, dict[str, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _shared(meter: Meter) -> dict[str, Any]:
    with _LOCK:
        try:
            return _BY_METER.setdefault(meter, {})
        except TypeError:  # a meter that cannot be weakly referenced: nothing is shared
            return {}


def summed_counter(meter: Meter, spec: MetricSpec) -> SummedCounter:
    return cast(SummedCounter, _once(meter, spec, lambda: SummedCounter(spec.labels)))


def gauge_source(meter: Meter, spec: MetricSpec) -> GaugeSource:
    return cast(GaugeSource, _once(meter, spec, GaugeSource))


def _once(meter: Meter, spec: MetricSpec, make: Callable[[], SummedCounter | GaugeSource]) -> Any:
    """The observed object behind ``spec`` on ``meter``, its instrument created on first use
    (metric names are unique, so one name is always one kind)."""
    shared = _shared(meter)
    with _LOCK:
        found = shared.get(spec.name)
        if found is not None:
            return found
        found = shared[spec.name] = make()
    if isinstance(found, SummedCounter):
        meter.create_observable_counter(spec.name, [found.observe], spec.unit, spec.description)
    else:
        meter.create_observable_gauge(spec.name, [found.observe], spec.unit, spec.description)
    return found
