"""Ditto-style twin errors: `TwinError` factories carrying Ditto's status and error code."""

from __future__ import annotations

from centinela.errors import TwinError

__all__ = [
    "TwinError",
    "attribute_not_found",
    "attributes_not_found",
    "condition_failed",
    "error_from_body",
    "feature_definition_empty",
    "feature_definition_invalid",
    "feature_definition_not_found",
    "feature_not_found",
    "features_not_found",
    "invalid_field_selector",
    "invalid_json",
    "invalid_pointer",
    "invalid_rql",
    "invalid_search_option",
    "not_found_at",
    "not_modified",
    "path_unknown",
    "policy_id_not_deletable",
    "policy_not_found",
    "precondition_failed",
    "properties_not_found",
    "property_not_found",
    "thing_conflict",
    "thing_definition_not_found",
    "thing_id_invalid",
    "thing_id_not_deletable",
    "thing_id_not_settable",
    "thing_not_creatable",
    "thing_not_found",
]


def thing_id_invalid(thing_id: str, reason: str = "") -> TwinError:
    detail = f" {reason}" if reason else ""
    return TwinError(
        400,
        "things:id.invalid",
        f"Thing ID '{thing_id}' is not valid!{detail}",
        "It must conform to the namespaced entity ID notation (see Ditto documentation) and be at most "
        "256 characters long.",
    )


def thing_id_not_settable(body_id: object, url_id: str) -> TwinError:
    return TwinError(
        400,
        "things:id.notsettable",
        f"The Thing ID '{body_id}' in the request body is not equal to the Thing ID '{url_id}' in the "
        "request URL.",
        "Either delete the Thing ID from the request body or use the same Thing ID as in the request URL.",
    )


def thing_id_not_deletable(thing_id: str) -> TwinError:
    return TwinError(
        400, "things:id.notdeletable", f"The Thing ID of the Thing '{thing_id}' cannot be deleted."
    )


def policy_id_not_deletable(thing_id: str) -> TwinError:
    return TwinError(
        400, "things:policyId.notdeletable", f"The Policy ID of the Thing '{thing_id}' cannot be deleted."
    )


def thing_not_found(thing_id: str) -> TwinError:
    return TwinError(
        404,
        "things:thing.notfound",
        f"The Thing with ID '{thing_id}' could not be found or requester had insufficient permissions "
        "to access it.",
        "Check if the ID of your requested Thing was correct and you have sufficient permissions.",
    )


def thing_conflict(thing_id: str) -> TwinError:
    return TwinError(
        409,
        "things:thing.conflict",
        f"The Thing with ID '{thing_id}' already exists",
        "Choose another Thing ID.",
    )


def thing_not_creatable(thing_id: str, reason: str) -> TwinError:
    return TwinError(
        403, "things:thing.notcreatable", f"The Thing with ID '{thing_id}' could not be created: {reason}"
    )


def thing_definition_not_found(thing_id: str) -> TwinError:
    return TwinError(
        404,
        "things:definition.notfound",
        f"The Definition of the Thing with ID '{thing_id}' could not be found or the requester had "
        "insufficient permissions to access it.",
    )


def attributes_not_found(thing_id: str) -> TwinError:
    return TwinError(
        404,
        "things:attributes.notfound",
        f"The Attributes of the Thing with ID '{thing_id}' could not be found or the requester had "
        "insufficient permissions to access it.",
        "Check if the ID of the Thing was correct and you have sufficient permissions.",
    )


def attribute_not_found(thing_id: str, pointer: str) -> TwinError:
    return TwinError(
        404,
        "things:attribute.notfound",
        f"The attribute with key '{pointer}' on the thing with ID '{thing_id}' could not be found or the "
        "requester had insufficient permissions to access it.",
        "Check if the ID of the Thing and the key of your requested attribute was correct and you have "
        "sufficient permissions.",
    )


def features_not_found(thing_id: str) -> TwinError:
    return TwinError(
        404,
        "things:features.notfound",
        f"The Features on the Thing with ID '{thing_id}' do not exist or the requester had insufficient "
        "permissions to access it.",
        "Check if the ID of the Thing was correct and you have sufficient permissions.",
    )


def feature_not_found(thing_id: str, feature_id: str) -> TwinError:
    return TwinError(
        404,
        "things:feature.notfound",
        f"The Feature with ID '{feature_id}' on the Thing with ID '{thing_id}' could not be found or the "
        "requester had insufficient permissions to access it.",
        "Check if the ID of the Thing and the ID of your requested Feature was correct and you have "
        "sufficient permissions.",
    )


def feature_definition_not_found(thing_id: str, feature_id: str) -> TwinError:
    return TwinError(
        404,
        "things:feature.definition.notfound",
        f"The Definition of the Feature with ID '{feature_id}' on the Thing with ID '{thing_id}' does not "
        "exist or the requester had insufficient permissions to access it.",
    )


def feature_definition_empty() -> TwinError:
    return TwinError(400, "things:feature.definition.empty", "Feature Definition must not be empty!")


def feature_definition_invalid(identifier: object) -> TwinError:
    return TwinError(
        400,
        "things:feature.definition.identifier.invalid",
        f"Feature Definition Identifier <{identifier}> is invalid!",
        "An identifier is a string 'namespace:name:version' or a URL.",
    )


def properties_not_found(thing_id: str, feature_id: str, *, desired: bool = False) -> TwinError:
    kind, code = ("desired properties", "desiredProperties") if desired else ("Properties", "properties")
    return TwinError(
        404,
        f"things:feature.{code}.notfound",
        f"The {kind} of the Feature with ID '{feature_id}' on the Thing with ID '{thing_id}' do not exist "
        "or the requester had insufficient permissions to access them.",
    )


def property_not_found(thing_id: str, feature_id: str, pointer: str, *, desired: bool = False) -> TwinError:
    kind, code = ("desired property", "desiredProperty") if desired else ("Property", "property")
    return TwinError(
        404,
        f"things:feature.{code}.notfound",
        f"The {kind} with JSON Pointer '{pointer}' of the Feature with ID '{feature_id}' on the Thing with "
        f"ID '{thing_id}' does not exist or the requester had insufficient permissions to access it.",
        "Check if the ID of the Thing, the Feature ID and the key of your requested property was correct "
        "and you have sufficient permissions.",
    )


def policy_not_found(policy_id: str) -> TwinError:
    return TwinError(
        404,
        "policies:policy.notfound",
        f"The Policy with ID '{policy_id}' could not be found or requester had insufficient permissions "
        "to access it.",
    )


def not_found_at(thing_id: str, parts: tuple[str, ...]) -> TwinError:
    """The 404 Ditto answers for a missing resource at `parts` (a parsed pointer) of a thing."""
    from centinela.twin.pointer import format_pointer

    n = len(parts)
    if n == 0:
        return thing_not_found(thing_id)
    head = parts[0]
    if head == "attributes":
        return (
            attributes_not_found(thing_id)
            if n == 1
            else attribute_not_found(thing_id, format_pointer(parts[1:]))
        )
    if head == "definition":
        return thing_definition_not_found(thing_id)
    if head == "features":
        if n == 1:
            return features_not_found(thing_id)
        fid = parts[1]
        if n == 2:
            return feature_not_found(thing_id, fid)
        kind = parts[2]
        if kind == "definition":
            return feature_definition_not_found(thing_id, fid)
        desired = kind == "desiredProperties"
        if n == 3:
            return properties_not_found(thing_id, fid, desired=desired)
        return property_not_found(thing_id, fid, format_pointer(parts[3:]), desired=desired)
    return path_unknown(format_pointer(parts))


def path_unknown(pointer: str) -> TwinError:
    return TwinError(
        404,
        "things:path.unknown",
        f"The path '{pointer}' is not a resource of a Thing.",
        "Use /, /policyId, /definition, /attributes, /features or a path below the last two.",
    )


def invalid_pointer(pointer: str, reason: str) -> TwinError:
    return TwinError(400, "json.pointer.invalid", f"The JSON pointer '{pointer}' is not valid: {reason}.")


def invalid_json(message: str, description: str | None = None) -> TwinError:
    return TwinError(400, "json.invalid", message, description)


def invalid_field_selector(selector: str, reason: str) -> TwinError:
    return TwinError(
        400,
        "json.fieldselector.invalid",
        f"The field selector <{selector}> is not valid: {reason}.",
        "Use comma separated JSON pointers, optionally grouped with parentheses, e.g. "
        "'attributes/model,features(pressure/properties)'.",
    )


def invalid_rql(expression: str, reason: str) -> TwinError:
    shown = expression if len(expression) <= 200 else f"{expression[:200]}..."
    return TwinError(
        400,
        "rql.expression.invalid",
        f"The RQL expression <{shown}> is not valid: {reason}.",
        "Check the syntax of the filter, e.g. 'and(eq(attributes/site,\"north\"),gt(_revision,3))'.",
    )


def invalid_search_option(option: str, reason: str) -> TwinError:
    return TwinError(
        400,
        "thing-search:search.option.invalid",
        f"The search option <{option}> is not valid: {reason}.",
    )


def precondition_failed(header: str, value: str) -> TwinError:
    return TwinError(
        412,
        "things:precondition.failed",
        f"The comparison of precondition header '{header}' for the requested Thing resource evaluated "
        f"to false. Header value: '{value}', actual entity-tag differs.",
        "The comparison of the provided precondition header with the current ETag value of the "
        "requested Thing resource evaluated to false. Check the value of your conditional header value.",
    )


def not_modified(header: str, value: str) -> TwinError:
    return TwinError(
        304,
        "things:precondition.notmodified",
        f"The comparison of precondition header '{header}' for the requested Thing resource evaluated "
        f"to false. Header value: '{value}', actual entity-tag matches.",
    )


def condition_failed(thing_id: str, condition: str) -> TwinError:
    return TwinError(
        412,
        "things:condition.failed",
        f"The specified condition <{condition}> does not match the state of the Thing with ID '{thing_id}'.",
        "Check the condition and the current state of the Thing.",
    )


def error_from_body(
    status: int, body: object, fallback: str, *, code: str = "gateway:http.error"
) -> TwinError:
    """The `TwinError` a Ditto error body (`status`, `error`, `message`, `description`) describes.

    What the body lacks comes from the answer's `status`, `code` and the `fallback` message, so a
    body that is not Ditto's (or no body) still gives a whole error.
    """
    data = body if isinstance(body, dict) else {}
    given = data.get("status")
    message = data.get("message") or data.get("description") or fallback
    description = data.get("description")
    return TwinError(
        given if isinstance(given, int) and 100 <= given <= 599 else status,
        str(data.get("error") or code),
        str(message),
        description if isinstance(description, str) else None,
    )
