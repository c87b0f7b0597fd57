"""Scenario configuration: the schema (:mod:`market.config.schema`, with the checks across a scenario in
:mod:`market.config.consistency`), reading files and overrides (:mod:`market.config.files`, with the bounded TOML
reader in :mod:`market.config.toml_reader` and :class:`~market.config.errors.ConfigError`) and the generated
parameter reference (:mod:`market.config.docs`).

The schema's models are re-exported here, so ``from market.config import ScenarioConfig`` works.
"""

from market.config.schema import (
    PROVIDER_KIND_NAMES,
    AcquisitionConfig,
    AdaptivePricing,
    AntitrustConfig,
    BestResponsePricing,
    CorporateConfig,
    CostPlusPricing,
    EntrantConfig,
    FleetLotConfig,
    GenerationConfig,
    InvestmentConfig,
    LogitConfig,
    NoInvestment,
    OutsideOptionConfig,
    PredatoryPricing,
    PricingConfig,
    ProviderConfig,
    ProviderKind,
    QLearningPricing,
    RegionConfig,
    ResellerConfig,
    ScenarioConfig,
    SegmentConfig,
    ShareAcquisitionPricing,
    SimulationConfig,
    TechnologyConfig,
    UtilityForm,
    UtilizationTargetInvestment,
)

__all__ = [
    "PROVIDER_KIND_NAMES",
    "AcquisitionConfig",
    "AdaptivePricing",
    "AntitrustConfig",
    "BestResponsePricing",
    "CorporateConfig",
    "CostPlusPricing",
    "EntrantConfig",
    "FleetLotConfig",
    "GenerationConfig",
    "InvestmentConfig",
    "LogitConfig",
    "NoInvestment",
    "OutsideOptionConfig",
    "PredatoryPricing",
    "PricingConfig",
    "ProviderConfig",
    "ProviderKind",
    "QLearningPricing",
    "RegionConfig",
    "ResellerConfig",
    "ScenarioConfig",
    "SegmentConfig",
    "ShareAcquisitionPricing",
    "SimulationConfig",
    "TechnologyConfig",
    "UtilityForm",
    "UtilizationTargetInvestment",
]
