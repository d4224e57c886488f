"""What changed between two playbook documents: acts added, removed and changed field by field.

Plain Python over two validated documents (as `PlaybookVersion.document` stores them); the admin's
side-by-side page and the audit entry of every publish read the same result. Acts and stages are matched
by code, so an act that moves to another stage shows as changed (its stage), not as removed and added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldChange:
    path: str  # relative to the act / stage / document, e.g. "window.end"
    before: Any
    after: Any


@dataclass
class ItemChange:
    """One act or stage: `status` is added, removed or changed."""

    code: str
    name: str
    stage: str
    status: str
    fields: list[FieldChange] = field(default_factory=list)
    before: dict | None = None
    after: dict | None = None


@dataclass
class DocumentDiff:
    general: list[FieldChange]
    stages: list[ItemChange]
    acts: list[ItemChange]

    @property
    def empty(self) -> bool:
        return not (self.general or self.stages or self.acts)

    def counts(self) -> dict[str, int]:
        acts = self.acts
        return {
            "added": sum(1 for a in acts if a.status == "added"),
            "removed": sum(1 for a in acts if a.status == "removed"),
            "changed": sum(1 for a in acts if a.status == "changed"),
        }


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dicts key by key ("window.end"); a list (deliveries, checklist, days) is one value: its order matters."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out.update(_flatten(inner, path))
        if not value and prefix:
            out[prefix] = {}
        return out
    return {prefix: value}


def field_changes(before: dict, after: dict, *, skip: tuple[str, ...] = ()) -> list[FieldChange]:
    """Leaf-by-leaf differences of two mappings (a sub-mapping that appears or goes is one change)."""
    old = {k: v for k, v in _flatten(before).items() if k.split(".")[0] not in skip}
    new = {k: v for k, v in _flatten(after).items() if k.split(".")[0] not in skip}
    changes = []
    for path in [*old, *(p for p in new if p not in old)]:
        if old.get(path) != new.get(path):
            changes.append(FieldChange(path, old.get(path), new.get(path)))
    return changes


def _acts(document: dict) -> dict[str, tuple[dict, dict]]:
    return {act["code"]: (stage, act) for stage in document.get("stages", []) for act in stage.get("actions", [])}


def document_diff(before: dict, after: dict) -> DocumentDiff:
    """The differences of `after` against `before` (both validated documents)."""
    general = field_changes(before, after, skip=("stages",))

    old_stages = {s["code"]: s for s in before.get("stages", [])}
    new_stages = {s["code"]: s for s in after.get("stages", [])}
    stages = []
    for code, stage in new_stages.items():
        if code not in old_stages:
            stages.append(ItemChange(code, stage["name"], stage["name"], "added", after=stage))
            continue
        changes = field_changes(old_stages[code], stage, skip=("actions",))
        if changes:
            stages.append(ItemChange(code, stage["name"], stage["name"], "changed", changes))
    for code, stage in old_stages.items():
        if code not in new_stages:
            stages.append(ItemChange(code, stage["name"], stage["name"], "removed", before=stage))

    old_acts, new_acts = _acts(before), _acts(after)
    acts = []
    for code, (stage, act) in new_acts.items():
        if code not in old_acts:
            acts.append(ItemChange(code, act["name"], stage["name"], "added", after=act))
            continue
        old_stage, old_act = old_acts[code]
        changes = []
        if old_stage["code"] != stage["code"]:
            changes.append(FieldChange("stage", old_stage["name"], stage["name"]))
        changes += field_changes(old_act, act)
        if changes:
            acts.append(ItemChange(code, act["name"], stage["name"], "changed", changes, before=old_act, after=act))
    for code, (stage, act) in old_acts.items():
        if code not in new_acts:
            acts.append(ItemChange(code, act["name"], stage["name"], "removed", before=act))

    # Reordering alone changes the plan the staff read (and the checksum): say so rather than show nothing.
    common = [c for c in old_acts if c in new_acts]
    reordered = [c for c in new_acts if c in old_acts]
    if common != reordered:
        general.append(FieldChange("order", common, reordered))
    return DocumentDiff(general, stages, acts)


def audit_changes(before: dict, after: dict) -> tuple[dict, dict]:
    """The diff as two JSON mappings for the audit log: {"acts.<code>.<path>": old} and the new values."""
    diff = document_diff(before, after)
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for change in diff.general:
        old[change.path], new[change.path] = change.before, change.after
    for kind, items in (("stages", diff.stages), ("acts", diff.acts)):
        for item in items:
            if item.status == "changed":
                for change in item.fields:
                    key = f"{kind}.{item.code}.{change.path}"
                    old[key], new[key] = change.before, change.after
            else:
                key = f"{kind}.{item.code}"
                old[key], new[key] = item.before, item.after
    return old, new
