"""Scenario configuration: one typed schema, defaults in one place.

A scenario is a TOML document validated by :class:`ScenarioConfig`. Every field carries its unit in its
name or description, and its default is defined here and nowhere else; ``docs/parameters.md`` is generated
from this module (``python -m market.config.docs``).

Units used throughout the product:

* one step is one month;
* token volumes are in millions of tokens (Mtok), prices in US dollars per Mtok ($/Mtok);
* money in US dollars; power in kW per GPU and MW per region; power prices in $/kWh;
* quality is a capability index on which the frontier model starts at ``technology.frontier_quality_start``.

Values are checked strictly: a number is never read from a string (``mu = "0.35"`` is an error), a boolean is
not a number (``steps = true`` is an error), an integer setting does not take a float (``steps = 10.0``); a
float setting takes an integer. Limits that hold for every setting:

* floats are finite and at most :data:`MAX_MAGNITUDE` (1e15) in absolute value; NaN is never accepted, and
  infinity only where a setting documents what it means (``inf``: unconstrained or unlimited);
* integers are bounded: seeds in ``[0, 2**63)`` (:data:`MAX_SEED`), months and steps at most
  :data:`MAX_MONTHS` (1,200, a century) unless stated otherwise, counts as stated per setting;
* the logit scale ``logit.mu`` lies in ``[MU_MIN, MU_MAX]`` = [0.05, 10]: the range in which a 60-step
  baseline run gives finite outputs (below about 0.02 the logit weights overflow to NaN, above about 30
  best-response prices overflow to infinity);
* a yearly growth rate compounded over the run (frontier quality, algorithmic efficiency, segment demand)
  grows its quantity at most 1e30 times, ``(1 + g) ** (steps / 12) <= 1e30``
  (:data:`~market.config.consistency.MAX_GROWTH_FACTOR`);
* provider and reseller names are unique after ``count`` expansion (``x`` with ``count = 3`` is ``x_1``,
  ``x_2``, ``x_3``), and entrants' names (``name_1`` ... ``name_<max_entries>``) collide with none of them.
"""

from __future__ import annotations

import math
import typing
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from market.concentration import SHARE_PRESUMPTIONS, MergerScreen
from market.config.consistency import check_growth_horizon, check_tiers, check_unique_names
from market.metrics import MERGER_SCREENS

ProviderKind = Literal["hyperscaler", "specialized", "decentralized"]
PROVIDER_KIND_NAMES: tuple[str, ...] = typing.get_args(ProviderKind)
"""Provider kinds in the order every output column and kind id uses."""
UtilityForm = Literal["linear", "log"]

NonNegFloat = Annotated[float, Field(ge=0.0)]
PosFloat = Annotated[float, Field(gt=0.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]

MAX_MAGNITUDE = 1e15
"""Largest absolute value of any finite float setting."""
MAX_SEED = 2**63 - 1
"""Largest seed (numpy's SeedSequence takes any non-negative integer; 63 bits fit an int64 column)."""
MAX_MONTHS = 1200
"""Largest number of months (or steps of a month) that a duration setting takes: a century."""
MU_MIN, MU_MAX = 0.05, 10.0
"""Range of the logit scale in which a baseline run stays computable (see the module docstring)."""


def _not_nan(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        raise ValueError("NaN is not a number a setting can take")
    return value


InfFloat = Annotated[float, Field(allow_inf_nan=True), BeforeValidator(_not_nan)]
"""A float that may be ``inf`` (where the setting documents what infinity means); never NaN."""


class _Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, ser_json_inf_nan="strings", strict=True, allow_inf_nan=False
    )

    @field_validator("*", mode="after")
    @classmethod
    def _bounded_magnitude(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, float) and math.isfinite(value) and abs(value) > MAX_MAGNITUDE:
            raise ValueError(f"{value:g} is beyond the largest magnitude a setting takes ({MAX_MAGNITUDE:g})")
        return value


# --------------------------------------------------------------------------------------------------------
# Simulation, logit and outside option
# --------------------------------------------------------------------------------------------------------


class SimulationConfig(_Section):
    """How long a run lasts and how the market is cleared."""

    steps: int = Field(60, ge=1, le=100_000, description="Number of monthly steps to simulate.")
    seed: int = Field(
        0,
        ge=0,
        le=MAX_SEED,
        description="Default root seed of a run, 0 <= seed < 2**63 (the CLI's --seed overrides it).",
    )
    rationing_rounds: int = Field(
        3,
        ge=0,
        le=50,
        description="Rounds in which demand rationed at full offers is re-offered to offers with spare capacity.",
    )
    volume_tolerance: Annotated[float, Field(gt=0.0, le=0.1)] = Field(
        1e-3,
        description=(
            "Convergence criterion of the volume fixed point under rationing: largest |ln V_target - ln V| over "
            "buyers (1e-3 = 0.1% of volume)."
        ),
    )
    volume_max_iterations: int = Field(
        20, ge=1, le=1000, description="Most clearings computed to find the volume fixed point under rationing."
    )
    workloads_per_firm: Annotated[float, Field(gt=0.0, le=10_000.0)] = Field(
        8.0,
        description=(
            "Mean number of workloads (applications) a firm runs a month, each placed whole on one model drawn "
            "with its agent's token shares; sets how many models a firm uses in the multihoming_* columns."
        ),
    )
    clearing_kernel: Literal["fused", "numpy"] = Field(
        "fused",
        description=(
            "Implementation of the clearing: 'fused' (compiled row passes, market.clearing_kernel) or 'numpy' "
            "(the reference, market.clearing); the clearing agrees to 1e-12 relative, whole runs to about 1e-6."
        ),
    )
    save_networks: bool = Field(
        False, description="Write the final contract, ownership and GPU-flow networks as node/edge Parquet tables."
    )
    enterprise_output: Literal["aggregate", "agent"] = Field(
        "aggregate",
        description="enterprises.parquet by (region, segment) ('aggregate') or one row per agent and step ('agent').",
    )


class LogitConfig(_Section):
    """The enterprises' discrete-choice model (multinomial logit with an outside option)."""

    mu: float = Field(
        0.25,
        ge=MU_MIN,
        le=MU_MAX,
        description=(
            "Logit scale (utility units): larger means noisier, less price-driven choice; 0.05 to 10, the range in "
            "which a baseline run stays computable."
        ),
    )
    utility_form: UtilityForm = Field(
        "log",
        description=(
            "'linear': utility = quality_weight*q - price_sensitivity*p (Calvano et al. 2020); "
            "'log': utility = quality_weight*ln(q) - price_sensitivity*ln(p), scale-free as prices fall."
        ),
    )
    offer_shock_sd: NonNegFloat = Field(
        0.0, description="Std. dev. of a per-step utility shock to each offer, common to all buyers (utility units)."
    )


class OutsideOptionConfig(_Section):
    """The outside option: not buying (utility a0) or self-hosting open-weight models on own GPUs."""

    value: float = Field(0.0, description="Utility a0 of not buying inference at all.")
    self_hosting: bool = Field(True, description="Whether buyers may self-host open-weight models on their own GPUs.")
    self_host_quality_factor: PosFloat = Field(
        0.9, description="Quality of a self-hosted model as a fraction of open-weight quality."
    )
    self_host_utilization: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.3, description="Average utilization of self-hosted GPUs (fraction); low utilization raises self-host cost."
    )
    self_host_efficiency: PosFloat = Field(
        0.6, description="Serving efficiency of self-hosting relative to a reference stack (tokens per GPU multiplier)."
    )
    self_host_penalty: NonNegFloat = Field(
        1.0, description="Utility cost of running one's own inference (staff, operations), utility units."
    )
    self_host_gpu_premium: PosFloat = Field(
        1.0, description="Multiplier on the secondary GPU price a self-hoster pays (retail premium)."
    )
    self_host_pue: Annotated[float, Field(ge=1.0)] = Field(
        1.3, description="Power usage effectiveness of self-hosting."
    )
    self_host_opex_usd_per_gpu_month: NonNegFloat = Field(
        300.0, description="Operating cost per self-hosted GPU and month, $ (hosting, staff share)."
    )


# --------------------------------------------------------------------------------------------------------
# Technology and regions
# --------------------------------------------------------------------------------------------------------


class GenerationConfig(_Section):
    """One GPU generation (vintage)."""

    name: str = Field(..., min_length=1, description="Generation name, e.g. 'H100'.")
    release_step: int = Field(
        0,
        ge=-MAX_MONTHS,
        le=100_000,
        description="Step at which the generation can be bought new (negative: already out).",
    )
    list_price_usd: PosFloat = Field(..., description="New price per GPU, $.")
    throughput_tokens_per_s: PosFloat = Field(
        ..., description="Tokens per second one GPU serves on the reference model with a reference stack."
    )
    power_kw: PosFloat = Field(..., description="Power draw per GPU including its share of the server, kW.")
    lifetime_months: int = Field(
        60, ge=1, le=MAX_MONTHS, description="Physical/accounting life; GPUs are scrapped at this age."
    )
    vendor_supply_per_month: InfFloat = Field(
        math.inf,
        ge=0.0,
        description=(
            "New GPUs the vendor can ship per month (inf: unconstrained); scarce supply is allocated by "
            "technology.vendor_allocation."
        ),
    )


class TechnologyConfig(_Section):
    """Exogenous technology: model quality and GPU generations."""

    frontier_quality_start: PosFloat = Field(1.0, description="Frontier capability index at step 0.")
    frontier_growth_per_year: NonNegFloat = Field(
        0.0, description="Yearly growth rate of the frontier capability index (0.5 = +50% a year)."
    )
    open_lag_months_start: NonNegFloat = Field(
        6.0, description="Months by which open-weight quality trails the frontier at step 0."
    )
    distillation_speed: NonNegFloat = Field(
        0.0, description="Months of parity lag closed per year (open models catch up faster when larger)."
    )
    open_lag_months_min: NonNegFloat = Field(1.0, description="Smallest parity lag, months.")
    algorithmic_efficiency_growth_per_year: NonNegFloat = Field(
        0.0,
        description=(
            "Yearly growth of tokens served per GPU at a given quality from software and model efficiency "
            "(quantization, distillation, batching); applies to every installed GPU."
        ),
    )
    generations: list[GenerationConfig] = Field(default_factory=list, description="GPU generations, any order.")
    vendor_allocation: Literal["deepest_pockets", "pro_rata"] = Field(
        "deepest_pockets",
        description=(
            "How scarce new GPUs are shared: 'deepest_pockets' fills buyers in order of cash + credit; "
            "'pro_rata' scales every order by the same fraction."
        ),
    )
    reference_generation: str | None = Field(
        None, description="Generation whose secondary price is reported as secondary_gpu_price (default: the first)."
    )

    @model_validator(mode="after")
    def _check_generations(self) -> TechnologyConfig:
        names = [g.name for g in self.generations]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate generation name(s): {', '.join(dupes)}")
        if self.reference_generation is not None and self.reference_generation not in names:
            raise ValueError(
                f"reference_generation '{self.reference_generation}' is not a generation (have: {', '.join(names)})"
            )
        return self


class RegionConfig(_Section):
    """A geographic region with its own power market, demand and data-residency rules."""

    name: str = Field(..., min_length=1, description="Region name, e.g. 'na'.")
    demand_share: NonNegFloat = Field(1.0, description="Relative weight of enterprises located here (normalized).")
    power_price_usd_per_kwh: NonNegFloat = Field(0.08, description="Base industrial power price, $/kWh.")
    power_capacity_mw: InfFloat = Field(
        math.inf, gt=0.0, description="Grid capacity available to data centres, MW (inf: unconstrained)."
    )
    power_price_congestion: NonNegFloat = Field(
        1.0, description="Power price rises by this fraction times (load/capacity)^2 as the region fills."
    )
    residency_strictness: Fraction = Field(
        0.0, description="Probability scale that an enterprise here must keep data in-region (times its propensity)."
    )
    latency_penalty: NonNegFloat = Field(0.2, description="Utility penalty for being served from another region.")
    local_latency_ms: NonNegFloat = Field(
        0.0, description="Network latency of an offer served in the buyer's own region, ms (tolerances, reporting)."
    )
    remote_latency_ms: NonNegFloat = Field(
        0.0,
        description=(
            "Network latency to a buyer here of an offer served from another region, ms (tolerances, reporting; "
            "its utility cost is latency_penalty)."
        ),
    )


class TierConfig(_Section):
    """A model tier (e.g. frontier, mid, small): quality, tokens per GPU and base latency relative to the model a
    provider serves."""

    name: str = Field(..., min_length=1, description="Tier name, e.g. 'frontier'.")
    quality_factor: PosFloat = Field(
        1.0, description="Quality relative to the model the provider serves (frontier or open-weight), fraction."
    )
    throughput_multiplier: PosFloat = Field(
        1.0, description="Tokens per GPU relative to the reference model (one Mtok uses 1/multiplier capacity units)."
    )
    base_latency_ms: NonNegFloat = Field(
        0.0, description="Serving latency at zero load, ms (also the mean service time of the batching queue)."
    )
    quality_gap_half_life_months: PosFloat | None = Field(
        None, description="Months in which the tier closes half its quality gap to the model the provider serves "
        "(distillation: quality_factor(t) = 1 - (1 - quality_factor) * 2^(-t / half-life)); none: a constant factor."
    )


class LatencyConfig(_Section):
    """Serving latency that rises with load: Kingman's approximation for the batching queue (market.latency)."""

    arrival_cv: NonNegFloat = Field(1.0, description="Coefficient of variation of request inter-arrival times (ca).")
    service_cv: NonNegFloat = Field(1.0, description="Coefficient of variation of batch service times (cs).")
    max_utilization: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        0.95, description="Utilization at which the queueing formula is evaluated at most (it diverges at 1)."
    )
    adaptation: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        1.0,
        description=(
            "Weight of last month's pool utilization in the utilization latency is quoted at (adaptive "
            "expectations: u <- u + adaptation * (realized - u)); 1: last month's alone."
        ),
    )


# --------------------------------------------------------------------------------------------------------
# Enterprises (demand)
# --------------------------------------------------------------------------------------------------------


class TaskConfig(_Section):
    """A task class of a segment's volume (``[[segments.tasks]]``): its share, quality floor and latency tolerance."""

    name: str = Field(..., min_length=1, description="Task name, e.g. 'hard' (unique within the segment).")
    share: Fraction = Field(..., description="Share of the segment's tokens in this task (shares sum to 1).")
    min_quality: Fraction = Field(
        0.0, description="Quality an offer must reach to serve the task, as a fraction of the frontier quality."
    )
    latency_tolerance_ms: PosFloat | None = Field(
        None, description="Offers slower than this (network + serving latency, ms) cannot serve the task; omit: none."
    )


class SegmentConfig(_Section):
    """A demand segment: a population of weighted representative enterprise agents."""

    name: str = Field(..., min_length=1, description="Segment name, e.g. 'performance_first'.")
    n_agents: int = Field(
        1000, ge=1, le=1_000_000, description="Number of enterprise agents in the segment (at most 1,000,000)."
    )
    firms_per_agent: float = Field(
        1.0, gt=0.0, le=1e9, description="Real firms each agent stands for (its weight), at most 1e9."
    )
    base_demand_mtok_per_month: PosFloat = Field(
        100.0, description="Median monthly token need of one firm at the reference price at step 0, Mtok."
    )
    demand_dispersion: NonNegFloat = Field(1.0, description="Log-normal sigma of firm size across agents.")
    demand_growth_per_year: float = Field(
        0.0, ge=-0.99, description="Yearly growth of base demand at constant price (1.0 = doubling)."
    )
    price_elasticity: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="Elasticity of token volume to the effective price paid (0: fixed volume; at most 10).",
    )
    reference_price_usd_per_mtok: PosFloat = Field(
        1.0, description="Price at which base demand is quoted, $/Mtok (volume = base*(p/p_ref)^-elasticity)."
    )
    price_sensitivity: PosFloat = Field(1.0, description="Utility weight on price (b); mean across agents.")
    price_sensitivity_dispersion: NonNegFloat = Field(
        0.0, description="Log-normal sigma of price sensitivity across agents."
    )
    quality_weight: NonNegFloat = Field(1.0, description="Utility weight on quality.")
    quality_floor: Fraction = Field(
        0.0,
        description=(
            "Mean over the segment's agents of the quality floor: offers (and self-hosting) below an agent's floor "
            "times the current frontier quality are not considered."
        ),
    )
    quality_floor_sd: Annotated[float, Field(ge=0.0, lt=0.5)] = Field(
        0.0,
        description=(
            "Std. dev. across agents of the quality floor, each agent's floor drawn at set-up from a Beta "
            "distribution with mean quality_floor (0: one threshold for the whole segment)."
        ),
    )
    privacy_sensitivity: NonNegFloat = Field(0.0, description="Utility weight on a provider's privacy risk (mean).")
    residency_propensity: Fraction = Field(
        0.0, description="Probability an agent must keep data in its region (times region strictness)."
    )
    lockin_aversion: NonNegFloat = Field(0.0, description="Utility weight on a provider's lock-in strength.")
    trust_weight: NonNegFloat = Field(
        0.0, description="Utility penalty per unit of unverified capacity fraction (decentralized trust problem)."
    )
    reliability_weight: NonNegFloat = Field(0.0, description="Utility weight on a provider's unreliability (1-r).")
    latency_weight_per_s: NonNegFloat = Field(
        0.0, description="Utility lost per second of an offer's serving latency (0: latency does not matter)."
    )
    switching_cost: NonNegFloat = Field(
        0.0, description="Utility cost of buying from a provider other than the current main one."
    )
    switching_cost_growth_per_year: NonNegFloat = Field(
        0.0, description="Added switching cost per year of tenure with the current provider (utility/year)."
    )
    switching_cost_max: NonNegFloat = Field(10.0, description="Cap on the switching cost (utility units).")
    initial_contract_share: Fraction = Field(
        0.0,
        description=(
            "Share of agents that start with a main provider (drawn in proportion to providers' capacity in the "
            "agent's region): the contracts a market already has at step 0."
        ),
    )
    initial_tenure_months_max: int = Field(
        24, ge=0, le=MAX_MONTHS, description="Tenure of initial contracts is drawn uniformly from 0 to this, months."
    )
    routing_sophistication: Fraction = Field(
        0.0,
        description=(
            "Share of the segment's volume routed task by task (each task to the offers that meet it); the rest "
            "goes as one bundle to offers that meet every task (0: everything to one tier, 1: per-task routing)."
        ),
    )
    tasks: list[TaskConfig] = Field(
        default_factory=list,
        description="Task mix of the segment's volume ([[segments.tasks]]); none: one task with no floor or tolerance.",
    )

    @model_validator(mode="after")
    def _check_tasks(self) -> SegmentConfig:
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"tasks.name must be unique within segment '{self.name}', got {names}")
        total = math.fsum(t.share for t in self.tasks)
        if self.tasks and abs(total - 1.0) > 1e-9:
            raise ValueError(f"tasks.share of segment '{self.name}' must sum to 1, got {total:.12g}")
        return self

    @model_validator(mode="after")
    def _check_quality_floor_spread(self) -> SegmentConfig:
        mean, sd = self.quality_floor, self.quality_floor_sd
        if sd > 0 and not sd * sd < mean * (1.0 - mean):
            raise ValueError(
                f"quality_floor_sd = {sd} is not possible for a Beta distribution with mean quality_floor = {mean}: "
                f"it needs 0 < quality_floor < 1 and quality_floor_sd^2 < quality_floor * (1 - quality_floor)"
            )
        return self


# --------------------------------------------------------------------------------------------------------
# Strategies (parameters; implementations are registered in agents/)
# --------------------------------------------------------------------------------------------------------


class CostPlusPricing(_Section):
    """Post price = unit cost x (1 + markup), or the scarcity price if higher and ``scarcity_floor`` is on."""

    strategy: Literal["cost_plus"] = "cost_plus"
    markup: NonNegFloat = Field(0.3, description="Markup over unit cost (0.3 = +30%).")
    scarcity_floor: bool = Field(
        True, description="Never price below the price at which last month's fitted demand just fills capacity."
    )


class BestResponsePricing(_Section):
    """Myopic best response to the logit demand given rivals' last prices."""

    strategy: Literal["best_response"] = "best_response"
    objective: Literal["owner", "industry"] = Field(
        "owner",
        description="'owner': maximize the profit of the ultimate owner's offers; 'industry': joint profit of all.",
    )
    damping: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        1.0, description="Weight on the new best response (1: jump to it; <1: partial adjustment)."
    )


class ShareAcquisitionPricing(_Section):
    """Price below cost while the cash runway allows, then recover with a markup."""

    strategy: Literal["share_acquisition"] = "share_acquisition"
    discount: Fraction = Field(0.3, description="Price = unit cost x (1 - discount) while acquiring share.")
    runway_months: NonNegFloat = Field(
        12.0, description="Keep subsidizing while cash + credit covers this many months of the current loss."
    )
    max_months: int = Field(36, ge=0, le=MAX_MONTHS, description="Stop subsidizing after this many months in any case.")
    recovery_markup: NonNegFloat = Field(0.4, description="Markup over unit cost after the acquisition phase.")


class AdaptivePricing(_Section):
    """Profit hill-climbing: keep moving the price in the direction that raised profit."""

    strategy: Literal["adaptive"] = "adaptive"
    step: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(0.05, description="Relative price step per month.")
    step_decay: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.8, description="Step multiplier after a move that lowered profit."
    )
    min_step: Annotated[float, Field(gt=0.0)] = Field(0.005, description="Smallest relative step.")
    max_step: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        0.2, description="Largest relative step (the step grows by 1/sqrt(step_decay) while the direction holds)."
    )
    floor_markup: float = Field(-0.2, ge=-1.0, description="Never price below unit cost x (1 + floor_markup).")


class PredatoryPricing(_Section):
    """Below-cost pricing in target regions while cash allows, best response elsewhere and afterwards."""

    strategy: Literal["predatory"] = "predatory"
    target_regions: list[str] = Field(
        default_factory=list, description="Regions whose offers are subsidised (empty: every region it serves)."
    )
    discount: Fraction = Field(0.2, description="Subsidised price = unit cost x (1 - discount).")
    undercut: Fraction = Field(
        0.0, description="Subsidised price at most the rivals' last price x (1 - undercut) in the region."
    )
    start_step: int = Field(0, ge=0, le=MAX_MONTHS, description="First month of the campaign.")
    horizon_months: int = Field(24, ge=0, le=MAX_MONTHS, description="Months the campaign lasts at most.")
    cash_reserve_usd: float = Field(
        0.0, description="The campaign stops for good once cash (the owner's treasury) falls below this, $."
    )


class QLearningPricing(_Section):
    """Q-learning on a grid of markups over unit cost (Calvano et al. 2020), one table per offer.

    The state is the offer's own last grid index and the rivals' last demand-weighted price (over the last
    ``memory_months`` months), coarsened into
    ``rival_bins`` equal bins of markup over the provider's own unit cost between ``min_markup`` and
    ``max_markup`` (prices outside fall into the end bins; one more bin for "no rival observed"). Exploration
    draws come from a generator the model spawns for each provider from the run's seed, so a run is
    deterministic. See docs/ODD.md, "Learning pricing (q_learning)".
    """

    strategy: Literal["q_learning"] = "q_learning"
    grid_points: int = Field(15, ge=2, le=101, description="Prices on the grid (actions).")
    min_markup: float = Field(0.0, gt=-1.0, description="Lowest grid price = unit cost x (1 + min_markup).")
    max_markup: PosFloat = Field(1.0, description="Highest grid price = unit cost x (1 + max_markup).")
    rival_bins: int = Field(5, ge=1, le=50, description="Bins of the rivals' last price (markup over own cost).")
    memory_months: int = Field(
        1, ge=1, le=3,
        description="Months of (own grid index, rival bin) the state remembers; the table has "
        "(grid_points x (rival_bins + 1)) ** memory_months states.",
    )
    alpha: Annotated[float, Field(gt=0.0, le=1.0)] = Field(0.15, description="Learning rate.")
    beta: NonNegFloat = Field(
        0.05, description="Exploration decay per month: explore with probability exp(-beta t), t = months priced."
    )
    delta: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(0.95, description="Discount factor per month.")

    @model_validator(mode="after")
    def _ordered_markups(self) -> QLearningPricing:
        if self.max_markup <= self.min_markup:
            raise ValueError(f"max_markup ({self.max_markup}) must exceed min_markup ({self.min_markup})")
        entries = (self.grid_points * (self.rival_bins + 1)) ** self.memory_months * self.grid_points
        if entries > 2_000_000:
            raise ValueError(f"memory_months = {self.memory_months}: a Q table of {entries:,} entries per offer "
                             "(at most 2,000,000; fewer grid_points, rival_bins or memory_months)")
        return self


PricingConfig = Annotated[
    CostPlusPricing | BestResponsePricing | ShareAcquisitionPricing | AdaptivePricing | PredatoryPricing
    | QLearningPricing,
    Field(discriminator="strategy"),
]


class NoInvestment(_Section):
    """Keep the fleet as it is (pure pricing games)."""

    strategy: Literal["none"] = "none"


class UtilizationTargetInvestment(_Section):
    """Grow or shrink the fleet toward a utilization target, buying new or used GPUs."""

    strategy: Literal["utilization_target"] = "utilization_target"
    target_utilization: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.75, description="Utilization the provider plans its fleet for."
    )
    max_growth_per_month: PosFloat = Field(0.15, description="Largest fleet growth in one month (fraction).")
    divest_below_utilization: Fraction = Field(
        0.4, description="Sell GPUs to resellers when utilization falls below this."
    )
    max_divest_per_month: Fraction = Field(
        0.05, description="Largest fraction of its GPUs in a region a provider sells in one month."
    )
    cash_reserve_months: NonNegFloat = Field(
        3.0, description="Months of operating cost kept in reserve before buying GPUs."
    )
    min_price_to_cost: NonNegFloat = Field(
        1.0, description="Adds capacity in a region only while price x target_utilization covers this multiple of "
        "the full cost per Mtok of the GPUs it would buy (capital as an annuity at the cost of capital over their "
        "life, power, opex); 0 switches the test off."
    )
    expected_rent_decline_per_year: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="Yearly fall of a GPU's rent the provider expects from technical progress (fraction): new "
        "capacity must then cover its full cost with a rent that falls at this rate over the GPU's life "
        "(agents.investment.obsolescence_factor); 0: a constant rent (the rule without obsolescence)."
    )
    buy_new: bool = Field(True, description="Whether the provider buys new GPUs from the vendor.")
    buy_used: bool = Field(True, description="Whether the provider buys used GPUs from resellers.")
    demand_growth_expectation_per_year: NonNegFloat = Field(
        0.0,
        description="Yearly demand growth the provider expects: the 'fixed' forecast, and the 'observed' "
        "forecast's prior until it has observed two months.",
    )
    forecast: Literal["observed", "fixed"] = Field(
        "observed",
        description="Demand forecast for fleet sizing: 'observed' extrapolates the market's demand growth over "
        "the trailing window (log-linear fit); 'fixed' uses demand_growth_expectation_per_year.",
    )
    forecast_window_months: int = Field(
        12, ge=1, le=120, description="Months of market demand history the 'observed' forecast fits (1-120)."
    )
    forecast_max_growth_per_year: NonNegFloat = Field(
        4.0, description="Cap on the 'observed' forecast's yearly growth (4.0 = at most five-fold a year)."
    )


InvestmentConfig = Annotated[NoInvestment | UtilizationTargetInvestment, Field(discriminator="strategy")]


# --------------------------------------------------------------------------------------------------------
# Providers and resellers
# --------------------------------------------------------------------------------------------------------


class FleetLotConfig(_Section):
    """GPUs a provider holds at step 0."""

    generation: str = Field(..., description="Generation name (must exist in technology.generations).")
    region: str = Field(..., description="Region the GPUs are installed in.")
    gpus: Annotated[int, Field(ge=0, le=100_000_000)] = Field(..., description="Number of GPUs (at most 1e8).")
    age_months: Annotated[int, Field(ge=0, le=MAX_MONTHS)] = Field(0, description="Age of the GPUs at step 0, months.")


class ProviderConfig(_Section):
    """A group of identical providers (hyperscaler, specialized provider or decentralized operator)."""

    name: str = Field(..., min_length=1, description="Name; with count > 1 providers are named name_1, name_2, ...")
    kind: ProviderKind = Field(..., description="hyperscaler, specialized or decentralized.")
    count: int = Field(1, ge=1, le=1000, description="How many identical providers this entry creates (at most 1,000).")
    regions: list[str] = Field(default_factory=list, description="Regions the provider serves (default: its fleet's).")
    quality: Literal["frontier", "open"] | PosFloat = Field(
        "open", description="'frontier', 'open' (open-weight) or a fixed capability index."
    )
    quality_factor: PosFloat = Field(1.0, description="Multiplier on the quality the provider serves.")
    tiers: list[str] = Field(
        default_factory=list, description="Names of the scenario's tiers it serves (default: every declared tier)."
    )
    serving_efficiency: PosFloat = Field(1.0, description="Tokens per GPU relative to a reference stack.")
    privacy_risk: NonNegFloat = Field(0.0, description="Privacy risk buyers perceive (0 none, 1 high).")
    lock_in: NonNegFloat = Field(0.0, description="Lock-in strength of the ecosystem (0 none, 1 strong).")
    reliability: Fraction = Field(0.99, description="Availability the provider delivers (fraction).")
    verification: bool = Field(False, description="Decentralized: verify computation (costs overhead, earns trust).")
    verification_overhead: Fraction = Field(0.1, description="Fraction of capacity spent on verification when on.")
    cash_usd: float = Field(1e8, description="Cash at step 0, $.")
    credit_limit_usd: NonNegFloat = Field(5e7, description="How far cash may go below zero (borrowing), $.")
    cost_of_capital_per_year: NonNegFloat = Field(0.10, description="Interest rate on debt (negative cash), per year.")
    opex_usd_per_gpu_month: NonNegFloat = Field(300.0, description="Operating cost per installed GPU and month, $.")
    pue: Annotated[float, Field(ge=1.0)] = Field(1.3, description="Power usage effectiveness of its data centres.")
    cost_basis_utilization: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.7, description="Utilization at which unit cost per Mtok is computed for pricing."
    )
    unit_cost_usd_per_mtok: PosFloat | None = Field(
        None, description="Fixed unit cost, $/Mtok, replacing fleet-based cost (pure pricing games)."
    )
    capacity_mtok_per_month: InfFloat | None = Field(
        None, gt=0.0, description="Fixed capacity per offer, Mtok/month, replacing the fleet's (inf: unlimited)."
    )
    initial_price_usd_per_mtok: PosFloat | None = Field(
        None, description="Price posted at step 0 (default: unit cost x 1.3)."
    )
    retire_age_months: int | None = Field(
        None,
        ge=1,
        le=MAX_MONTHS,
        description="Upgrade cycle: GPUs older than this are sold to resellers (None: kept to end of life).",
    )
    flywheel_learning_rate: NonNegFloat = Field(
        0.0, description="Data flywheel: quality gain per e-fold of cumulative work served (0: none)."
    )
    flywheel_scale_mtok: PosFloat = Field(
        1e9, description="Cumulative work served (capacity units: Mtok of the frontier model) at which the "
        "flywheel gain is learning_rate * ln(2)."
    )
    flywheel_privacy_cost: NonNegFloat = Field(
        0.0, description="Added privacy risk per unit of flywheel quality gain (customers' data trains its models)."
    )
    fleet: list[FleetLotConfig] = Field(default_factory=list, description="GPUs held at step 0 (per provider).")
    pricing: PricingConfig = Field(default_factory=CostPlusPricing, description="Pricing strategy and parameters.")
    investment: InvestmentConfig = Field(
        default_factory=UtilizationTargetInvestment, description="Investment strategy and parameters."
    )

    @model_validator(mode="after")
    def _check_supply(self) -> ProviderConfig:
        if not self.fleet and self.capacity_mtok_per_month is None:
            raise ValueError("a provider needs a fleet or a fixed capacity_mtok_per_month")
        if not self.fleet and self.unit_cost_usd_per_mtok is None:
            raise ValueError("a provider without a fleet needs a fixed unit_cost_usd_per_mtok")
        if not self.fleet and not self.regions:
            raise ValueError("a provider without a fleet needs 'regions'")
        return self


class ResellerConfig(_Section):
    """A group of identical hardware resellers (the secondary GPU market)."""

    name: str = Field(..., min_length=1, description="Name; with count > 1 named name_1, name_2, ...")
    count: int = Field(1, ge=1, le=1000, description="How many identical resellers this entry creates (at most 1,000).")
    cash_usd: NonNegFloat = Field(5e8, description="Cash at step 0, $.")
    margin: Fraction = Field(0.15, description="Spread between the resale price and the price paid to sellers.")
    credit_limit_usd: NonNegFloat = Field(
        2.5e8, description="Credit line, $: it buys GPUs only while cash + credit pays for them (cash >= -credit)."
    )
    demand_pressure: NonNegFloat = Field(
        0.5, description="Speed of the monthly price-level adjustment: elasticity of the level to (buyer orders / "
        "target monthly turnover of the book)."
    )
    buyer_pue: float = Field(
        1.3, ge=1.0, le=3.0, description="PUE of the reference buyer whose running costs set a used GPU's par value."
    )
    buyer_opex_usd_per_gpu_month: NonNegFloat = Field(
        200.0, description="Opex per GPU-month of the reference buyer whose running costs set a used GPU's par "
        "value, $."
    )
    reference_units: PosFloat = Field(
        1000.0, description="GPUs of orders or inventory at which they start to move the resale price."
    )
    target_inventory_months: PosFloat = Field(
        6.0, description="Months of inventory the reseller aims to hold: its price level falls while buyers order "
        "less than inventory / this a month."
    )
    scrap_fraction: Fraction = Field(
        0.03, description="Scrap (salvage) value per GPU as a fraction of list price: no lot is quoted below it."
    )
    order_smoothing: Fraction = Field(
        0.5, description="Weight of past months in the smoothed order rate that sets the expected holding time."
    )
    write_off_months: int = Field(
        6, ge=1, le=1200, description="Months a generation's stock may sit quoted at its scrap value without a "
        "single order before the reseller writes it off (dismantled: recycling proceeds cover dismantling costs)."
    )


class FixedMarkupFee(_Section):
    """A router's fee is a fixed fraction of the price of the provider offer it routes to."""

    strategy: Literal["fixed_markup"] = "fixed_markup"
    markup: float = Field(0.05, ge=0.0, le=10.0, description="Fee as a fraction of the underlying price (0.05 = +5%).")


class AdaptiveFee(_Section):
    """A router's fee fraction climbs its fee income: it keeps moving the fee in the direction that raised last
    month's fee income (router revenue minus what it paid providers), and turns with a smaller step when it fell."""

    strategy: Literal["adaptive_fee"] = "adaptive_fee"
    initial_markup: float = Field(0.05, ge=0.0, le=10.0, description="Fee fraction in the first month.")
    step: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(0.1, description="Relative fee step per month.")
    step_decay: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.8, description="Step multiplier after a move that lowered fee income."
    )
    min_step: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(0.01, description="Smallest relative step.")
    max_step: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(0.3, description="Largest relative step.")
    min_markup: float = Field(0.005, gt=0.0, le=10.0, description="Lowest fee fraction.")
    max_markup: float = Field(1.0, gt=0.0, le=10.0, description="Highest fee fraction.")

    @model_validator(mode="after")
    def _ordered(self) -> AdaptiveFee:
        if not self.min_markup <= self.initial_markup <= self.max_markup:
            raise ValueError(f"initial_markup ({self.initial_markup}) must lie between min_markup "
                             f"({self.min_markup}) and max_markup ({self.max_markup})")
        return self


RouterFeeConfig = Annotated[FixedMarkupFee | AdaptiveFee, Field(discriminator="strategy")]


class RouterConfig(_Section):
    """A group of identical routers (orchestration layers): each resells, per region, the cheapest eligible
    provider offer at that price plus its fee, and holds no GPUs (docs/ODD.md, "Routers")."""

    name: str = Field(..., min_length=1, description="Name; with count > 1 routers are named name_1, name_2, ...")
    count: int = Field(1, ge=1, le=1000, description="How many identical routers this entry creates (at most 1,000).")
    cash_usd: NonNegFloat = Field(1e8, description="Cash at step 0, $.")
    fee: RouterFeeConfig = Field(default_factory=FixedMarkupFee, description="Fee strategy and parameters.")
    switching_cost_factor: Fraction = Field(
        0.2, description="Multiplier on its customers' switching cost when they move to a provider offer it routes "
        "to (1: no relief; 0: free multi-homing between the providers behind it)."
    )
    min_quality: Fraction = Field(
        0.0, description="Lowest quality it routes to, as a fraction of the frontier."
    )
    provider_kinds: list[ProviderKind] = Field(
        default_factory=lambda: list(typing.get_args(ProviderKind)), min_length=1,
        description="Kinds of providers it routes to (default: every kind).",
    )


# --------------------------------------------------------------------------------------------------------
# Corporate dynamics: exit, entry, M&A under antitrust
# --------------------------------------------------------------------------------------------------------


class EntrantConfig(_Section):
    """A kind of firm that enters when incumbents of its kind earn high enough margins and the profit it can
    expect covers its sunk cost (free entry)."""

    name: str = Field(..., min_length=1, description="Name stem of entrants (numbered name_1, name_2, ...).")
    margin_threshold: float = Field(
        0.2, description="Enter when incumbents of this kind earned a mean margin (profit/revenue) above this."
    )
    lookback_months: int = Field(
        6, ge=1, le=MAX_MONTHS, description="Months over which incumbents' margin is averaged."
    )
    sunk_cost_usd: NonNegFloat = Field(5e7, description="Entry cost paid from the entrant's initial cash, $.")
    payback_months: int = Field(
        24,
        ge=1,
        le=MAX_MONTHS,
        description=(
            "Horizon over which the present value of an entrant's expected profit (its capacity share of the "
            "incumbents' profit, discounted at its cost of capital) must cover sunk_cost_usd for it to enter, months."
        ),
    )
    cooldown_months: int = Field(6, ge=0, le=MAX_MONTHS, description="Months between two entries of this kind.")
    max_entries: int = Field(5, ge=0, le=1000, description="Most entries of this kind in a run (at most 1,000).")
    provider: ProviderConfig = Field(
        ...,
        description=(
            "The entrant's provider settings ('count' is ignored); its 'fleet' lots are bought on entry, from "
            "reseller stock of the generation first, the rest as equal capacity of the newest generation, new."
        ),
    )


class AcquisitionConfig(_Section):
    """Acquisitions of small or distressed providers by capital-rich ones."""

    enabled: bool = Field(False, description="Whether acquisitions happen.")
    strategy: str = Field(
        "value_over_price",
        description=(
            "How an acquirer picks its target and price (a registered acquisition strategy, agents/acquisition.py): "
            "'value_over_price' bids for the small or distressed provider whose value most exceeds its price."
        ),
    )
    acquirer_kinds: list[ProviderKind] = Field(["hyperscaler"], description="Kinds that acquire.")
    target_kinds: list[ProviderKind] = Field(
        ["specialized", "decentralized"], description="Kinds that can be acquired."
    )
    small_share_threshold: Fraction = Field(
        0.05, description="A target is 'small' below this revenue share of the whole market."
    )
    gross_profit_multiple: NonNegFloat = Field(
        3.0,
        description=(
            "Enterprise value of a target's business per $ of a year's gross profit (revenue minus cash costs, "
            "before depreciation and interest); a target's price is max(multiple x gross profit, fleet book value) "
            "plus its net cash, with the premium (formerly 'revenue_multiple')."
        ),
    )
    synergy: NonNegFloat = Field(
        0.3, description="Extra value the acquirer gets from the target's customers and serving efficiency (fraction)."
    )
    premium: NonNegFloat = Field(0.2, description="Control premium over the target's standalone value (fraction).")
    distress_discount: Fraction = Field(
        0.5, description="Discount on the price of a distressed target (cash below zero), fraction."
    )
    deal_probability: Fraction = Field(
        0.2, description="Chance per month that an acquirer with a paying deal in view closes one."
    )
    cooldown_months: int = Field(6, ge=0, le=MAX_MONTHS, description="Months an acquirer waits between two deals.")

    @model_validator(mode="before")
    @classmethod
    def _renamed_multiple(cls, data: object) -> object:
        if isinstance(data, dict) and "revenue_multiple" in data:
            raise ValueError(
                "'revenue_multiple' was renamed 'gross_profit_multiple': it multiplies a year's gross profit "
                "(revenue minus cash costs), not revenue, and a target's price now adds its net cash; rename the key"
            )
        return data


class AntitrustConfig(_Section):
    """Merger control: block deals that leave the market too concentrated."""

    policy: Literal["none", "hhi_2023", "hhi_2010", "custom"] = Field(
        "hhi_2023",
        description=(
            "'hhi_2023': block if post-merger HHI > 1,800 and the change > 100, or the merged share > 30% and the "
            "change > 100 (2023 US merger guidelines); 'hhi_2010': > 2,500 and > 200 (2010 guidelines); "
            "'custom': the thresholds below; 'none': allow all."
        ),
    )
    post_merger_hhi: float = Field(
        1800.0, ge=0.0, le=10_000.0, description="Custom policy: post-merger HHI threshold (0-10,000)."
    )
    hhi_delta: float = Field(100.0, ge=0.0, le=10_000.0, description="Custom policy: threshold on the HHI change.")
    merged_share: Fraction = Field(
        0.30,
        description="Custom policy: post-merger share (fraction) above which, with a change above hhi_delta, a merger "
        "is blocked (1 disables the share test).",
    )
    scope: Literal["segment_region", "regional", "global"] = Field(
        "segment_region",
        description=(
            "Relevant markets of the screen: buyers of one segment in one region ('segment_region'), buyer regions "
            "('regional') or the whole market pooled ('global'); a merger is blocked if it fails in any market "
            "where both parties sell."
        ),
    )
    min_market_share: Fraction = Field(
        0.01,
        description="Smallest share of all revenue a market needs to be screened (fraction; smaller markets are "
        "not reviewed).",
    )

    @property
    def thresholds(self) -> tuple[float, float] | None:
        """(post-merger HHI, change) above both of which a merger is blocked; None for no control."""
        if self.policy == "none":
            return None
        if self.policy == "custom":
            return (self.post_merger_hhi, self.hhi_delta)
        return MERGER_SCREENS[self.policy]

    @property
    def screen(self) -> MergerScreen | None:
        """The policy's screen with its share test (None for no control)."""
        pair = self.thresholds
        if pair is None:
            return None
        share = self.merged_share if self.policy == "custom" else SHARE_PRESUMPTIONS[self.policy]
        return MergerScreen(post_hhi=pair[0], delta=pair[1], merged_share=None if share == 1.0 else share)


class CorporateConfig(_Section):
    """Exit, entry and M&A."""

    exit_after_months: int = Field(
        3,
        ge=1,
        le=MAX_MONTHS,
        description="A provider goes bankrupt after this many consecutive months below its credit limit.",
    )
    entrants: list[EntrantConfig] = Field(default_factory=list, description="Kinds of firms that may enter.")
    acquisitions: AcquisitionConfig = Field(default_factory=AcquisitionConfig)
    antitrust: AntitrustConfig = Field(default_factory=AntitrustConfig)


class ScenarioConfig(_Section):
    """A whole scenario: the root of a TOML scenario file."""

    name: str = Field("scenario", description="Scenario name, written to the manifest.")
    description: str = Field("", description="Free text describing the scenario.")
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    logit: LogitConfig = Field(default_factory=LogitConfig)
    outside_option: OutsideOptionConfig = Field(default_factory=OutsideOptionConfig)
    technology: TechnologyConfig = Field(default_factory=TechnologyConfig)
    regions: list[RegionConfig] = Field(
        default_factory=lambda: [RegionConfig(name="global")], min_length=1, description="Regions (at least one)."
    )
    segments: list[SegmentConfig] = Field(..., min_length=1, description="Demand segments (at least one).")
    providers: list[ProviderConfig] = Field(..., min_length=1, description="Provider groups (at least one).")
    resellers: list[ResellerConfig] = Field(default_factory=list, description="Hardware reseller groups.")
    tiers: list[TierConfig] = Field(
        default_factory=list, description="Model tiers (none: one implicit tier 'standard' with factors 1)."
    )
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    routers_enabled: bool = Field(False, description="Whether the routers declared in 'routers' take part.")
    routers: list[RouterConfig] = Field(
        default_factory=list, description="Router groups (orchestration layers); they act only with routers_enabled."
    )
    corporate: CorporateConfig = Field(default_factory=CorporateConfig)

    @field_validator("regions")
    @classmethod
    def _unique_regions(cls, regions: list[RegionConfig]) -> list[RegionConfig]:
        names = [r.name for r in regions]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate region name(s): {', '.join(dupes)}")
        return regions

    @model_validator(mode="after")
    def _check_references(self) -> ScenarioConfig:
        regions = {r.name for r in self.regions}
        generations = {g.name for g in self.technology.generations}
        for i, p in enumerate(self.providers):
            for r in p.regions:
                if r not in regions:
                    have = ", ".join(sorted(regions))
                    raise ValueError(f"providers[{i}].regions: unknown region '{r}' (have: {have})")
            for r in getattr(p.pricing, "target_regions", []):
                if r not in regions:
                    raise ValueError(f"providers[{i}].pricing.target_regions: unknown region '{r}'")
            for j, lot in enumerate(p.fleet):
                if lot.region not in regions:
                    raise ValueError(
                        f"providers[{i}].fleet[{j}].region: unknown region '{lot.region}' "
                        f"(have: {', '.join(sorted(regions))})"
                    )
                if lot.generation not in generations:
                    raise ValueError(
                        f"providers[{i}].fleet[{j}].generation: unknown generation '{lot.generation}' "
                        f"(have: {', '.join(sorted(generations)) or 'none'})"
                    )
        for i, entrant in enumerate(self.corporate.entrants):
            for j, lot in enumerate(entrant.provider.fleet):
                if lot.region not in regions or lot.generation not in generations:
                    raise ValueError(
                        f"corporate.entrants[{i}].provider.fleet[{j}]: unknown region '{lot.region}' or "
                        f"generation '{lot.generation}'"
                    )
            for r in entrant.provider.regions:
                if r not in regions:
                    raise ValueError(f"corporate.entrants[{i}].provider.regions: unknown region '{r}'")
        check_tiers(self)
        check_unique_names(self)
        seg_names = [s.name for s in self.segments]
        seg_dupes = sorted({n for n in seg_names if seg_names.count(n) > 1})
        if seg_dupes:
            raise ValueError(f"duplicate segment name(s): {', '.join(seg_dupes)}")
        check_growth_horizon(self)
        if self.outside_option.self_hosting and not self.technology.generations:
            raise ValueError(
                "outside_option.self_hosting = true needs at least one GPU generation in technology.generations "
                "(or set outside_option.self_hosting = false)"
            )
        if sum(r.demand_share for r in self.regions) <= 0:
            raise ValueError("regions: demand_share must be positive in at least one region")
        return self

    @property
    def region_names(self) -> list[str]:
        """Region names in configuration order (their index is the region id)."""
        return [r.name for r in self.regions]
