"""Hostile input never crashes a batch, hangs it, or hides a failure (seeded fuzz through the real CLI).

`make fuzz` runs the same property on many more cases (FUZZ_SEED, FUZZ_CASES) and writes bench/fuzz.json.
"""

from __future__ import annotations

import os
import random

import pytest

from tests import fuzzing

SEED = int(os.environ.get("FUZZ_SEED", "9"))


@pytest.mark.parametrize("seed", [SEED, SEED + 1])
def test_any_mix_of_bad_and_good_inputs_keeps_the_property(tmp_path, seed):
    sc = fuzzing.build(tmp_path, seed, cases=60)
    assert sc.good and sc.bad  # the mix really is mixed
    proc = fuzzing.run_ingest(sc)
    assert fuzzing.check(sc, proc) == []
    assert proc.returncode == 1  # something was rejected, and says so


def test_every_bad_card_class_alone_next_to_a_good_card(tmp_path):
    """Each class once, in one directory with one good card: one line each, the good card still comes in."""
    sc = fuzzing.Scenario(tmp_path)
    cards, outside = tmp_path / "cards", tmp_path / "elsewhere"
    cards.mkdir()
    outside.mkdir()
    rng = random.Random(SEED)
    for n, cls in enumerate(sorted(fuzzing.BAD_CARDS)):
        name = fuzzing.BAD_CARDS[cls](rng, cards, f"{cls}-{n}", outside)
        sc.bad[str(cards / name)] = cls
    (cards / "good.md").write_text(f"---\nname: Good Tool\n---\n{fuzzing.DESC}\n")
    sc.good["good-tool"] = "good.md"
    sc.args = [str(cards)]
    proc = fuzzing.run_ingest(sc)
    assert fuzzing.check(sc, proc) == []
