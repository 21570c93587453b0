"""What changed between two verdicts of a tool, and why: pure attribution over plain data (no I/O).

`attribute(a, b)` takes what the warehouse recorded about two verdicts (`VerdictFacts`) and returns a
`Change`; `summary(change)` in toolpanel.why.words turns it into one sentence.
warehouse.changes loads the facts.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from toolpanel.models import (Change, FieldChange, ModelChange, PersonaChange, Take, TakeDelta, TakeSide,
                              panel_label)
from toolpanel.panel.provider import normalise_endpoint, same_endpoint
from toolpanel.why.textdiff import diff_phrase, word_diff


CARD_FIELDS = ("name", "url", "category", "tagline", "pricing", "entry", "launched")
SETTINGS_SHOWN = {"temperature": "temperature", "max_tokens": "max_tokens", "base_url": "provider endpoint"}
ENDPOINT = SETTINGS_SHOWN["base_url"]


class VerdictFacts(BaseModel):
    """What the warehouse holds about one verdict and the run that produced it."""

    slug: str
    verdict_id: str
    run_id: str
    created_at: dt.datetime
    verdict: str
    ship_count: int
    skip_count: int
    trigger: str
    reason: str | None = None
    forced: bool = False
    snapshot_hash: str
    card: dict  # the tool's reviewed fields at that snapshot (Tool.reviewed_content)
    prompt_hash: str
    templates: dict[str, str] | None = None  # template name -> hash; None = not recorded (older run)
    persona_versions: dict[str, str]
    persona_contents: dict[str, dict] = Field(default_factory=dict)  # version -> fields (known ones only)
    models: dict[str, str]
    settings: dict = Field(default_factory=dict)
    takes: list[Take] = Field(default_factory=list)
    carried: list[str] = Field(default_factory=list)  # personas whose takes a partial re-review carried


# -- attribution -----------------------------------------------------------------------------------


def _name(pid: str, facts: tuple[VerdictFacts, VerdictFacts], names: dict[str, str]) -> str:
    for f in reversed(facts):
        content = f.persona_contents.get(f.persona_versions.get(pid, ""))
        if content and content.get("name"):
            return str(content["name"])
    return names.get(pid) or pid.capitalize()


def _persona_change(pid: str, name: str, a: VerdictFacts, b: VerdictFacts) -> PersonaChange | None:
    va, vb = a.persona_versions.get(pid), b.persona_versions.get(pid)
    if va == vb:
        return None
    ca, cb = a.persona_contents.get(va or ""), b.persona_contents.get(vb or "")
    if va is None or vb is None:
        return PersonaChange(persona_id=pid, name=name, before_version=va, after_version=vb, fields=[])
    if ca is None or cb is None:
        return PersonaChange(persona_id=pid, name=name, before_version=va, after_version=vb, fields=None)
    fields = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
    details = {}
    for k in fields:
        x, y = ca.get(k), cb.get(k)
        x = "\n".join(x) if isinstance(x, list) else ("" if x is None else str(x))
        y = "\n".join(y) if isinstance(y, list) else ("" if y is None else str(y))
        details[k] = diff_phrase(word_diff(x, y), k)
    return PersonaChange(persona_id=pid, name=name, before_version=va, after_version=vb, fields=fields,
                         details=details)


def _side(t: Take | None) -> TakeSide:
    if t is None:
        return TakeSide()
    return TakeSide(take_id=t.take_id, status=t.status, score=t.score, verdict=t.verdict)


def attribute(a: VerdictFacts, b: VerdictFacts, *, name: str | None = None, order: list[str] | None = None,
              names: dict[str, str] | None = None) -> Change:
    """Why verdict `b` differs from the earlier verdict `a` of the same tool.

    `order` and `names` (persona id -> display name) come from the current panel and only affect wording."""
    names = names or {}
    pids = list(dict.fromkeys([*(order or []), *sorted(set(a.persona_versions) | set(b.persona_versions)),
                               *sorted({t.persona_id for t in a.takes + b.takes})]))
    pids = [p for p in pids if p in a.persona_versions or p in b.persona_versions
            or any(t.persona_id == p for t in a.takes + b.takes)]
    nm = {p: _name(p, (a, b), names) for p in pids}

    desc = word_diff(a.card.get("description"), b.card.get("description"))
    description_changed = bool(desc.removed_words or desc.added_words)
    card_fields = [FieldChange(field=k, before=_s(a.card.get(k)), after=_s(b.card.get(k)))
                   for k in CARD_FIELDS if _s(a.card.get(k)) != _s(b.card.get(k))]

    personas = [c for p in pids if (c := _persona_change(p, nm[p], a, b)) is not None]

    templates_changed = a.prompt_hash != b.prompt_hash
    if a.templates is None or b.templates is None:
        templates = None if templates_changed else []
    else:
        templates = sorted(k for k in set(a.templates) | set(b.templates) if a.templates.get(k) != b.templates.get(k))

    models = [ModelChange(persona_id=p, name=nm[p], before=a.models[p], after=b.models[p])
              for p in pids if p in a.models and p in b.models and a.models[p] != b.models[p]]
    settings = [FieldChange(field=label, before=_s(a.settings.get(k)), after=_s(b.settings.get(k)))
                for k, label in SETTINGS_SHOWN.items()
                if k != "base_url" and _s(a.settings.get(k)) != _s(b.settings.get(k))]
    if (endpoint := _endpoint_change(a, b)) is not None:
        settings.append(endpoint)

    identical = (a.snapshot_hash == b.snapshot_hash and not templates_changed and not personas and not models
                 and not settings)
    ta, tb = {t.persona_id: t for t in a.takes}, {t.persona_id: t for t in b.takes}
    takes = [TakeDelta(persona_id=p, name=nm[p], before=_side(ta.get(p)), after=_side(tb.get(p)),
                       carried=p in b.carried) for p in pids if p in ta or p in tb]
    return Change(
        slug=b.slug, name=name or b.card.get("name") or b.slug, from_run_id=a.run_id, to_run_id=b.run_id,
        from_verdict_id=a.verdict_id, to_verdict_id=b.verdict_id,
        from_label=panel_label(a.verdict, a.ship_count, a.skip_count),
        to_label=panel_label(b.verdict, b.ship_count, b.skip_count), from_verdict=a.verdict, to_verdict=b.verdict,
        from_at=a.created_at, to_at=b.created_at, to_trigger=b.trigger, to_reason=b.reason,
        description_changed=description_changed, description=desc if description_changed else None,
        card_fields=card_fields, personas_changed=bool(personas), personas=personas,
        templates_changed=templates_changed, templates=templates, model_changed=bool(models), models=models,
        settings=settings, forced=b.forced, identical_inputs=identical, forced_identical=b.forced and identical,
        takes=takes)


def _endpoint_change(a: VerdictFacts, b: VerdictFacts) -> FieldChange | None:
    """The provider endpoint, compared as identities (toolpanel.panel.provider): a loopback port or the local
    model server's port is never a change; the local model is its file (name and hash). A run that did not
    record an endpoint (older rows) is not claimed to differ."""
    if "base_url" not in a.settings or "base_url" not in b.settings:
        return None
    ea = normalise_endpoint(a.settings["base_url"], a.models)
    eb = normalise_endpoint(b.settings["base_url"], b.models)
    return None if same_endpoint(ea, eb) else FieldChange(field=ENDPOINT, before=ea, after=eb)


def _s(value) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)
