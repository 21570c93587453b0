"""Tool cards: loading, validation and the exact errors a card author sees."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from toolpanel.ingest.cardyaml import CardError
from toolpanel.ingest.cards import load_card, load_cards
from toolpanel.errors import ToolpanelError
from toolpanel.models import Tool
from toolpanel.text import DESCRIPTION_CAP

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "examples" / "tools"
BAD = ROOT / "examples" / "bad-cards"

DESC = "A tool that does one useful thing for developers, described in plain words."


def card(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def md(name: str = "Demo Tool", body: str = DESC, **fields: str) -> str:
    head = "".join(f"{k}: {v}\n" for k, v in {"name": name, **fields}.items())
    return f"---\n{head}---\n{body}\n"


def errors_of(paths) -> list[str]:
    tools, errors = load_cards(paths)
    assert tools == []
    return [str(e) for e in errors]


# --------------------------------------------------------------------------- shipped example cards


def test_every_example_tool_card_loads(monkeypatch):
    monkeypatch.chdir(ROOT)
    tools, errors = load_cards(["examples/tools"])
    assert errors == []
    assert [t.slug for t in tools] == [
        "cutline", "diffscribe", "kiln-serverless-gpu", "marrow-db", "openrouter-model-fusion",
        "sketchloom", "smolvlm2-turbo", "stubkit", "tether-agents", "threadnote",
    ]
    assert all(isinstance(t, Tool) and t.source == "card" for t in tools)
    assert all(len(t.description) > 200 for t in tools)
    # one file = one tool
    assert len(tools) == len(list(TOOLS.iterdir())) == 10


def test_seed_smolvlm2_turbo():
    tool = load_card(TOOLS / "smolvlm2-turbo.md")
    assert tool.name == "SmolVLM2 Turbo"
    assert tool.slug == "smolvlm2-turbo"
    assert tool.url == "https://huggingface.co/HuggingFaceTB/SmolVLM2-Turbo"
    assert tool.category == "Developer Tools"
    assert tool.tagline == "Sub-2B vision-language model that actually runs on your phone"
    assert tool.pricing == "Free / Open weights (Apache 2.0)"
    assert tool.entry == "Free"
    assert tool.launched == dt.date(2026, 11, 20)
    assert tool.description.startswith("SmolVLM2 Turbo is a vision-language model from Hugging Face")
    assert tool.description.endswith("rule out calling a hosted VLM API.")


def test_seed_openrouter_model_fusion():
    tool = load_card(TOOLS / "openrouter-model-fusion.md")
    assert tool.name == "OpenRouter Model Fusion"
    assert tool.category == "Developer Tools"
    assert tool.tagline == "Run a prompt through multiple LLMs simultaneously and fuse the best answer into one"
    assert tool.pricing == "Pay-per-token (per model in fusion pool)"
    assert tool.entry == "Paid"
    assert tool.launched == dt.date(2026, 11, 18)
    # paragraphs of the Markdown body survive (blank lines kept, not collapsed into one)
    assert tool.description.count("\n\n") == 2
    assert "Three fusion modes are available." in tool.description


def test_yaml_card_with_description_field():
    tool = load_card(TOOLS / "marrow-db.yaml")
    assert tool.name == "Marrow DB"
    assert tool.pricing == "Free (MPL 2.0); Marrow Sync from $49/month"
    assert tool.entry == "Freemium"
    assert tool.description.startswith("Marrow DB is an embedded database")


# --------------------------------------------------------------------------- shipped bad cards

BAD_CARD_ERRORS = {
    "bad-date.md": "examples/bad-cards/bad-date.md: field 'launched': 'last tuesday' is not a date"
                   " — write it as YYYY-MM-DD, e.g. `launched: 2026-11-20`",
    "bad-url.md": "examples/bad-cards/bad-url.md: field 'url': 'javascript:alert(1)' is not an http(s) URL"
                  " — use a full address starting with https://",
    "bad-yaml.md": "examples/bad-cards/bad-yaml.md: field 'tagline': YAML syntax error at line 6: while scanning"
                   " a quoted scalar found unexpected end of stream"
                   " — fix the YAML (close quotes; quote values that contain ':' or '#')",
    "huge-description.md": "examples/bad-cards/huge-description.md: field 'description': is 23,239 characters,"
                           " over the cap of 8,000 — trim it to at most 8,000 characters",
    "missing-name.md": "examples/bad-cards/missing-name.md: field 'name': is missing"
                       " — add `name: <the tool's name>`",
    "no-description.md": "examples/bad-cards/no-description.md: field 'description': is missing"
                         " — add `description:` or write the description below the front matter",
    "not-a-mapping.yaml": "examples/bad-cards/not-a-mapping.yaml: expected a mapping of fields, got a list"
                          " — write the card as 'field: value' lines (name, description, ...)",
    "unknown-field.yaml": "examples/bad-cards/unknown-field.yaml: fields 'launch_date', 'price': unknown fields"
                          " — rename 'launch_date' → 'launched', 'price' → 'pricing'",
}


def test_bad_cards_cover_every_shipped_file():
    assert sorted(p.name for p in BAD.iterdir()) == sorted(BAD_CARD_ERRORS)


@pytest.mark.parametrize("name", sorted(BAD_CARD_ERRORS))
def test_each_bad_card_gives_exactly_one_clear_error(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    tools, errors = load_cards([f"examples/bad-cards/{name}"])
    assert tools == []
    assert [str(e) for e in errors] == [BAD_CARD_ERRORS[name]]


def test_bad_card_directory_gives_one_error_per_file_in_order(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert errors_of(["examples/bad-cards"]) == [BAD_CARD_ERRORS[n] for n in sorted(BAD_CARD_ERRORS)]


def test_card_error_fields_are_structured(monkeypatch):
    monkeypatch.chdir(ROOT)
    _, errors = load_cards(["examples/bad-cards/unknown-field.yaml", "examples/bad-cards/bad-url.md"])
    assert all(isinstance(e, CardError) and isinstance(e, ToolpanelError) for e in errors)
    assert [(e.file, e.field, e.problem, e.fix) for e in errors] == [
        ("examples/bad-cards/unknown-field.yaml", "launch_date, price", "unknown fields",
         "rename 'launch_date' → 'launched', 'price' → 'pricing'"),
        ("examples/bad-cards/bad-url.md", "url", "'javascript:alert(1)' is not an http(s) URL",
         "use a full address starting with https://"),
    ]


# --------------------------------------------------------------------------- batches


def test_mixed_batch_keeps_every_good_tool_and_reports_every_bad_card(monkeypatch):
    monkeypatch.chdir(ROOT)
    tools, errors = load_cards(["examples/bad-cards/bad-url.md", "examples/tools",
                                "examples/bad-cards/missing-name.md"])
    assert len(tools) == 10
    assert [str(e) for e in errors] == [BAD_CARD_ERRORS["bad-url.md"], BAD_CARD_ERRORS["missing-name.md"]]


def test_bad_card_between_good_ones_does_not_stop_the_rest(tmp_path):
    card(tmp_path, "a.md", md("Alpha"))
    card(tmp_path, "b.md", md("Beta", launched="2026-13-01"))  # impossible YAML date
    card(tmp_path, "c.yaml", "name: Gamma\ndescription: " + DESC + "\n")
    tools, errors = load_cards([tmp_path])
    assert [t.slug for t in tools] == ["alpha", "gamma"]
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'b.md'}: field 'launched': '2026-13-01' is not a date"
        " — write it as YYYY-MM-DD, e.g. `launched: 2026-11-20`"
    ]


def test_missing_path_is_an_error_not_a_crash(tmp_path):
    good = card(tmp_path, "good.md", md("Good"))
    missing = tmp_path / "nope.md"
    tools, errors = load_cards([missing, good])
    assert [t.slug for t in tools] == ["good"]
    assert [str(e) for e in errors] == [f"{missing}: no such file or directory — check the path"]


def test_duplicate_slug_names_both_files(tmp_path):
    first = card(tmp_path, "one.md", md("Same Name"))
    second = card(tmp_path, "two.yaml", "name: Other\nslug: same-name\ndescription: " + DESC + "\n")
    tools, errors = load_cards([first, second])
    assert [t.name for t in tools] == ["Same Name"]
    assert [str(e) for e in errors] == [
        f"{second}: field 'slug': slug 'same-name' is also used by {first}"
        " — give one of the cards a distinct `slug:`"
    ]


def test_directory_is_expanded_recursively_and_sorted(tmp_path):
    card(tmp_path, "zeta.md", md("Zeta"))
    card(tmp_path, "b/beta.yaml", "name: Beta\ndescription: " + DESC + "\n")
    card(tmp_path, "a/deep/alpha.markdown", md("Alpha"))
    card(tmp_path, "a/notes.txt", "not a card")
    card(tmp_path, "c/UPPER.MD", md("Upper"))
    tools, errors = load_cards([tmp_path])
    assert errors == []
    assert [t.slug for t in tools] == ["alpha", "beta", "upper", "zeta"]


def test_same_file_given_twice_loads_once(tmp_path):
    f = card(tmp_path, "one.md", md("Once"))
    tools, errors = load_cards([tmp_path, f, tmp_path / "." / "one.md"])
    assert errors == []
    assert [t.slug for t in tools] == ["once"]


# --------------------------------------------------------------------------- hygiene and caps

INVISIBLE = ["\u200b", "\u202e", "\u2066", "\ufeff", "\u00ad"]


def test_invisible_and_bidi_characters_are_stripped(tmp_path):
    dirty_name = "Sm\u200bol\u202eVLM\u2066 T\u00adurbo\ufeff"
    dirty_body = "\ufeffA\u200b tool\u202e that\u2066 reads\u2069 im\u00adages and text.\u200b"
    clean = load_card(card(tmp_path, "clean/card.md", md("SmolVLM Turbo", "A tool that reads images and text.")))
    dirty = load_card(card(tmp_path, "dirty/card.md", md(dirty_name, dirty_body)))
    assert dirty.name == "SmolVLM Turbo"
    assert dirty.slug == "smolvlm-turbo"
    assert dirty.description == "A tool that reads images and text."
    assert not any(ch in dirty.name + dirty.description for ch in INVISIBLE)
    assert dirty.snapshot_hash == clean.snapshot_hash


def test_invisible_characters_stripped_from_yaml_description_field(tmp_path):
    tool = load_card(card(tmp_path, "c.yaml", 'name: T\ndescription: "Hel\u200blo \u202ewor\u00adld\ufeff"\n'))
    assert tool.description == "Hello world"


def test_description_over_the_cap_is_refused(tmp_path):
    p = card(tmp_path, "big.md", md("Big", "x" * (DESCRIPTION_CAP + 1)))
    assert errors_of([p]) == [
        f"{p}: field 'description': is 8,001 characters, over the cap of 8,000"
        " — trim it to at most 8,000 characters"
    ]


def test_description_exactly_at_the_cap_is_accepted(tmp_path):
    tool = load_card(card(tmp_path, "cap.md", md("Cap", "x" * DESCRIPTION_CAP)))
    assert len(tool.description) == DESCRIPTION_CAP == 8_000


def test_invisible_characters_do_not_count_toward_the_cap(tmp_path):
    tool = load_card(card(tmp_path, "cap.md", md("Cap", "x" * DESCRIPTION_CAP + "\u200b" * 50)))
    assert len(tool.description) == DESCRIPTION_CAP


def test_one_line_field_over_its_cap(tmp_path):
    p = card(tmp_path, "t.md", md("T", tagline="x" * 301))
    assert errors_of([p]) == [f"{p}: field 'tagline': is 301 characters, the cap is 300 — shorten `tagline:`"]


# --------------------------------------------------------------------------- format details


def test_markdown_card_with_description_field_and_body(tmp_path):
    p = card(tmp_path, "both.md", md("Both", DESC, description="Also here."))
    assert errors_of([p]) == [
        f"{p}: field 'description': given both in the front matter and as the Markdown body"
        " — keep one: delete `description:` or empty the body"
    ]


def test_markdown_card_with_description_field_and_empty_body(tmp_path):
    tool = load_card(card(tmp_path, "field.md", md("Field", "", description="Only in the front matter.")))
    assert tool.description == "Only in the front matter."


def test_slug_defaults_from_name(tmp_path):
    tool = load_card(card(tmp_path, "x.md", md("SmolVLM2 Turbo")))
    assert tool.slug == "smolvlm2-turbo"
    assert load_card(card(tmp_path, "y.md", md('"Café  Déjà-Vu: 2.0!"'))).slug == "cafe-deja-vu-2-0"


def test_invalid_explicit_slug(tmp_path):
    p = card(tmp_path, "s.md", md("Fine Name", slug="Bad_Slug"))
    assert errors_of([p]) == [
        f"{p}: field 'slug': 'Bad_Slug' is not a valid slug"
        " — use lowercase letters, digits and single hyphens, e.g. `slug: my-tool`"
    ]


def test_name_with_no_ascii_letters_needs_an_explicit_slug(tmp_path):
    p = card(tmp_path, "jp.md", md("日本語"))
    assert errors_of([p]) == [
        f"{p}: field 'slug': cannot be derived from the name '日本語'"
        " — use lowercase letters, digits and single hyphens, e.g. `slug: my-tool`"
    ]
    assert load_card(card(tmp_path, "jp2.md", md("日本語", slug="nihongo"))).slug == "nihongo"


def test_launched_as_yaml_date_and_as_quoted_string(tmp_path):
    as_date = load_card(card(tmp_path, "d.md", md("D", launched="2026-11-20")))
    as_text = load_card(card(tmp_path, "t.md", md("T", launched='"2026-11-20"')))
    as_datetime = load_card(card(tmp_path, "dt.md", md("DT", launched="2026-11-20 09:30:00")))
    assert as_date.launched == as_text.launched == as_datetime.launched == dt.date(2026, 11, 20)
    assert type(as_datetime.launched) is dt.date


def test_impossible_yaml_date_is_a_card_error(tmp_path):
    p = card(tmp_path, "feb.yaml", f"name: Feb\nlaunched: 2026-02-30\ndescription: {DESC}\n")
    assert errors_of([p]) == [
        f"{p}: field 'launched': '2026-02-30' is not a date — write it as YYYY-MM-DD, e.g. `launched: 2026-11-20`"
    ]


def test_non_utf8_file(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: Café\ndescription: Un outil très utile.\n".encode("latin-1"))
    assert errors_of([p]) == [f"{p}: file is not UTF-8 text — save the card as UTF-8"]


def test_crlf_line_endings(tmp_path):
    p = tmp_path / "crlf.md"
    p.write_bytes(b'---\r\nname: Crlf Tool\r\nlaunched: "2026-01-02"\r\n---\r\nLine one\r\nLine two\r\n')
    tool = load_card(p)
    assert (tool.name, tool.slug, tool.launched) == ("Crlf Tool", "crlf-tool", dt.date(2026, 1, 2))
    assert tool.description == "Line one\nLine two"
    lf = load_card(card(tmp_path, "lf/crlf.md", '---\nname: Crlf Tool\nlaunched: "2026-01-02"\n---\nLine one\nLine two\n'))
    assert tool.snapshot_hash == lf.snapshot_hash


def test_utf8_bom_at_file_start(tmp_path):
    p = tmp_path / "bom.md"
    p.write_bytes("\ufeff".encode() + md("Bom").encode())
    assert load_card(p).name == "Bom"


def test_markdown_without_front_matter(tmp_path):
    p = card(tmp_path, "plain.md", "# Just a heading\n\nSome text.\n")
    assert errors_of([p]) == [
        f"{p}: Markdown card has no YAML front matter"
        " — start the file with a '---' line, the fields, then another '---' line"
    ]


def test_front_matter_not_closed(tmp_path):
    p = card(tmp_path, "open.md", "---\nname: Open\n")
    assert errors_of([p]) == [f"{p}: front matter is not closed — add a line with '---' after the last field"]


def test_yaml_error_names_the_field_and_line(tmp_path):
    p = card(tmp_path, "colon.yaml", f"name: T\ntagline: fast: and cheap\ndescription: {DESC}\n")
    assert errors_of([p]) == [
        f"{p}: field 'tagline': YAML syntax error at line 2: mapping values are not allowed here"
        " — fix the YAML (close quotes; quote values that contain ':' or '#')"
    ]


def test_single_unknown_field_without_a_rename_hint(tmp_path):
    p = card(tmp_path, "u.md", md("U", colour="red"))
    assert errors_of([p]) == [
        f"{p}: field 'colour': unknown field — remove 'colour'"
        " (allowed fields are name, slug, url, category, tagline, pricing, entry, launched, description)"
    ]


def test_unknown_fields_with_and_without_hints_are_all_addressed(tmp_path):
    p = card(tmp_path, "u.md", md("U", price="$5", colour="red"))
    assert errors_of([p]) == [
        f"{p}: fields 'colour', 'price': unknown fields — rename 'price' → 'pricing';"
        " remove 'colour' (allowed fields are name, slug, url, category, tagline, pricing, entry, launched,"
        " description)"
    ]


def test_list_where_text_is_expected(tmp_path):
    p = card(tmp_path, "l.yaml", f"name: [a, b]\ndescription: {DESC}\n")
    assert errors_of([p]) == [f"{p}: field 'name': expected text, got a list — write `name:` as a single line of text"]


# --------------------------------------------------------------------------- snapshot identity


def test_snapshot_hash_follows_description_not_source(tmp_path):
    tool = load_card(card(tmp_path, "h.md", md("Hashed")))
    assert tool.model_copy(update={"source": "feed"}).snapshot_hash == tool.snapshot_hash
    assert tool.model_copy(update={"description": DESC + " More."}).snapshot_hash != tool.snapshot_hash
    edited = load_card(card(tmp_path, "edited/h.md", md("Hashed", DESC.replace("one", "two"))))
    assert edited.snapshot_hash != tool.snapshot_hash
    assert len(tool.snapshot_hash) == 16 and int(tool.snapshot_hash, 16) >= 0


def test_snapshot_hash_is_stable_across_loads():
    # a frozen value: the hash of a shipped card must not drift between releases unnoticed
    assert load_card(TOOLS / "smolvlm2-turbo.md").snapshot_hash == "84d716572d2e613a"
