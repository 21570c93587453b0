"""Personas: files in personas/, versioned by content hash, with errors that name the file and the fix."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from toolpanel.models import Persona
from toolpanel.panel.personas import PersonaError, load_persona, load_personas

PERSONAS = Path(__file__).resolve().parent.parent / "personas"
ORDER = ["builder", "skeptic", "futurist", "founder", "creator"]


@pytest.fixture
def pdir(tmp_path: Path) -> Path:
    """A private copy of the shipped personas directory."""
    return Path(shutil.copytree(PERSONAS, tmp_path / "personas"))


def builder_data() -> dict:
    return yaml.safe_load((PERSONAS / "builder.yaml").read_text(encoding="utf-8"))


def write(directory: Path, name: str, data: dict | None = None, text: str | None = None) -> Path:
    p = directory / name
    p.write_text(text if text is not None else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


def test_shipped_personas_load_in_display_order():
    personas = load_personas(PERSONAS)
    assert [p.id for p in personas] == ORDER
    assert [p.name for p in personas] == ["Builder", "Skeptic", "Futurist", "Founder", "Creator"]
    assert [p.order for p in personas] == [1, 2, 3, 4, 5]
    for p in personas:
        assert isinstance(p, Persona)
        assert re.fullmatch(r"[0-9a-f]{12}", p.version), p.version
        assert Path(p.path).name == f"{p.id}.yaml"
        assert len(p.questions) >= 4 and all(isinstance(q, str) and q for q in p.questions)
    assert len({p.version for p in personas}) == 5


def test_version_is_stable_for_unchanged_files(pdir):
    assert [p.version for p in load_personas(pdir)] == [p.version for p in load_personas(PERSONAS)]


def test_editing_one_file_changes_only_that_version(pdir):
    before = {p.id: p.version for p in load_personas(pdir)}
    f = pdir / "skeptic.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("dry and specific", "dry, specific"), encoding="utf-8")
    after = {p.id: p for p in load_personas(pdir)}
    assert after["skeptic"].version != before["skeptic"]
    assert "dry, specific" in after["skeptic"].voice
    assert {k: v.version for k, v in after.items() if k != "skeptic"} == {
        k: v for k, v in before.items() if k != "skeptic"
    }


def test_even_a_whitespace_edit_is_a_new_version(pdir):
    before = load_persona(pdir / "founder.yaml").version
    (pdir / "founder.yaml").write_text((pdir / "founder.yaml").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert load_persona(pdir / "founder.yaml").version != before


def test_adding_a_sixth_persona_file_adds_it(pdir):
    data = builder_data() | {"id": "teacher", "name": "Teacher"}
    del data["order"]  # no order: sorted after the ordered ones
    write(pdir, "teacher.yaml", data)
    personas = load_personas(pdir)
    assert [p.id for p in personas] == ORDER + ["teacher"]
    assert personas[-1].name == "Teacher" and personas[-1].order == 100


def test_new_persona_order_places_it(pdir):
    write(pdir, "teacher.yaml", builder_data() | {"id": "teacher", "name": "Teacher", "order": 2})
    # equal order: ties broken by id
    assert [p.id for p in load_personas(pdir)] == ["builder", "skeptic", "teacher", "futurist", "founder", "creator"]


def test_only_selects_a_subset_in_display_order():
    assert [p.id for p in load_personas(PERSONAS, only=["creator", "builder"])] == ["builder", "creator"]


def test_only_with_an_unknown_id_lists_the_choices():
    with pytest.raises(PersonaError) as exc:
        load_personas(PERSONAS, only=["builder", "nobody"])
    assert str(exc.value) == "unknown persona(s): nobody — choose from builder, skeptic, futurist, founder, creator"


# --------------------------------------------------------------------------- bad persona files


def test_missing_fields(pdir):
    data = builder_data()
    del data["voice"]
    data["example"] = ""
    f = write(pdir, "builder.yaml", data)
    with pytest.raises(PersonaError) as exc:
        load_personas(pdir)
    assert str(exc.value) == f"{f}: field(s) voice, example missing — add them (see personas/builder.yaml)"


def test_unknown_fields(pdir):
    f = write(pdir, "builder.yaml", builder_data() | {"tone": "dry", "colour": "red"})
    with pytest.raises(PersonaError) as exc:
        load_personas(pdir)
    assert str(exc.value) == (f"{f}: unknown field(s) colour, tone — "
                              "allowed: abstain_when, example, id, lens, name, order, questions, voice")


def test_version_field_in_the_file_is_refused(pdir):
    f = write(pdir, "builder.yaml", builder_data() | {"version": "abc"})
    with pytest.raises(PersonaError) as exc:
        load_persona(f)
    assert str(exc.value) == (f"{f}: unknown field(s) version — "
                              "allowed: abstain_when, example, id, lens, name, order, questions, voice")


def test_id_must_match_the_file_name(pdir):
    f = write(pdir, "critic.yaml", builder_data())
    with pytest.raises(PersonaError) as exc:
        load_personas(pdir)
    assert str(exc.value) == f"{f}: field 'id': is 'builder' but the file is 'critic.yaml' — make them match"


def test_invalid_yaml(pdir):
    f = write(pdir, "skeptic.yaml", text='id: skeptic\nname: "Skeptic\nlens: x\n')
    with pytest.raises(PersonaError) as exc:
        load_personas(pdir)
    assert str(exc.value) == (f"{f}: field 'name': YAML syntax error at line 2: while scanning a quoted scalar "
                              "found unexpected end of stream — fix the file's syntax")


def test_not_a_mapping(pdir):
    f = write(pdir, "skeptic.yaml", text="- id: skeptic\n")
    with pytest.raises(PersonaError) as exc:
        load_personas(pdir)
    assert str(exc.value) == f"{f}: expected 'field: value' lines — see personas/builder.yaml for the shape"


def test_wrong_type_for_a_field(pdir):
    f = write(pdir, "builder.yaml", builder_data() | {"questions": "Just one question?"})
    with pytest.raises(PersonaError) as exc:
        load_personas(pdir)
    assert str(exc.value) == f"{f}: field 'questions': Input should be a valid list — fix the value"


def test_missing_directory(tmp_path):
    with pytest.raises(PersonaError) as exc:
        load_personas(tmp_path / "nowhere")
    assert str(exc.value) == f"{tmp_path / 'nowhere'}: personas directory not found — set personas_dir in toolpanel.toml"


def test_empty_directory(tmp_path):
    with pytest.raises(PersonaError) as exc:
        load_personas(tmp_path)
    assert str(exc.value) == f"{tmp_path}: no persona files (*.yaml) — add at least three"
