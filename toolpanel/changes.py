"""What changed between two verdicts of a tool, and why: pure attribution over plain data (no I/O).

`attribute(a, b)` takes what the warehouse recorded about two verdicts (`VerdictFacts`) and returns a
`Change`; `summary(change)` turns it into one sentence. warehouse.changes loads the facts.
"""

from __future__ import annotations

import datetime as dt
import difflib

from pydantic import BaseModel, Field

from toolpanel.models import (Change, FieldChange, ModelChange, PersonaChange, Take, TakeDelta, TakeSide, TextDiff,
                              panel_label)

CARD_FIELDS = ("name", "url", "category", "tagline", "pricing", "entry", "launched")
SETTINGS_SHOWN = {"temperature": "temperature", "max_tokens": "max_tokens", "base_url": "provider endpoint"}
EXCERPT_WORDS = 6
MAX_MOVES = 3


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


# -- words -----------------------------------------------------------------------------------------


def word_diff(before: str | None, after: str | None) -> TextDiff:
    """Word-level diff (whitespace is not a change, as for the snapshot hash)."""
    a, b = (before or "").split(), (after or "").split()
    removed, added = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            removed.append(" ".join(a[i1:i2]))
        if op in ("insert", "replace"):
            added.append(" ".join(b[j1:j2]))
    return TextDiff(removed_words=sum(len(p.split()) for p in removed), added_words=sum(len(p.split()) for p in added),
                    removed=removed, added=added)


def excerpt(passages: list[str], words: int = EXCERPT_WORDS) -> str:
    """The longest passage, cut to a few words: "'Pricing: $20/month …'"."""
    if not passages:
        return ""
    longest = max(passages, key=lambda p: len(p.split())).split()
    return "'" + " ".join(longest[:words]) + (" …" if len(longest) > words else "") + "'"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def diff_phrase(d: TextDiff, subject: str) -> str:
    """"the description lost 42 words ('Pricing: $20/month …') and gained 3 ('…')"."""
    parts = []
    if d.removed_words:
        parts.append(f"lost {_n(d.removed_words, 'word')} ({excerpt(d.removed)})")
    if d.added_words:
        gained = _n(d.added_words, "word") if not d.removed_words else str(d.added_words)
        parts.append(f"gained {gained} ({excerpt(d.added)})")
    return f"{subject} " + (" and ".join(parts) if parts else "changed")


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
                for k, label in SETTINGS_SHOWN.items() if _s(a.settings.get(k)) != _s(b.settings.get(k))]

    identical = (a.snapshot_hash == b.snapshot_hash and not templates_changed and not personas and not models
                 and not settings)
    ta, tb = {t.persona_id: t for t in a.takes}, {t.persona_id: t for t in b.takes}
    takes = [TakeDelta(persona_id=p, name=nm[p], before=_side(ta.get(p)), after=_side(tb.get(p)))
             for p in pids if p in ta or p in tb]
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


def _s(value) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


# -- the sentence ----------------------------------------------------------------------------------


def take_word(s: TakeSide, with_score: bool) -> str:
    if s.status is None:
        return "no take"
    if s.status != "ok":
        return s.status  # abstained | failed
    return f"{s.verdict} {s.score}" if with_score else str(s.verdict)


def _move(d: TakeDelta) -> str:
    b, a = d.before, d.after
    if b.status == "ok" and a.status == "ok":
        if b.verdict != a.verdict:
            return f"{d.name} went {b.verdict} → {a.verdict} ({b.score} → {a.score})"
        return f"{d.name} {b.score} → {a.score}"
    return f"{d.name} went {take_word(b, True)} → {take_word(a, True)}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def moves(c: Change) -> list[str]:
    """Persona moves worth a sentence: every flip first, then score moves, biggest first."""
    flips = [d for d in c.takes if not d.same_take and d.flipped]
    scores = sorted((d for d in c.takes if not d.same_take and not d.flipped and d.score_delta),
                    key=lambda d: -abs(d.score_delta or 0))
    picked = (flips + scores)
    text = [_move(d) for d in picked[:MAX_MOVES]]
    if len(picked) > MAX_MOVES:
        text.append(f"{len(picked) - MAX_MOVES} more moved")
    return text


def causes(c: Change) -> list[str]:
    """What differed in the inputs, in the order an editor checks them."""
    out = []
    if c.description is not None:
        out.append(diff_phrase(c.description, "the description"))
    for f in c.card_fields:
        out.append(f"the card's {f.field} changed ({_q(f.before)} → {_q(f.after)})")
    for p in c.personas:
        if p.before_version is None:
            out.append(f"{p.name} joined the panel")
        elif p.after_version is None:
            out.append(f"{p.name} left the panel")
        elif p.fields is None:
            out.append(f"{p.name}'s persona file changed (which fields is unknown: the earlier run predates "
                       "per-field records)")
        elif p.fields:
            out.append(f"{p.name}'s persona file changed ({', '.join(p.fields)})")
        else:
            out.append(f"{p.name}'s persona file changed (formatting only)")
    if c.templates_changed:
        if c.templates is None:
            out.append("the prompt templates changed (which ones is unknown: the earlier run predates "
                       "per-template records)")
        else:
            out.append(f"the prompt template{'s' if len(c.templates) != 1 else ''} {_join(c.templates)} changed")
    if c.models:
        pairs = {(m.before, m.after) for m in c.models}
        if len(pairs) == 1 and len(c.models) > 1:
            before, after = next(iter(pairs))
            out.append(f"the model changed ({before} → {after})")
        else:
            out.append(_join([f"{m.name}'s model changed ({m.before} → {m.after})" for m in c.models]))
    for s in c.settings:
        out.append(f"the {s.field} changed ({_q(s.before)} → {_q(s.after)})")
    return out


def unchanged(c: Change) -> list[str]:
    parts = [("description", not c.description_changed and not c.card_fields), ("personas", not c.personas_changed),
             ("prompts", not c.templates_changed), ("model", not c.model_changed)]
    same = [name for name, ok in parts if ok]
    # the brief's word order reads best: "model and prompts unchanged"
    return sorted(same, key=["description", "personas", "model", "prompts"].index)


def _q(value: str | None, limit: int = 48) -> str:
    if value is None:
        return "none"
    return f"'{value}'" if len(value) <= limit else f"'{value[:limit - 2].rstrip()} …'"


def summary(c: Change) -> str:
    """One sentence: who moved, after what, and what stayed the same."""
    who, why = moves(c), causes(c)
    if why:
        head = (_join(who) + " after " if who else "No take moved although ") + _join(why)
    elif c.identical_inputs:
        what = "a forced re-review of identical inputs" if c.forced else "identical inputs"
        head = (_join(who) + f" on {what}: provider variance") if who else f"{what[:1].upper()}{what[1:]}: no take moved"
    else:
        head = _join(who) if who else "Nothing the panel reads changed and no take moved"
    tail = ""
    if why:
        same = unchanged(c)
        if same:
            tail = f"; {_join(same)} unchanged"
    text = head + tail
    return text[:1].upper() + text[1:] + "."


def detail_lines(c: Change) -> list[tuple[str, str]]:
    """One line per attribution class, so an editor sees what did not change too."""
    lines = []
    if c.description is not None:
        lines.append(("Description", diff_phrase(c.description, "").strip()))
    else:
        lines.append(("Description", "unchanged"))
    for f in c.card_fields:
        lines.append(("Card", f"{f.field}: {f.before or 'none'} → {f.after or 'none'}"))
    if not c.personas:
        lines.append(("Personas", "unchanged"))
    for p in c.personas:
        if p.before_version is None or p.after_version is None:
            text = f"{p.name}: {'joined' if p.before_version is None else 'left'} the panel"
        elif p.fields is None:
            text = (f"{p.name}: file changed ({p.before_version} → {p.after_version}); which fields: unknown "
                    "(the earlier run predates per-field records)")
        elif not p.fields:
            text = f"{p.name}: file changed, formatting only"
        else:
            text = f"{p.name}: " + "; ".join(p.details.get(f, f) for f in p.fields)
        lines.append(("Persona", text))
    if not c.templates_changed:
        lines.append(("Prompts", "unchanged"))
    elif c.templates is None:
        lines.append(("Prompts", "changed; which templates: unknown (the earlier run predates per-template records)"))
    else:
        lines.append(("Prompts", "changed: " + ", ".join(c.templates)))
    if not c.models:
        lines.append(("Model", "unchanged"))
    if c.models and len({(m.before, m.after) for m in c.models}) == 1 and len(c.models) > 1:
        m = c.models[0]
        lines.append(("Model", f"{m.before} → {m.after} ({', '.join(x.name for x in c.models)})"))
    else:
        lines += [("Model", f"{m.name}: {m.before} → {m.after}") for m in c.models]
    for s in c.settings:
        lines.append(("Settings", f"{s.field}: {s.before or 'none'} → {s.after or 'none'}"))
    if c.forced_identical:
        lines.append(("Re-review", "forced, identical inputs: any difference is provider variance"))
    elif c.identical_inputs:
        lines.append(("Re-review", "identical inputs: any difference is provider variance"))
    return lines


def markdown(c: Change) -> str:
    """The explanation as a Markdown block for Prefect artifacts (held verdicts, the review queue)."""
    from toolpanel.scorecard import _md_escape  # the one Markdown escaping of vendor and model text

    lines = [f"### What changed since the last verdict ({_md_escape(c.from_label)} → {_md_escape(c.to_label)})", "",
             _md_escape(c.summary()), ""]
    lines += [f"- **{label}**: {_md_escape(text)}" for label, text in detail_lines(c)]
    return "\n".join(lines) + "\n"
