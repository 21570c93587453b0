"""`toolpanel eval`: review editor gold with the production panel machinery, but beside production.

Takes come from `Panel.unstored_take` (same prompts, same LLM seam, same take contract), are never
looked up in or written to the take cache, and land only in the eval tables (invariant 12).
Running is `run_eval` (I/O: the provider); measuring is `figures` (pure, over what came back).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from scoring import evaluation as ev
from scoring.deliberation import herding
from scoring.rules import verdict as score_verdict
from toolpanel.panel import chair, prompts, rounds as deliberation
from toolpanel.config import Settings
from toolpanel.eval.gold import GoldItem
from toolpanel.models import Persona, ReviewRequest, Take, Verdict
from toolpanel.summaries import SummaryRecord
from toolpanel.panel.review import Panel

CANONICAL, SHUFFLED = "canonical", "shuffled"
N_EFF_METHOD = ("participation ratio of the eigenvalues of the personas' score correlation matrix (Pearson, "
                "pairwise complete, first repeat): n_eff = (Σλ)²/Σλ² = k²/Σᵢⱼ rᵢⱼ²; identical personas → 1, "
                "uncorrelated → k")
NO_EVIDENCE = "n/a (takes carry no evidence)"


@dataclass
class EvalReview:
    """One panel review of one gold item: which repeat, which persona order, what came back."""

    item: GoldItem
    repeat: int
    variant: str  # canonical | shuffled
    order: list[str]
    takes: list[Take]  # the takes the verdict counts (the final round)
    verdict: Verdict
    round_one: list[Take] = field(default_factory=list)  # a two-round review's round one (else empty)
    seconds: float = 0.0  # from its first call to its verdict (both rounds) and its summary
    summary: SummaryRecord | None = None  # the chair's panel summary (only when asked for: `summary=True`)

    @property
    def paid(self) -> list[Take]:
        """Every take asked for: both rounds, each once."""
        counted = {t.take_id for t in self.takes}
        return self.takes + [t for t in self.round_one if t.take_id not in counted]


@dataclass
class EvalOutcome:
    reviews: list[EvalReview]
    wall_seconds: float
    models: list[str] = field(default_factory=list)


def shuffled_order(personas: list[Persona], slug: str, seed: int = 0) -> list[Persona]:
    """A copy of the panel in another order, the same for a slug and seed on every run."""
    order = list(personas)
    if len(order) < 2:
        return order
    rng = random.Random(f"{seed}:{slug}")
    while [p.id for p in order] == [p.id for p in personas]:
        rng.shuffle(order)
    return order


async def run_eval(settings: Settings, personas: list[Persona], items: list[GoldItem], llm, *,
                   repeats: int = 1, shuffles: bool = True, model_override: str | None = None, seed: int = 0,
                   on_review: Callable[[EvalReview], None] | None = None, summary: bool = False) -> EvalOutcome:
    """Review every gold item `repeats` times in the panel's order and (with `shuffles`) once more with
    the system prompt's persona order shuffled; with `[panel] rounds = 2` each review has its second round
    (toolpanel.panel.rounds); with `summary`, the chair's panel summary of each verdict (toolpanel.panel.chair,
    `[panel] summary` and chair_model as configured). Nothing is read from or written to the warehouse."""
    panel = Panel(settings, llm, None, personas)
    gate = asyncio.Semaphore(1 if panel.concurrency == 1 else max(1, len(items) * (repeats + 1)))
    jobs = [(item, r, CANONICAL) for item in items for r in range(repeats)]
    if shuffles:
        jobs += [(item, 0, SHUFFLED) for item in items]

    async def one(item: GoldItem, repeat: int, variant: str) -> EvalReview:
        tool = item.tool
        order = personas if variant == CANONICAL else shuffled_order(personas, tool.slug, seed)
        shared = prompts.shared_messages(settings.prompts_dir, tool, prompts.new_marker(), order, panel.profile)
        async with gate:  # one tool at a time on a one-slot provider keeps its prompt cache warm
            started = time.perf_counter()
            first = list(await asyncio.gather(*(
                panel.unstored_take(tool, p, shared, model_override or settings.model_for(p.id, tool.slug))
                for p in personas)))
            second = await panel.unstored_round_two(tool, first, shared) if panel.rounds == 2 else {}
            takes = deliberation.final(first, second)
            verdict = score_verdict(tool.slug, takes)
            record = await chair.summarise(panel, tool, verdict, takes, ReviewRequest(trigger="eval"),
                                           f"eval:{seed}:{tool.slug}:{repeat}:{variant}") if summary else None
            seconds = time.perf_counter() - started
        review = EvalReview(item, repeat, variant, [p.id for p in order], takes, verdict,
                            round_one=first if panel.rounds == 2 else [], seconds=round(seconds, 3), summary=record)
        if on_review:
            on_review(review)
        return review

    started = time.perf_counter()
    reviews = list(await asyncio.gather(*(one(*j) for j in jobs)))
    wall = time.perf_counter() - started
    models = sorted({t.model for r in reviews for t in r.paid})
    return EvalOutcome(reviews, round(wall, 3), models)


# --------------------------------------------------------------------------- figures (pure)


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def figures(outcome: EvalOutcome, personas: list[str]) -> dict:
    """Every figure of an eval from its reviews (no I/O)."""
    canon = [r for r in outcome.reviews if r.variant == CANONICAL]
    gold = [r.item.verdict for r in canon]
    pred = [r.verdict.verdict for r in canon]
    incomplete = sum(p == "incomplete" for p in pred)
    panel = {"reviews": len(canon), "accuracy": _r(ev.accuracy(gold, pred)), "kappa": _r(ev.cohen_kappa(gold, pred)),
             "incomplete": incomplete, "incomplete_share": _r(incomplete / len(canon)) if canon else None}

    by_item: dict[str, list[EvalReview]] = defaultdict(list)
    for r in canon:
        by_item[r.item.tool.slug].append(r)
    first = {slug: sorted(rs, key=lambda r: r.repeat)[0] for slug, rs in by_item.items()}

    per_persona: dict[str, dict] = {}
    for pid in personas:
        agree, abst_gold, abst_pred, gold_scores, got_scores = [], [], [], [], []
        grounding: list[tuple[list[str] | None, list[str]]] = []
        sds = []
        for slug, rs in by_item.items():
            g = rs[0].item.personas.get(pid)
            takes = [t for r in rs for t in r.takes if t.persona_id == pid]
            ok = [t for t in takes if t.status == "ok"]
            grounding += [(getattr(t, "evidence", None), t.flags) for t in ok]
            sd = ev.stdev([t.score for t in ok])
            if sd is not None:
                sds.append(sd)
            if g is None:
                continue
            for t in takes:
                abst_gold.append(g.abstain)
                abst_pred.append(t.status == "abstained")
                if not g.abstain and t.status == "ok":
                    agree.append(t.verdict == g.verdict)
            if g.score is not None and ok:
                gold_scores.append(g.score)
                got_scores.append(sum(t.score for t in ok) / len(ok))
        precision, recall = ev.precision_recall(abst_gold, abst_pred)
        per_persona[pid] = {
            "verdict_agreement": _r(sum(agree) / len(agree)) if agree else None, "verdict_pairs": len(agree),
            "score_mae": _r(ev.mae(gold_scores, got_scores), 2), "score_spearman": _r(ev.spearman(gold_scores, got_scores)),
            "score_pairs": len(gold_scores), "abstain_precision": _r(precision), "abstain_recall": _r(recall),
            "repeat_score_sd": _r(ev.mean(sds), 2), "grounded": _r(ev.grounded_share(grounding)),
            "failed": sum(t.status == "failed" for r in canon for t in r.takes if t.persona_id == pid)}

    repeat_groups = [[r.verdict.verdict for r in rs] for rs in by_item.values()]
    sd_all = [v["repeat_score_sd"] for v in per_persona.values() if v["repeat_score_sd"] is not None]
    repeatability = {"repeats": max((len(g) for g in repeat_groups), default=0),
                     "verdict_agreement": _r(ev.pairwise_agreement(repeat_groups)),
                     "score_sd_mean": _r(ev.mean(sd_all), 2),
                     "score_sd": {pid: v["repeat_score_sd"] for pid, v in per_persona.items()}}

    shuffled = [r for r in outcome.reviews if r.variant == SHUFFLED]
    pairs = [(first[r.item.tool.slug].verdict.verdict, r.verdict.verdict) for r in shuffled if r.item.tool.slug in first]
    order = {"items": len(pairs), "flips": sum(a != b for a, b in pairs), "flip_rate": _r(ev.flip_rate(pairs)),
             "flipped": sorted(r.item.tool.slug for r in shuffled
                               if r.item.tool.slug in first and first[r.item.tool.slug].verdict.verdict != r.verdict.verdict)}

    votes: dict[str, dict] = {}
    columns_by_model: dict[str, dict[str, dict]] = defaultdict(lambda: defaultdict(dict))
    for slug, r in first.items():
        for t in r.takes:
            if t.status == "ok":
                columns_by_model[t.model][t.persona_id][slug] = float(t.score)
    for model, cols in sorted(columns_by_model.items()):
        cm = ev.correlation_matrix(cols)
        votes[model] = {"personas": cm[0] if cm else [], "n_eff": _r(ev.effective_votes(cm[1]), 3) if cm else None,
                        "of": len(cm[0]) if cm else 0}

    ok_rows = [{"item": r.item.tool.slug, "persona": t.persona_id, "model": t.model, "score": t.score,
                "gold_ship": r.item.verdict == "ship"} for r in canon for t in r.takes if t.status == "ok"]
    shares = ev.variance_shares(ok_rows, ["persona", "model", "item"])
    variance = {f"{k}_share": _r(v) for k, v in shares.items()} | {"models": len({x["model"] for x in ok_rows}),
                                                                   "takes": len(ok_rows)}
    calibration = [b | {"gold_ship_share": _r(b["gold_ship_share"])}
                   for b in ev.calibration([(x["score"], x["gold_ship"]) for x in ok_rows])]

    all_ok = [(getattr(t, "evidence", None), t.flags) for r in outcome.reviews for t in r.takes if t.status == "ok"]
    g_all = ev.grounded_share(all_ok)
    grounding = ({"grounded_share": _r(g_all), "per_persona": {pid: v["grounded"] for pid, v in per_persona.items()}}
                 if g_all is not None else {"grounded_share": None, "note": NO_EVIDENCE})

    all_takes = [t for r in outcome.reviews for t in r.paid]
    records = [r.summary for r in outcome.reviews if r.summary is not None]  # chair calls count as calls
    paid = all_takes + records
    costs = [t.cost_usd for t in all_takes] + [s.cost_usd for s in records if s.tokens_in is not None]
    cost = {"calls": len(paid), "tokens_in": sum(t.tokens_in or 0 for t in paid),
            "tokens_out": sum(t.tokens_out or 0 for t in paid),
            "cost_usd": None if any(c is None for c in costs) else round(sum(costs), 6),
            "wall_seconds": outcome.wall_seconds, "failed_takes": sum(t.status == "failed" for t in all_takes),
            "review_seconds_mean": _r(ev.mean([r.seconds for r in outcome.reviews]), 3)}

    two = [r for r in outcome.reviews if r.round_one]  # scoring.deliberation: the share that moved to the majority
    deliberation = ({"rounds": 2, **herding([(r.round_one, [t for t in r.takes if t.round == 2]) for r in two]),
                     "round_two_calls": sum(t.round == 2 for r in two for t in r.takes)}
                    if two else {"rounds": 1, "herding": None})

    return {"items": len(by_item), "models": outcome.models, "panel": panel, "personas": per_persona,
            "repeatability": repeatability, "order": order,
            "effective_votes": {"method": N_EFF_METHOD, "per_model": votes},
            "variance": variance, "calibration": calibration, "grounding": grounding, "cost": cost,
            "deliberation": deliberation,
            "summary": {"written": len(records), "ok": sum(s.status == "ok" for s in records),
                        "failed": sum(s.status == "failed" for s in records),
                        "errors": sorted({s.error for s in records if s.error})[:5]}}


# Scalar figures shown by `--compare` (path into the figures document, label); personas are added per id.
HEADLINE = [
    (("panel", "accuracy"), "panel accuracy"), (("panel", "kappa"), "panel Cohen's κ"),
    (("panel", "incomplete_share"), "incomplete share"),
    (("repeatability", "verdict_agreement"), "repeat verdict agreement"),
    (("repeatability", "score_sd_mean"), "repeat score SD (mean)"),
    (("order", "flip_rate"), "order flip rate"),
    (("variance", "persona_share"), "score variance: persona share"),
    (("variance", "model_share"), "score variance: model share"),
    (("variance", "item_share"), "score variance: item share"),
    (("grounding", "grounded_share"), "grounded share"),
    (("cost", "tokens_in"), "tokens in"), (("cost", "tokens_out"), "tokens out"),
    (("cost", "cost_usd"), "cost USD"), (("cost", "wall_seconds"), "wall seconds"),
    (("cost", "failed_takes"), "failed takes"),
    (("deliberation", "herding"), "herding (share moved toward the round-one majority)"),
]
PERSONA_FIGURES = ("verdict_agreement", "score_mae", "score_spearman", "abstain_precision", "abstain_recall",
                   "repeat_score_sd", "grounded")


def flat(figs: dict) -> dict[str, float | None]:
    """The scalar figures of one eval, labelled (for tables and comparisons)."""
    out: dict[str, float | None] = {}
    for path, label in HEADLINE:
        v = figs
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        out[label] = v
    for model, v in figs.get("effective_votes", {}).get("per_model", {}).items():
        out[f"effective votes ({model})"] = v.get("n_eff")
    for pid, v in figs.get("personas", {}).items():
        for k in PERSONA_FIGURES:
            out[f"{pid}: {k.replace('_', ' ')}"] = v.get(k)
    return out


def compare(a: dict, b: dict) -> list[dict]:
    """Figures of two evals side by side, with b − a where both are numbers."""
    fa, fb = flat(a), flat(b)
    rows = []
    for label in list(fa) + [k for k in fb if k not in fa]:
        x, y = fa.get(label), fb.get(label)
        diff = round(y - x, 4) if isinstance(x, (int, float)) and isinstance(y, (int, float)) else None
        rows.append({"figure": label, "a": x, "b": y, "diff": diff})
    return rows
