"""The OpenAPI schemas of request and response bodies, as msgspec itself states them.

Litestar's own schemas of msgspec structs drop what msgspec enforces below the first
level (a seat id's length inside a list, a price's bounds inside a mapping) and never say
that a request body refuses unknown fields, so a client following the document had
requests refused that it called valid. msgspec decodes the bodies; its JSON Schema of
the same types is the document's, each struct still one component that others refer to.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Reference, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

REF_PREFIX = "#/components/schemas/"
# Schema's attributes by their JSON Schema names (those spelled alike are found as they are).
_ATTRIBUTES = {f.metadata.get("alias", f.name): f.name for f in dataclasses.fields(Schema)}
_ONE_SCHEMA = {"items", "additionalProperties", "propertyNames", "not", "contains"}
_SCHEMA_LISTS = {"anyOf", "oneOf", "allOf", "prefixItems"}
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs"}


class StructSchemas(OpenAPISchemaPlugin):
    """Every msgspec struct's schema from ``msgspec.json.schema_components``."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return not field_definition.is_union and field_definition.is_subclass_of(msgspec.Struct)

    def to_openapi_schema(self, field_definition: FieldDefinition,
                          schema_creator: SchemaCreator) -> Schema:
        struct = field_definition.type_
        # Registered before its fields are, as litestar's own plugin does: a struct that
        # refers to itself finds its reference.
        schema = schema_creator.schema_registry.get_schema_for_field_definition(field_definition)
        _, components = msgspec.json.schema_components([struct], ref_template=REF_PREFIX + "{name}")
        # The structs it refers to, registered as components through litestar, by the names
        # msgspec gave them: litestar's references themselves, which it renames at the end.
        refs = {}
        for nested in _nested_structs(struct):
            ref = schema_creator.for_field_definition(FieldDefinition.from_annotation(nested))
            if isinstance(ref, Reference):
                refs[REF_PREFIX + nested.__name__] = ref
        component = components[struct.__name__]
        info = msgspec.inspect.type_info(struct)
        assert isinstance(info, msgspec.inspect.StructType)
        for field in info.fields:
            _name_keys(component["properties"][field.encode_name], field.type)
        filled = _schema(component, refs)
        for attribute in dataclasses.fields(Schema):
            setattr(schema, attribute.name, getattr(filled, attribute.name))
        return schema


def _nested_structs(struct: type) -> set[type]:
    """The struct types reachable from ``struct``'s fields, itself excluded."""
    found: set[type] = set()

    def walk(info: msgspec.Struct) -> None:  # msgspec.inspect's descriptions are structs
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls in found:
                return
            found.add(info.cls)
        for name in info.__struct_fields__:
            value = getattr(info, name)
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, msgspec.Struct):
                    walk(item)

    walk(msgspec.inspect.type_info(struct))
    found.discard(struct)
    return found


def _name_keys(schema: dict[str, Any], info: msgspec.inspect.Type) -> None:
    """Adds what msgspec's JSON Schema leaves unsaid: the keys a mapping takes (a seat
    category, a day type) as ``propertyNames``, and that a datetime or a time is one
    (``format``; msgspec refuses any other string)."""
    if isinstance(info, msgspec.inspect.DateTimeType | msgspec.inspect.TimeType):
        if schema.get("type") == "string":
            schema.setdefault(
                "format", "date-time" if isinstance(info, msgspec.inspect.DateTimeType) else "time")
    elif isinstance(info, msgspec.inspect.Metadata):
        _name_keys(schema, info.type)
    elif isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            for option in schema.get("anyOf", ()):
                _name_keys(option, member)
    elif isinstance(info, msgspec.inspect.DictType) and schema.get("type") == "object":
        keys = _key_schema(info.key_type)
        if keys:
            schema["propertyNames"] = keys
        if isinstance(schema.get("additionalProperties"), dict):
            _name_keys(schema["additionalProperties"], info.value_type)
    elif (isinstance(info, (msgspec.inspect.ListType, msgspec.inspect.SetType,
                            msgspec.inspect.FrozenSetType, msgspec.inspect.VarTupleType))
          and schema.get("type") == "array" and isinstance(schema.get("items"), dict)):
        _name_keys(schema["items"], info.item_type)


def _key_schema(info: msgspec.inspect.Type) -> dict[str, Any]:
    """What a mapping's keys must be, as JSON Schema (empty: any string)."""
    if isinstance(info, msgspec.inspect.Metadata):
        return _key_schema(info.type)
    if isinstance(info, msgspec.inspect.LiteralType):
        return {"enum": list(info.values)}
    if isinstance(info, msgspec.inspect.EnumType):
        return {"enum": [member.value for member in info.cls]}
    if isinstance(info, msgspec.inspect.StrType):
        bounds = {"minLength": info.min_length, "maxLength": info.max_length,
                  "pattern": info.pattern}
        return {key: value for key, value in bounds.items() if value is not None}
    return {}


def _schema(doc: dict[str, Any], refs: dict[str, Reference]) -> Schema | Reference:
    """A JSON Schema document as litestar's ``Schema`` (``$ref``: a ``Reference``)."""
    if "$ref" in doc:
        return refs[doc["$ref"]]
    kwargs: dict[str, Any] = {}
    for key, value in doc.items():
        if key in _ONE_SCHEMA and isinstance(value, dict):
            value = _schema(value, refs)
        elif key in _SCHEMA_LISTS:
            value = [_schema(v, refs) for v in value]
        elif key in _SCHEMA_MAPS:
            value = {k: _schema(v, refs) for k, v in value.items()}
        elif key == "type":
            value = [OpenAPIType(v) for v in value] if isinstance(value, list) else OpenAPIType(value)
        elif key == "format":
            value = OpenAPIFormat(value)
        kwargs[_ATTRIBUTES.get(key) or re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()] = value
    return Schema(**kwargs)
