"""Workloads and routing: the task classes of each demand segment, and which offers may serve them. Pure functions.

A segment declares tasks ``j`` with volume shares ``share_j`` (summing to 1), a minimum quality ``qmin_j`` (a
fraction of the frontier) and a latency tolerance ``L_j`` (ms; none: infinite), and a routing sophistication
``rho`` in [0, 1]. Its classes are its tasks, routed one by one, plus one bundle class sent to offers that meet
every task::

    mix_j      = rho share_j                      qmin_j, L_j                   (task classes j = 1..J)
    mix_bundle = 1 - rho                          qmin = max_j qmin_j, L = min_j L_j

A segment without tasks has one class ``all`` (mix 1, no floor, no tolerance): today's market. Routing group
``g = segment * n_regions + region``; offer ``o`` may serve class ``k`` of group ``g`` when::

    quality_o >= qmin_k * frontier     and     latency[region_g, o] <= L_k

``latency`` is the total latency a buyer of the region meets at the offer (network + serving), ms. Unused
classes (segments with fewer tasks than the widest one) get mix 0 and no eligible offer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from market.config import SegmentConfig
from market.task_classes import TaskClasses

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

BUNDLE: str = "bundle"
"""Name of the class a segment's unrouted volume forms."""


@dataclass(frozen=True)
class TaskTable:
    """The task classes of every segment (S segments x K classes, padded with unused classes).

    Attributes:
        names: Class names per segment (``""`` for unused classes).
        mix: Share of the segment's volume per class (S x K; rows sum to 1).
        min_quality: Quality floor per class as a fraction of the frontier (S x K; ``inf`` for unused classes).
        latency_tolerance_ms: Latency tolerance per class, ms (S x K; ``inf``: none).
    """

    names: tuple[tuple[str, ...], ...]
    mix: FloatArray
    min_quality: FloatArray
    latency_tolerance_ms: FloatArray

    @property
    def declared(self) -> bool:
        """Whether any segment declares a task mix (otherwise the market has one class and classes are moot)."""
        return any(BUNDLE in n for n in self.names)


def task_table(segments: Sequence[SegmentConfig]) -> TaskTable:
    """The classes of every segment from its ``tasks`` and ``routing_sophistication`` (module docstring)."""
    rows: list[list[tuple[str, float, float, float]]] = []
    for seg in segments:
        if not seg.tasks:
            rows.append([("all", 1.0, 0.0, np.inf)])
            continue
        rho = seg.routing_sophistication
        tolerance = [np.inf if t.latency_tolerance_ms is None else t.latency_tolerance_ms for t in seg.tasks]
        classes = [(t.name, rho * t.share, t.min_quality, tol) for t, tol in zip(seg.tasks, tolerance, strict=True)]
        classes.append((BUNDLE, 1.0 - rho, max(t.min_quality for t in seg.tasks), min(tolerance)))
        rows.append(classes)
    width = max(len(r) for r in rows)
    padded = [r + [("", 0.0, np.inf, np.inf)] * (width - len(r)) for r in rows]
    return TaskTable(names=tuple(tuple(c[0] for c in r) for r in padded),
                     mix=np.array([[c[1] for c in r] for r in padded]),
                     min_quality=np.array([[c[2] for c in r] for r in padded]),
                     latency_tolerance_ms=np.array([[c[3] for c in r] for r in padded]))


def eligibility(table: TaskTable, n_regions: int, offer_quality: FloatArray, frontier: float,
                total_latency_ms: FloatArray) -> NDArray[np.bool_]:
    """``eligible[g, k, o]`` for groups ``g = segment * n_regions + region`` (module docstring).

    Args:
        table: The segments' classes.
        n_regions: R.
        offer_quality: Quality of each offer (O).
        frontier: Frontier quality this step.
        total_latency_ms: Total latency a buyer of each region meets at each offer, ms (R x O).
    """
    n_offers = len(offer_quality)
    if total_latency_ms.shape != (n_regions, n_offers):
        raise ValueError(f"total_latency_ms must be regions x offers = {(n_regions, n_offers)}")
    good_enough = offer_quality[None, None, :] >= table.min_quality[:, :, None] * frontier  # S x K x O
    fast_enough = total_latency_ms[None, :, None, :] <= table.latency_tolerance_ms[:, None, :, None]  # S x R x K x O
    eligible = good_enough[:, None, :, :] & fast_enough
    return eligible.reshape(-1, table.mix.shape[1], n_offers)


def build_task_classes(table: TaskTable, segment: IntArray, region: IntArray, n_regions: int,
                       offer_quality: FloatArray, frontier: float, total_latency_ms: FloatArray) -> TaskClasses:
    """The clearing's :class:`~market.task_classes.TaskClasses` for buyers of ``segment`` and ``region`` (E).

    Group ``g = segment * n_regions + region``; the mix of a group is its segment's.
    """
    return TaskClasses(group=np.asarray(segment, dtype=np.int64) * n_regions + np.asarray(region, dtype=np.int64),
                       mix=np.repeat(table.mix, n_regions, axis=0),
                       eligible=eligibility(table, n_regions, np.asarray(offer_quality, dtype=np.float64), frontier,
                                            np.asarray(total_latency_ms, dtype=np.float64)))
