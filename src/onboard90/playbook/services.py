"""Writes of the playbook: reading and writing YAML, publishing a validated version (from a file or from an
edit in the admin), installing the shipped default.

Versions are immutable; publishing unchanged content is a no-op, so `init` and `playbook load` can be rerun.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from onboard90.catalog.selectors import catalogue_packages
from onboard90.core import clock
from onboard90.core.services import audit_record
from onboard90.playbook import content, diff
from onboard90.playbook.models import PlaybookVersion

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "default.yaml"
# What `source` says for the shipped default, so an operator can tell it from their own uploads.
DEFAULT_SOURCE = "builtin:playbook/data/default.yaml"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: PyYAML would silently keep the last one, and in a
    hand-edited playbook a second `sms:` under one action is a mistake, not an override."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Mark] = {}
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` merges are allowed to be overridden by the mapping's own keys
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # an unhashable key: SafeLoader reports it with its own position below
        if duplicate:
            first = seen[key]
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"duplicate key {key!r} (first given at line {first.line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_yaml(text: str, *, name: str) -> dict:
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # safe: _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        reason = exc.problem or exc.context or "unreadable YAML"
        what = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise ValueError(f"{name}: {what} at {where}: {reason}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{name}: YAML syntax error: {exc}") from None
    if not isinstance(document, dict):
        kind = "an empty file" if document is None else f"a {type(document).__name__}"
        raise ValueError(f"{name}: the top level must be a mapping (name, stages, …), not {kind}")
    return document


def playbook_load_file(*, path: str | Path) -> dict:
    """Parse a playbook YAML file (not yet validated). Raises ValueError naming the file and, for a
    syntax error, its line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: files saved by Windows editors start with a BOM
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}); save the playbook as UTF-8") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return _parse_yaml(text, name=str(path))


@lru_cache(maxsize=1)
def _default_document() -> dict:
    return playbook_load_file(path=DEFAULT_PATH)


def default_document() -> dict:
    """The shipped default playbook as parsed YAML (a fresh copy: callers may edit it)."""
    return copy.deepcopy(_default_document())


def document_checksum(validated: dict) -> str:
    """sha256 of the canonical JSON of a validated document: equal content, equal checksum."""
    canonical = json.dumps(validated, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _YamlDumper(yaml.SafeDumper):
    """Block style, keys in the document's order, multi-line text (scripts, SMS templates) as `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_list(dumper: yaml.SafeDumper, value: list) -> yaml.SequenceNode:
    # Short lists of plain values on one line (`days: [0, 3]`, `deliveries: [verbal, sms]`), as people write them.
    flow = all(isinstance(item, (str, int, float, bool)) and "\n" not in str(item) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow and bool(value))


_YamlDumper.add_representer(str, _represent_str)
_YamlDumper.add_representer(list, _represent_list)


def document_yaml(document: dict) -> str:
    """A validated document as the YAML `playbook load` reads: Chinese as written (not \\u escapes).

    Loading the text back validates to the same document, so an operator can export, edit and reload it.
    """
    return yaml.dump(
        document, Dumper=_YamlDumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )


class PlaybookStale(ValueError):
    """An edit made on a version that is no longer the newest: publishing it would undo the newer one."""


def playbook_publish(
    *, document: dict, source: str = "", published_by: Any | None = None, based_on: int | None = None
) -> tuple[PlaybookVersion, bool]:
    """Validate and publish a playbook. Returns (version, created): the newest version unchanged when the
    content equals it, else a new version numbered one higher. A document that does not validate raises
    schema.PlaybookError and writes nothing. With `based_on` (the version number an edit started from),
    a newer version published meanwhile raises PlaybookStale and writes nothing.

    The audit entry carries, besides the numbers, every changed field with its old and new value."""
    playbook, _warnings = content.validate_document(document, packages=catalogue_packages())
    validated = playbook.model_dump(mode="json")
    checksum = document_checksum(validated)
    with transaction.atomic():
        newest = PlaybookVersion.objects.select_for_update().order_by("-number").first()
        if based_on is not None and (newest is None or newest.number != based_on):
            now_at = f"v{newest.number}" if newest else "none"
            raise PlaybookStale(
                f"服务方案已更新为 {now_at}，本次修改基于 v{based_on}，请重新打开后再改 / "
                f"the playbook is now {now_at}; this edit was made on v{based_on}: reopen it and edit again"
            )
        if newest is not None and newest.checksum == checksum:
            return newest, False
        old_fields, new_fields = diff.audit_changes(newest.document, validated) if newest else ({}, {})
        version = PlaybookVersion.objects.create(
            number=(newest.number if newest else 0) + 1,
            name=playbook.name,
            document=validated,
            checksum=checksum,
            source=source[:255],
            published_at=clock.now(),
            published_by=published_by,
        )
        audit_record(
            actor=published_by,
            verb="playbook.publish",
            obj=version,
            before={"number": newest.number, "checksum": newest.checksum, "changes": old_fields} if newest else None,
            after={
                "number": version.number,
                "name": version.name,
                "checksum": checksum,
                "source": version.source,
                "actions": [action.code for action in playbook.actions],
                "changes": new_fields,
            },
        )
    return version, True


def _set(target: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[last] = value


def playbook_edit(
    *,
    based_on: PlaybookVersion,
    edited_by: Any,
    changes: dict[str, Any],
    action: str | None = None,
    stage: str | None = None,
    source: str = "admin",
) -> tuple[PlaybookVersion, bool, list[str]]:
    """Publish `based_on` with some fields of one act (or one stage) changed: `changes` maps field paths
    inside it (`window.end`, `task.script`) to new values.

    The new document goes through the same validation as `playbook validate` and `playbook load`, so a
    refusal is a schema.PlaybookError whose lines name the path in the whole document
    (`stages[1].actions[0].window.end: must be >= start`). Returns (version, created, warnings).
    """
    if (action is None) == (stage is None):
        raise ValueError("edit either one action or one stage")
    document = copy.deepcopy(based_on.document)
    target = None
    for each_stage in document["stages"]:
        if stage is not None and each_stage["code"] == stage:
            target = each_stage
        for each_action in each_stage.get("actions", []):
            if action is not None and each_action["code"] == action:
                target = each_action
    if target is None:
        raise ValueError(f"v{based_on.number} has no {'action' if action else 'stage'} {action or stage!r}")
    for path, value in changes.items():
        _set(target, path, value)
    _playbook, warnings = content.validate_document(document, packages=catalogue_packages())
    version, created = playbook_publish(
        document=document, source=source, published_by=edited_by, based_on=based_on.number
    )
    return version, created, warnings


def playbook_install_default(*, published_by: Any | None = None) -> tuple[PlaybookVersion, bool]:
    """Publish the shipped default when no playbook exists yet (what `onboard90 init` calls).

    Once any version exists this does nothing: rerunning `init` must never replace an operator's own
    playbook with the shipped one. A newer shipped default is adopted with `onboard90 playbook load`.
    """
    with transaction.atomic():
        newest = PlaybookVersion.objects.order_by("-number").first()
        if newest is not None:
            return newest, False
        return playbook_publish(document=default_document(), source=DEFAULT_SOURCE, published_by=published_by)
