"""Breaking-change check between the committed JSON Schemas of our messages and newly generated ones.

The rule: every message the old schema accepted must still be accepted by the new one, and every
property the old schema described must still be there. Kafka keeps what was written, so consumers
built from the new schema replay old messages; consumers are upgraded before producers send anything
new (see the README), so widening is safe and narrowing is not.

The comparison covers the JSON Schema keywords pydantic emits: `$ref`/`$defs` (and any local JSON
pointer), `allOf`, `anyOf`/`oneOf`, `type`, `enum`/`const`, `properties`, `required`,
`additionalProperties`, `items`/`prefixItems`, and the string, number, array and object constraints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

JsonSchema = Mapping[str, Any] | bool
"""A JSON Schema document or sub-schema, as parsed from JSON."""

_ANY: Mapping[str, Any] = {}
_NUMERIC_LIMITS = (("minimum", "exclusiveMinimum", 1), ("maximum", "exclusiveMaximum", -1))
_LOWER_LIMITS = ("minLength", "minItems", "minProperties")
_UPPER_LIMITS = ("maxLength", "maxItems", "maxProperties")


@dataclass(frozen=True, order=True)
class BreakingChange:
    """One change that a consumer of `subject` (a message type or topic) would be broken by."""

    subject: str
    path: str
    reason: str

    def __str__(self) -> str:
        where = " ".join(part for part in (self.subject, self.path) if part)
        return f"{where}: {self.reason}" if where else self.reason


@dataclass(frozen=True)
class TopicContract:
    """What consumers of a topic rely on: the key that orders its messages and the types it carries."""

    key: str
    message_types: frozenset[str]


def schema_breaking_changes(old: JsonSchema, new: JsonSchema, subject: str = "") -> list[BreakingChange]:
    """Changes from `old` to `new` (one message's schema each) that would break a consumer."""
    comparison = _Comparison(old, new, subject)
    comparison.compare(old, new, "", frozenset())
    return comparison.changes


def catalog_breaking_changes(
    old: Mapping[str, JsonSchema], new: Mapping[str, JsonSchema]
) -> list[BreakingChange]:
    """Breaking changes between two sets of message schemas keyed by message type."""
    changes: list[BreakingChange] = []
    for message_type in sorted(old):
        if message_type not in new:
            changes.append(BreakingChange(message_type, "", "message type removed"))
        else:
            changes += schema_breaking_changes(old[message_type], new[message_type], message_type)
    return changes


def topic_breaking_changes(
    old: Mapping[str, TopicContract], new: Mapping[str, TopicContract]
) -> list[BreakingChange]:
    """Topics removed, re-keyed, or no longer carrying a message type that still exists elsewhere.

    A message type that is gone altogether is reported by `catalog_breaking_changes`, not here.
    """
    still_carried = {message_type for topic in new.values() for message_type in topic.message_types}
    changes: list[BreakingChange] = []
    for name in sorted(old):
        subject = f"topic {name}"
        if name not in new:
            changes.append(BreakingChange(subject, "", "topic removed"))
            continue
        before, after = old[name], new[name]
        if before.key != after.key:
            changes.append(BreakingChange(subject, "", f"key changed from {before.key!r} to {after.key!r}"))
        for message_type in sorted(before.message_types - after.message_types):
            if message_type in still_carried:
                changes.append(BreakingChange(subject, "", f"{message_type} moved to another topic"))
    return changes


class _Comparison:
    """Walks an old and a new schema side by side, resolving each against its own document."""

    def __init__(self, old_root: JsonSchema, new_root: JsonSchema, subject: str) -> None:
        self._old_root = old_root
        self._new_root = new_root
        self._subject = subject
        self.changes: list[BreakingChange] = []

    def _report(self, path: str, reason: str) -> None:
        self.changes.append(BreakingChange(self._subject, path, reason))

    def _trial(self) -> _Comparison:
        return _Comparison(self._old_root, self._new_root, self._subject)

    def compare(
        self, old: JsonSchema, new: JsonSchema, path: str, in_progress: frozenset[tuple[str, str]]
    ) -> None:
        old_node, old_refs = _expand(old, self._old_root)
        new_node, new_refs = _expand(new, self._new_root)
        # Recursive models refer back to themselves; a pair already being compared is not re-entered.
        pair = (",".join(old_refs), ",".join(new_refs))
        if (old_refs or new_refs) and pair in in_progress:
            return
        if old_refs or new_refs:
            in_progress = in_progress | {pair}

        if old_node is False:
            return
        if new_node is False:
            self._report(path, "no longer accepts any value")
            return
        old_branches = _branches(old_node, self._old_root)
        new_branches = _branches(new_node, self._new_root)
        if len(old_branches) == 1 and len(new_branches) == 1:
            self._compare_nodes(old_branches[0], new_branches[0], path, in_progress)
            return
        for old_branch in old_branches:
            self._compare_branch(old_branch, new_branches, len(old_branches) > 1, path, in_progress)

    def _compare_branch(
        self,
        old_branch: Mapping[str, Any],
        new_branches: list[Mapping[str, Any]],
        old_is_union: bool,
        path: str,
        in_progress: frozenset[tuple[str, str]],
    ) -> None:
        old_types = _types(old_branch)
        candidates = [
            branch for branch in new_branches if _accepted_types(old_types, _types(branch)) != frozenset()
        ]
        if not candidates:
            if old_is_union:
                self._report(path, f"no longer accepts {_describe([old_branch])}")
            else:
                was, now = _describe([old_branch]), _describe(new_branches)
                self._report(path, f"type changed from {was} to {now}")
            return
        trials = []
        for candidate in candidates:
            trial = self._trial()
            trial.compare(old_branch, candidate, path, in_progress)
            if not trial.changes:
                return
            trials.append(trial)
        self.changes += min(trials, key=lambda trial: len(trial.changes)).changes

    def _compare_nodes(
        self,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        path: str,
        in_progress: frozenset[tuple[str, str]],
    ) -> None:
        old_types, new_types = _types(old), _types(new)
        if new_types is not None:
            if old_types is None:
                self._report(path, f"type narrowed from any value to {_describe([new])}")
                return
            accepted = _accepted_types(old_types, new_types)
            if not accepted:
                self._report(path, f"type changed from {_describe([old])} to {_describe([new])}")
                return
            if accepted != old_types:
                self._report(path, f"no longer accepts {' or '.join(sorted(old_types - accepted))}")
        self._compare_values(old, new, path)
        self._compare_bounds(old, new, path)
        self._compare_formats(old, new, path)
        self._compare_object(old, new, path, in_progress)
        self._compare_array(old, new, path, in_progress)

    def _compare_values(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_values, new_values = _allowed_values(old), _allowed_values(new)
        if new_values is None:
            return
        if old_values is None:
            self._report(path, f"now restricted to {_show(new_values)}")
            return
        removed = [value for value in old_values if value not in new_values]
        if removed and len(old_values) == len(new_values) == 1:
            self._report(path, f"value changed from {_show(old_values)} to {_show(new_values)}")
        elif removed:
            self._report(path, f"enum values removed: {_show(removed)}")

    def _compare_bounds(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        for name, exclusive_name, sign in _NUMERIC_LIMITS:
            old_bound, new_bound = _bound(old, name, exclusive_name), _bound(new, name, exclusive_name)
            if new_bound is None or old_bound == new_bound:
                continue
            if old_bound is None:
                self._report(path, f"{name} added: {_show_bound(new_bound)}")
                continue
            old_value, old_exclusive = old_bound
            new_value, new_exclusive = new_bound
            tighter = sign * (new_value - old_value) > 0 or (new_value == old_value and new_exclusive)
            if tighter:
                verb = "raised" if sign > 0 else "lowered"
                self._report(path, f"{name} {verb} from {_show_bound(old_bound)} to {_show_bound(new_bound)}")
        for names, verb, tighter_if in ((_LOWER_LIMITS, "raised", 1), (_UPPER_LIMITS, "lowered", -1)):
            for name in names:
                if name not in new or old.get(name) == new[name]:
                    continue
                if name not in old:
                    self._report(path, f"{name} added: {new[name]}")
                elif tighter_if * (new[name] - old[name]) > 0:
                    self._report(path, f"{name} {verb} from {old[name]} to {new[name]}")
        if "multipleOf" in new and old.get("multipleOf") != new["multipleOf"]:
            if "multipleOf" not in old or old["multipleOf"] % new["multipleOf"] != 0:
                self._report(path, f"multipleOf changed from {old.get('multipleOf')} to {new['multipleOf']}")

    def _compare_formats(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        for name in ("pattern", "format"):
            if name in new and old.get(name) != new[name]:
                if name in old:
                    self._report(path, f"{name} changed from {old[name]!r} to {new[name]!r}")
                else:
                    self._report(path, f"{name} added: {new[name]!r}")

    def _compare_object(
        self,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        path: str,
        in_progress: frozenset[tuple[str, str]],
    ) -> None:
        old_properties: Mapping[str, Any] = old.get("properties", {})
        new_properties: Mapping[str, Any] = new.get("properties", {})
        for name, old_property in old_properties.items():
            if name not in new_properties:
                self._report(_join(path, name), "property removed")
            else:
                self.compare(old_property, new_properties[name], _join(path, name), in_progress)
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name in sorted(new_required - old_required):
            if name in old_properties:
                self._report(_join(path, name), "optional property made required")
            else:
                self._report(_join(path, name), "new required property")
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if new_extra is False:
            if old_extra is not False:
                self._report(path, "additionalProperties: false added")
        elif old_extra is not False and not (old_extra is True and new_extra is True):
            self.compare(
                _ANY if old_extra is True else old_extra,
                _ANY if new_extra is True else new_extra,
                _join(path, "*"),
                in_progress,
            )

    def _compare_array(
        self,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        path: str,
        in_progress: frozenset[tuple[str, str]],
    ) -> None:
        old_prefix: list[Any] = list(old.get("prefixItems", ()))
        new_prefix: list[Any] = list(new.get("prefixItems", ()))
        for index, old_item in enumerate(old_prefix):
            new_item = new_prefix[index] if index < len(new_prefix) else new.get("items", True)
            self.compare(old_item, new_item, f"{path}[{index}]", in_progress)
        if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
            self._report(path, "items must now be unique")
        if "items" in old or "items" in new:
            self.compare(old.get("items", True), new.get("items", True), f"{path}[]", in_progress)


def _expand(schema: JsonSchema, root: JsonSchema) -> tuple[Mapping[str, Any] | bool, tuple[str, ...]]:
    """Follow `$ref`s and merge `allOf` parts; returns the schema and the refs followed on the way."""
    refs: list[str] = []
    while True:
        if isinstance(schema, bool):
            return schema, tuple(refs)
        if "$ref" in schema:
            reference = schema["$ref"]
            if reference in refs:
                raise ValueError(f"$ref {reference!r} refers to itself")
            refs.append(reference)
            target = _resolve_pointer(root, reference)
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            schema = _merge([target, siblings]) if siblings else target
            continue
        if "allOf" in schema:
            parts: list[JsonSchema] = [_expand(part, root)[0] for part in schema["allOf"]]
            rest = {key: value for key, value in schema.items() if key != "allOf"}
            schema = _merge([*parts, rest])
            continue
        return schema, tuple(refs)


def _merge(parts: Iterable[JsonSchema]) -> JsonSchema:
    merged: dict[str, Any] = {}
    for part in parts:
        if part is False:
            return False
        if part is True:
            continue
        merged.update(part)
    return merged


def _resolve_pointer(root: JsonSchema, reference: str) -> JsonSchema:
    if not reference.startswith("#"):
        raise ValueError(f"only local $refs are supported, not {reference!r}")
    node: Any = root
    for token in filter(None, reference[1:].split("/")):
        key = token.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(key)] if isinstance(node, list) else node[key]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ValueError(f"$ref {reference!r} does not resolve") from None
    if not isinstance(node, Mapping | bool):
        raise ValueError(f"$ref {reference!r} does not point at a schema")
    return node


def _branches(node: Mapping[str, Any] | bool, root: JsonSchema) -> list[Mapping[str, Any]]:
    """The alternatives of a union (`anyOf`/`oneOf`, nested ones flattened); a plain schema is one."""
    if node is True:
        return [_ANY]
    if node is False:
        return []
    union = node.get("anyOf", node.get("oneOf"))
    if union is None:
        return [node]
    return [branch for part in union for branch in _branches(_expand(part, root)[0], root)]


def _types(node: Mapping[str, Any]) -> frozenset[str] | None:
    """The JSON types a schema allows; None when it does not restrict the type."""
    declared = node.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(declared)
    values = _allowed_values(node)
    if values is not None:
        return frozenset(_json_type(value) for value in values)
    return None


def _accepted_types(old: frozenset[str] | None, new: frozenset[str] | None) -> frozenset[str]:
    """Which of the old types the new types still accept (None means any type)."""
    if new is None:
        return old if old is not None else frozenset({"any"})
    if old is None:
        return frozenset({"any"}) & new
    return frozenset(t for t in old if t in new or (t == "integer" and "number" in new))


def _allowed_values(node: Mapping[str, Any]) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _bound(node: Mapping[str, Any], name: str, exclusive_name: str) -> tuple[float, bool] | None:
    """A numeric limit as (value, exclusive); the tighter one when both forms are given."""
    limits: list[tuple[float, bool]] = []
    if isinstance(node.get(name), int | float) and not isinstance(node.get(name), bool):
        limits.append((node[name], False))
    if isinstance(node.get(exclusive_name), int | float) and not isinstance(node.get(exclusive_name), bool):
        limits.append((node[exclusive_name], True))
    if not limits:
        return None
    if name == "minimum":
        return max(limits, key=lambda limit: (limit[0], limit[1]))
    return min(limits, key=lambda limit: (limit[0], not limit[1]))


def _show_bound(bound: tuple[float, bool]) -> str:
    value, exclusive = bound
    return f"{value} (exclusive)" if exclusive else f"{value}"


def _describe(nodes: Iterable[Mapping[str, Any]]) -> str:
    names: list[str] = []
    for node in nodes:
        types = _types(node)
        names += ["any value"] if types is None else sorted(types)
    return " or ".join(dict.fromkeys(names))


def _show(values: Iterable[Any]) -> str:
    return ", ".join(repr(value) for value in values)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
