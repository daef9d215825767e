"""What an image is generated from: a population (adult / pediatric) and findings, or a plain class.

A prompt template composes them: `{population}` and `{findings}` (the v2 models), or `{class}`
(models trained on class prompts). A model's training card records its vocabulary (populations,
findings, named classes); generating a class or finding outside it needs an explicit opt-in
(`allow_unknown`), because a study would otherwise train on images labelled with a condition the
model never saw. Pure: no torch, no I/O beyond the findings map.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgegen.data.findings import NO_FINDING, load_findings_map
from edgegen.errors import UsageError

CLASS_TEMPLATE = "a chest X-ray, frontal view, {class}"
FINDINGS_TEMPLATE = "a chest X-ray, frontal view, {population}, {findings}"
OTHER_FINDINGS = "other findings"  # prompt words for images whose findings are all unmapped


@dataclass(frozen=True)
class Condition:
    name: str  # folder / manifest label: "pneumonia", "pleural_effusion", "atelectasis+pleural_effusion"
    population: str = ""
    findings: tuple[str, ...] = ()  # canonical finding names (findings.yaml)

    def prompt(self, template: str) -> str:
        return compose_prompt(template, self.name, self.population, self.findings)

    @property
    def safe_name(self) -> str:
        return "".join(c if c.isalnum() or c in "-_+" else "_" for c in self.name)


def compose_prompt(template: str, class_name: str, population: str, findings: tuple[str, ...]) -> str:
    if not any(k in template for k in ("{class}", "{findings}")):
        raise UsageError(
            f"prompt template {template!r} has neither {{class}} nor {{findings}}", hint=f'e.g. "{FINDINGS_TEMPLATE}"'
        )
    fmap = load_findings_map()
    if findings:
        words = ", ".join(fmap.get(f).words for f in findings)
    else:  # an opted-in condition outside the vocabulary reads as its own name
        words = class_name.replace("_", " ") if class_name not in ("", "other") else OTHER_FINDINGS
    text = template.replace("{class}", class_name.replace("_", " ")).replace("{findings}", words)
    return text.replace("{population}", population or "").replace(", ,", ",").strip(" ,")


def image_conditions(data, names: tuple[str, ...] | None = None) -> list[Condition]:
    """One Condition per image of an ImageSet: its population and present findings (restricted to
    `names`), 'no_finding' where that is all, or an empty tuple (other findings) otherwise."""
    pops = data.meta.get("population") if data.meta else None
    out = []
    for i in range(len(data)):
        pop = str(pops[i]) if pops is not None else ""
        present: tuple[str, ...] = ()
        if data.is_multilabel:
            row = data.findings[i]
            present = tuple(
                n for j, n in enumerate(data.finding_names) if row[j] == 1 and (names is None or n in names)
            )
            if NO_FINDING in present and len(present) > 1:
                present = tuple(p for p in present if p != NO_FINDING)
            present = _ordered(present)
        out.append(Condition("+".join(present) or "other", pop, present))
    return out


def with_class_findings(data):
    """A class-labelled set (a folder of normal/ and pneumonia/, a path,label CSV) with findings
    derived from its class names through the findings map ('normal' → no_finding, 'pneumonia' →
    pneumonia), so models that condition on findings (the GAN) can train on it. A set that already
    has findings is returned as it is; a class name the map does not know is a one-line error."""
    from edgegen.data.imageset import ImageSet
    from edgegen.errors import DataError

    if data.is_multilabel:
        return data
    fmap = load_findings_map()
    resolved = []
    for name in data.class_names:
        try:
            resolved.append(fmap.resolve(name))
        except UsageError:
            raise DataError(
                f"{data.source}: class {name!r} is not a finding of {fmap.path}",
                hint="add it (with its aliases) to a findings map of your own and pass --findings-map",
            ) from None
    names = tuple(dict.fromkeys(resolved))
    findings = np.zeros((len(data), len(names)), np.float32)
    for i, label in enumerate(data.labels):
        findings[i, names.index(resolved[label])] = 1.0
    return ImageSet(
        data.images,
        data.labels,
        data.class_names,
        data.source,
        data.skipped,
        findings,
        names,
        data.patient_ids,
        data.meta,
    )


def _ordered(findings: tuple[str, ...]) -> tuple[str, ...]:
    order = load_findings_map().names
    return tuple(sorted(set(findings), key=lambda f: order.index(f) if f in order else len(order)))


@dataclass(frozen=True)
class Conditioning:
    """A model's conditioning vocabulary, stored in its training card and its export manifest."""

    template: str
    class_names: tuple[str, ...] = ()
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → {population, findings}
    populations: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    finding_populations: dict[str, str] = field(default_factory=dict)  # where each finding was seen most
    counts: dict[str, int] = field(default_factory=dict)  # training images per prompt

    @property
    def composes(self) -> bool:
        return "{findings}" in self.template

    def to_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "class_names": list(self.class_names),
            "classes": self.classes,
            "populations": list(self.populations),
            "findings": list(self.findings),
            "finding_populations": self.finding_populations,
            "counts": self.counts,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None, class_names=(), template: str = "") -> Conditioning:
        if not raw:
            return cls(template or CLASS_TEMPLATE, tuple(class_names))
        return cls(
            raw.get("template") or template or CLASS_TEMPLATE,
            tuple(raw.get("class_names") or class_names),
            dict(raw.get("classes") or {}),
            tuple(raw.get("populations") or ()),
            tuple(raw.get("findings") or ()),
            dict(raw.get("finding_populations") or {}),
            dict(raw.get("counts") or {}),
        )


def training_conditioning(data, template: str) -> tuple[Conditioning, list[str]]:
    """(vocabulary, per-image prompts) for training on `data` with `template`."""
    if "{findings}" not in template:
        prompts = [compose_prompt(template, data.class_names[i], "", ()) for i in data.labels]
        return Conditioning(template, tuple(data.class_names), counts=dict(Counter(prompts))), prompts
    conds = image_conditions(data)
    prompts = [c.prompt(template) for c in conds]
    pops = sorted({c.population for c in conds if c.population})
    findings = _ordered(tuple({f for c in conds for f in c.findings}))
    where: dict[str, Counter] = {f: Counter() for f in findings}
    for c in conds:
        for f in c.findings:
            where[f][c.population] += 1
    classes = {}
    # Named classes: each class label maps to one population and its dominant findings, e.g. the
    # pediatric set's normal / pneumonia. A label present in several populations (NIH and Kermany
    # both have "normal") takes the population of the first dataset in the data (its first image);
    # a label without a dominant finding set (≥ 50% of its images, e.g. NIH "abnormal") is not a
    # named class: generate it through --finding.
    pop_arr = np.array([c.population for c in conds])
    first_pop = pop_arr[0] if len(pop_arr) else ""
    for k, name in enumerate(data.class_names):
        idx = np.flatnonzero(data.labels == k)
        if len(idx) == 0:
            continue
        pops_here = set(pop_arr[idx])
        pop = first_pop if first_pop in pops_here else Counter(pop_arr[idx]).most_common(1)[0][0]
        idx = idx[pop_arr[idx] == pop]
        common, n = Counter(conds[i].findings for i in idx).most_common(1)[0]
        if common and n >= 0.5 * len(idx):
            classes[name] = {"population": str(pop), "findings": list(common)}
    return (
        Conditioning(
            template,
            tuple(classes),
            classes,
            tuple(pops),
            findings,
            {f: w.most_common(1)[0][0] for f, w in where.items() if w},
            dict(Counter(prompts)),
        ),
        prompts,
    )


def resolve_conditions(
    vocab: Conditioning,
    classes: list[str] | None,
    findings: list[str] | None,
    population: str | None,
    allow_unknown: bool = False,
) -> list[Condition]:
    """The conditions `generate` makes images for. `findings` items may join several with '+'."""
    fmap = load_findings_map()
    out: list[Condition] = []
    # A model with no vocabulary at all (a preset with random weights) knows nothing to protect.
    allow_unknown = allow_unknown or (not vocab.class_names and not vocab.composes)
    opt_in = (
        "pass --allow-unknown-conditions to generate it anyway (images "
        "will be labelled with a condition the model was not trained on)"
    )
    if population and vocab.populations and population not in vocab.populations and not allow_unknown:
        raise UsageError(
            f"population {population!r} is not one the model was trained on ({', '.join(vocab.populations)})",
            hint=opt_in,
        )
    for name in classes or ():
        if name in vocab.classes:
            spec = vocab.classes[name]
            out.append(Condition(name, population or spec.get("population", ""), tuple(spec.get("findings", ()))))
        elif not vocab.composes and (name in vocab.class_names or allow_unknown):
            out.append(Condition(name, population or ""))
        elif allow_unknown and vocab.composes:
            try:
                resolved = _resolve_findings(fmap, name)
            except UsageError:
                resolved = ()  # not a finding either: the prompt carries the name as given
            out.append(Condition(name, population or "", resolved))
        else:
            known = ", ".join(vocab.class_names) or "none"
            raise UsageError(f"class {name!r} is not one the model was trained on (it knows: {known})", hint=opt_in)
    for item in findings or ():
        if not vocab.composes:
            raise UsageError("this model was trained on class prompts only, not findings", hint="use --class")
        resolved = _resolve_findings(fmap, item)
        unknown = [f for f in resolved if f not in vocab.findings]
        if unknown and not allow_unknown:
            raise UsageError(
                f"finding {unknown[0]!r} is not one the model was trained on (it knows: {', '.join(vocab.findings)})",
                hint=opt_in,
            )
        pop = population or vocab.finding_populations.get(
            resolved[0], vocab.populations[0] if vocab.populations else ""
        )
        out.append(Condition("+".join(resolved), pop, resolved))
    if not classes and not findings:
        out = [
            Condition(
                n,
                population or vocab.classes.get(n, {}).get("population", ""),
                tuple(vocab.classes.get(n, {}).get("findings", ())),
            )
            for n in vocab.class_names
        ]
    if not out:
        raise UsageError("nothing to generate: the model names no classes", hint="pass --class NAME or --finding NAME")
    return out


def condition_name(item: str) -> str:
    """The folder / manifest name of a finding combination as a user types it ('cardiomegaly+effusion'
    → 'pleural_effusion+enlarged_cardiac_silhouette'): canonical names in the mapping's order."""
    return "+".join(_resolve_findings(load_findings_map(), item))


def _resolve_findings(fmap, item: str) -> tuple[str, ...]:
    parts = [p for p in item.split("+") if p.strip()]
    if not parts:
        raise UsageError(f"empty finding {item!r}")
    return _ordered(tuple(fmap.resolve(p) for p in parts))
