"""`toolpanel eval --configs FILE`: panel configurations run one after another on the same gold set, through
the same provider, in one process; each is an eval run of its own (eval tables, never production ones).

Cost and latency are reported as multipliers of the baseline configuration measured in the same run (one
round, no summary, the configured models: the first such configuration of the file, else one added and
named "baseline"), so the figures compare across machines and providers: calls ×, tokens × (in + out),
cost × (when every model has a price) and latency × (mean seconds from a review's first call to its verdict).
Running is `run_configs` (I/O: the provider); `side_by_side` is pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from toolpanel.config import Settings
from toolpanel.eval.configs import EvalConfig
from toolpanel.eval.gold import GoldItem
from toolpanel.eval.run import EvalOutcome, EvalReview, figures, run_eval
from toolpanel.models import Persona
from toolpanel.sections import PersonaSettings

BASELINE = "baseline"
NOT_RUN = "not run"  # summary asked for, but the chair wrote none (e.g. the bundled model without a chair_model)


@dataclass
class ConfigRun:
    config: EvalConfig
    outcome: EvalOutcome
    figures: dict
    added: bool = False  # the baseline this run added because the file had none


def with_baseline(configs: list[EvalConfig]) -> tuple[list[EvalConfig], bool]:
    """The configurations with a baseline first (the file's first one-round, no-summary, default-model
    configuration, else an added one); True when it was added."""
    base = next((c for c in configs if c.is_baseline), None)
    if base is None:
        return [EvalConfig(name=BASELINE), *configs], True
    return [base, *(c for c in configs if c is not base)], False


def settings_for(settings: Settings, config: EvalConfig) -> Settings:
    """The settings one configuration runs with: its rounds and summary switch, its model pools."""
    panel = settings.panel.model_copy(update={"rounds": config.rounds, "summary": config.summary})
    pools = {**settings.personas, **{pid: PersonaSettings(models=list(pool)) for pid, pool in config.models.items()}}
    return settings.model_copy(update={"panel": panel, "personas": pools})


async def run_configs(settings: Settings, personas: list[Persona], items: list[GoldItem], llm,
                      configs: list[EvalConfig], *, repeats: int = 1, shuffles: bool = True,
                      on_review: Callable[[EvalConfig, EvalReview], None] | None = None) -> list[ConfigRun]:
    """Each configuration in turn (never interleaved: each one's latency is its own), baseline first."""
    ordered, added = with_baseline(configs)
    runs = []
    for c in ordered:
        outcome = await run_eval(settings_for(settings, c), personas, items, llm, repeats=repeats, shuffles=shuffles,
                                 model_override=c.model, summary=c.summary,
                                 on_review=(lambda r, c=c: on_review(c, r)) if on_review else None)
        runs.append(ConfigRun(c, outcome, figures(outcome, [p.id for p in personas]), added and c is ordered[0]))
    return runs


def _ratio(x: float | None, base: float | None) -> float | None:
    return None if x is None or not base else round(x / base, 3)


def _tokens(f: dict) -> int:
    return f["cost"]["tokens_in"] + f["cost"]["tokens_out"]


def _summary(c: EvalConfig, f: dict) -> str:
    s = f["summary"]
    return "off" if not c.summary else NOT_RUN if not s["written"] else f"{s['ok']}/{s['written']} ok"


def side_by_side(runs: list[ConfigRun]) -> list[dict]:
    """One row per configuration: agreement with gold, κ, flip rate, repeatability, herding, and calls, tokens,
    cost and latency as multipliers of the baseline (the first run)."""
    base = runs[0].figures
    rows = []
    for r in runs:
        f, c = r.figures, r.config
        rows.append({
            "name": c.name, "baseline": r is runs[0], "added": r.added, "rounds": c.rounds,
            "summary": _summary(c, f),
            "models": c.model or (", ".join(f"{p}: {'/'.join(m)}" for p, m in c.models.items()) or "configured"),
            "models_used": f["models"],
            "accuracy": f["panel"]["accuracy"], "kappa": f["panel"]["kappa"], "flip_rate": f["order"]["flip_rate"],
            "repeat_agreement": f["repeatability"]["verdict_agreement"],
            "herding": f["deliberation"]["herding"], "herding_room": f["deliberation"].get("room"),
            "calls": f["cost"]["calls"], "tokens": _tokens(f), "cost_usd": f["cost"]["cost_usd"],
            "review_seconds": f["cost"]["review_seconds_mean"], "wall_seconds": f["cost"]["wall_seconds"],
            "failed_takes": f["cost"]["failed_takes"],
            "multipliers": {"calls": _ratio(f["cost"]["calls"], base["cost"]["calls"]),
                            "tokens": _ratio(_tokens(f), _tokens(base)),
                            "cost": _ratio(f["cost"]["cost_usd"], base["cost"]["cost_usd"]),
                            "latency": _ratio(f["cost"]["review_seconds_mean"], base["cost"]["review_seconds_mean"])},
        })
    return rows
