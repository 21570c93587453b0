"""Personas: files in personas/, versioned by content hash, with errors that name the file and the fix.

The loader's behaviour is tested on the fixture panel (tests/fixtures/personas: five known files); the real
personas/ folder is tested for its shape only, with its ids read from it, so adding a persona there passes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.helpers import FIXTURE_PERSONAS, PERSONA_IDS, PERSONAS
from toolpanel.models import Persona
from toolpanel.panel.personas import PersonaError, load_persona, load_personas

ORDER = PERSONA_IDS  # the fixture panel's five, in display order


@pytest.fixture
def pdir(tmp_path: Path) -> Path:
    """A private copy of the fixture panel's personas directory."""
    return Path(shutil.copytree(FIXTURE_PERSONAS, tmp_path / "personas"))


def builder_data() -> dict:
    return yaml.safe_load((FIXTURE_PERSONAS / "builder.yaml").read_text(encoding="utf-8"))


def write(directory: Path, name: str, data: dict | None = None, text: str | None = None) -> Path:
    p = directory / name
    p.write_text(text if text is not None else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


def test_fixture_personas_load_in_display_order():
    personas = load_personas(FIXTURE_PERSONAS)
    assert [p.id for p in personas] == ORDER
    assert [p.name for p in personas] == ["Builder", "Skeptic", "Futurist", "Founder", "Creator"]
    assert [p.order for p in personas] == [1, 2, 3, 4, 5]
    assert len({p.version for p in personas}) == 5


def test_shipped_personas_are_well_formed_whatever_their_number():
    personas = load_personas(PERSONAS)
    files = sorted(PERSONAS.glob("*.yaml"))
    assert len(personas) == len(files) >= 3  # every file is a persona; a verdict needs three takes
    assert [(p.order, p.id) for p in personas] == sorted((p.order, p.id) for p in personas)  # display order
    assert len({p.name for p in personas}) == len(personas)
    for p in personas:
        assert isinstance(p, Persona)
        assert re.fullmatch(r"[0-9a-f]{12}", p.version), p.version
        assert Path(p.path).name == f"{p.id}.yaml"
        assert len(p.questions) >= 4 and all(isinstance(q, str) and q for q in p.questions)
    assert len({p.version for p in personas}) == len(personas)


def test_version_is_stable_for_unchanged_files(pdir):
    assert [p.version for p in load_personas(pdir)] == [p.version for p in load_personas(FIXTURE_PERSONAS)]


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
    assert [p.id for p in load_personas(FIXTURE_PERSONAS, only=["creator", "builder"])] == ["builder", "creator"]


def test_only_with_an_unknown_id_lists_the_choices():
    with pytest.raises(PersonaError) as exc:
        load_personas(FIXTURE_PERSONAS, only=["builder", "nobody"])
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


# --------------------------------------------------------------------------- the panel is the folder


def test_a_persona_file_added_to_the_configured_folder_joins_the_panel_the_form_and_the_cli(tmp_path, fake_model):
    """Issue 25: a new persona is one YAML file. Copies of the real personas plus one more, named by personas_dir
    in toolpanel.toml: the panel asks it, the re-review form offers it and `toolpanel personas` lists it."""
    from prefect.utilities.callables import parameter_schema

    from flows.forms import persona_ids
    from flows.reviews import re_review
    from tests.helpers import SEED_A, cli, real_persona_ids
    from toolpanel.config import load_settings
    from toolpanel.ingest.cards import load_cards
    from toolpanel.panel.batch import run_review

    real = real_persona_ids()
    panel = Path(shutil.copytree(PERSONAS, tmp_path / "panel"))
    order = max(p.order for p in load_personas(PERSONAS)) + 1
    data = yaml.safe_load((PERSONAS / f"{real[0]}.yaml").read_text(encoding="utf-8"))
    write(panel, "teacher.yaml", data | {"id": "teacher", "name": "Teacher", "order": order,
                                         "lens": "Judges whether a newcomer could learn the tool from its docs alone."})
    (tmp_path / "toolpanel.toml").write_text(f"personas_dir = {json.dumps(panel.as_posix())}\n", encoding="utf-8")
    expected = [*real, "teacher"]  # today six: the five shipped personas, then the teacher

    settings = load_settings()  # cwd is tmp_path (tp_home, through fake_model)
    assert settings.personas_dir == panel
    personas = load_personas(settings.personas_dir)
    assert [p.id for p in personas] == expected

    # the panel asks every persona in the folder, the new one included
    tools, errors = load_cards([SEED_A])
    assert not errors
    [result] = run_review(settings, personas, tools).results
    assert [t.persona_id for t in result.takes] == expected
    assert fake_model.calls(persona="teacher") == 1 and result.verdict.quorum_met

    # the re-review form offers it, and a run accepts it
    assert persona_ids() == expected
    schema = parameter_schema(re_review).model_dump()["properties"]["personas"]
    assert schema["items"]["enum"] == expected
    assert re_review.validate_parameters({"slugs": ["x"], "reason": "why", "personas": ["teacher"]})["personas"] == [
        "teacher"]

    # the CLI lists it
    r = cli("personas", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [p["id"] for p in json.loads(r.stdout)] == expected
