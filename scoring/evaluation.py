"""Pure statistics for measuring the panel against editor gold (no I/O, no numpy; the sets are small).

Every function returns None when its figure is undefined (too few pairs, no variance), never a
made-up 0 or 1: an eval report says "n/a" rather than a number nobody measured.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence


def accuracy(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> float | None:
    """Share of positions where predicted equals gold (an 'incomplete' prediction is simply wrong)."""
    if not gold:
        return None
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def cohen_kappa(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> float | None:
    """Cohen's κ = (p_o − p_e) / (1 − p_e) over the categories either side used.

    A prediction outside gold's categories (e.g. 'incomplete') counts as disagreement and adds nothing
    to chance agreement. None when chance agreement is already 1 (both sides used one same category)."""
    n = len(gold)
    if n == 0:
        return None
    p_o = sum(g == p for g, p in zip(gold, predicted, strict=True)) / n
    cats = set(gold) | set(predicted)
    p_e = sum((list(gold).count(c) / n) * (list(predicted).count(c) / n) for c in cats)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1 - p_e)


def mae(a: Sequence[float], b: Sequence[float]) -> float | None:
    if not a:
        return None
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; ties share the average of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        avg = (i + j) / 2 + 1
        for k in range(i, j + 1):
            out[order[k]] = avg
        i = j + 1
    return out


def pearson(a: Sequence[float], b: Sequence[float]) -> float | None:
    n = len(a)
    if n < 2 or n != len(b):
        return None
    ma, mb = sum(a) / n, sum(b) / n
    sa = sum((x - ma) ** 2 for x in a)
    sb = sum((y - mb) ** 2 for y in b)
    if sa == 0 or sb == 0:
        return None
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / math.sqrt(sa * sb)


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman's ρ: Pearson on average ranks (correct with ties). None under 3 pairs or no variance."""
    if len(a) < 3:
        return None
    return pearson(ranks(a), ranks(b))


def precision_recall(gold: Sequence[bool], predicted: Sequence[bool]) -> tuple[float | None, float | None]:
    """Precision and recall of the positive class (e.g. 'abstained'); None where the denominator is 0."""
    tp = sum(g and p for g, p in zip(gold, predicted, strict=True))
    pred_pos, gold_pos = sum(predicted), sum(gold)
    return (tp / pred_pos if pred_pos else None, tp / gold_pos if gold_pos else None)


def stdev(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n − 1); None under two values."""
    n = len(values)
    if n < 2:
        return None
    m = sum(values) / n
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def pairwise_agreement(groups: Sequence[Sequence[Hashable]]) -> float | None:
    """Repeatability: over every group (one item's repeats), the share of pairs of repeats that agree."""
    agree = pairs = 0
    for g in groups:
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                pairs += 1
                agree += g[i] == g[j]
    return agree / pairs if pairs else None


def flip_rate(pairs: Sequence[tuple[Hashable, Hashable]]) -> float | None:
    """Order sensitivity: share of (original order, shuffled order) verdict pairs that differ."""
    if not pairs:
        return None
    return sum(a != b for a, b in pairs) / len(pairs)


def correlation_matrix(columns: dict[str, dict[Hashable, float]]) -> tuple[list[str], list[list[float]]] | None:
    """Pearson correlations between personas' scores on the items both scored (pairwise complete).

    Personas with fewer than 3 scores or no variance are left out (their correlation is undefined).
    A pair with fewer than 3 shared items counts as uncorrelated (0)."""
    keep = [k for k, col in columns.items()
            if len(col) >= 3 and pearson(list(col.values()), list(col.values())) is not None]
    if not keep:
        return None
    matrix = []
    for a in keep:
        row = []
        for b in keep:
            if a == b:
                row.append(1.0)
                continue
            shared = [i for i in columns[a] if i in columns[b]]
            r = pearson([columns[a][i] for i in shared], [columns[b][i] for i in shared]) if len(shared) >= 3 else None
            row.append(r if r is not None else 0.0)
        matrix.append(row)
    return keep, matrix


def effective_votes(matrix: Sequence[Sequence[float]]) -> float | None:
    """Effective number of independent votes from a k×k correlation matrix R (participation ratio of its
    eigenvalues): n_eff = (Σλ)² / Σλ². Since Σλ = trace R = k and Σλ² = trace R² = Σᵢⱼ rᵢⱼ², this is
    k² / Σᵢⱼ rᵢⱼ² — no eigendecomposition needed. Identical voters → 1, uncorrelated voters → k."""
    k = len(matrix)
    if k == 0:
        return None
    return k * k / sum(r * r for row in matrix for r in row)


def calibration(pairs: Sequence[tuple[int, bool]], width: int = 20) -> list[dict]:
    """Score bucket → share of gold ships among takes whose score fell in it (buckets of `width`)."""
    buckets: dict[int, list[bool]] = defaultdict(list)
    for score, gold_ship in pairs:
        buckets[min(score, 99) // width * width].append(gold_ship)
    return [{"bucket": f"{lo}-{lo + width - 1 if lo + width < 100 else 100}", "takes": len(v),
             "gold_ship_share": sum(v) / len(v)} for lo, v in sorted(buckets.items())]


def variance_shares(rows: Sequence[dict], factors: Sequence[str], value: str = "score") -> dict[str, float | None]:
    """Share of score variance explained by each factor's main effect (η² = SS_factor / SS_total).

    ANOVA-style: SS_factor = Σ_levels n_level · (mean_level − grand mean)². In a balanced design the
    shares of crossed factors add up; in an unbalanced one they may overlap, so read them side by side,
    not as a partition. A factor with a single level explains nothing (0)."""
    values = [r[value] for r in rows]
    if len(values) < 2:
        return {f: None for f in factors}
    grand = sum(values) / len(values)
    total = sum((v - grand) ** 2 for v in values)
    out: dict[str, float | None] = {}
    for f in factors:
        levels: dict[Hashable, list[float]] = defaultdict(list)
        for r in rows:
            levels[r[f]].append(r[value])
        ss = sum(len(v) * (sum(v) / len(v) - grand) ** 2 for v in levels.values())
        out[f] = ss / total if total else None
    return out


def grounded_share(takes: Sequence[tuple[Sequence[str] | None, Sequence[str]]]) -> float | None:
    """Share of positioned takes whose evidence quotes were all found in the card.

    Each item is (evidence, flags) of an 'ok' take; evidence None means the take contract carries no
    evidence at all, and such takes are not counted. A take with quotes is grounded unless flagged
    'ungrounded'; one with an empty quote list is not grounded. None when no take carried evidence."""
    counted = [(ev, flags) for ev, flags in takes if ev is not None]
    if not counted:
        return None
    return sum(bool(ev) and "ungrounded" not in flags for ev, flags in counted) / len(counted)
