"""Every ``rpc-error`` the server sends is built here (RFC 6241 §4.3 and Appendix A).

Handlers raise ``agent.api.RpcError`` (directly or through the constructors below); the
session turns it into XML with ``rpc_error_element``.  Keeping the constructors in one place
keeps error-type, error-tag, error-app-tag and error-info uniform across operations.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from agent.api import NETCONF_BASE_NS, ErrorType, RpcError

_NC = f"{{{NETCONF_BASE_NS}}}"


class RpcErrors(Exception):
    """Several rpc-errors answered in one rpc-reply (error-option continue-on-error)."""

    def __init__(self, errors: list[RpcError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


# RFC 6241 Appendix A: the error-types each error-tag may have, the preferred one first.
ALLOWED_TYPES: dict[str, tuple[ErrorType, ...]] = {
    "in-use": ("protocol", "application"),
    "invalid-value": ("protocol", "application"),
    "too-big": ("rpc", "transport", "protocol", "application"),
    "missing-attribute": ("rpc", "protocol", "application"),
    "bad-attribute": ("rpc", "protocol", "application"),
    "unknown-attribute": ("rpc", "protocol", "application"),
    "missing-element": ("protocol", "application"),
    "bad-element": ("protocol", "application"),
    "unknown-element": ("protocol", "application"),
    "unknown-namespace": ("protocol", "application"),
    "access-denied": ("protocol", "application"),
    "lock-denied": ("protocol",),
    "resource-denied": ("application", "transport", "rpc", "protocol"),
    "rollback-failed": ("protocol", "application"),
    "data-exists": ("application",),
    "data-missing": ("application",),
    "operation-not-supported": ("protocol", "application"),
    "operation-failed": ("application", "rpc", "protocol"),
    "partial-operation": ("application",),
    "malformed-message": ("rpc",),
}


def wire_type(error: RpcError) -> ErrorType:
    """The error-type sent for ``error``: its own when Appendix A allows it for the tag,
    else the tag's preferred one (so no handler can put a combination on the wire that
    the RFC does not define)."""
    allowed = ALLOWED_TYPES.get(error.tag)
    if allowed is None or error.type in allowed:
        return error.type
    return allowed[0]


def rpc_error_element(error: RpcError) -> etree._Element:
    """The ``<rpc-error>`` element for ``error`` (base namespace, children in RFC order)."""
    element = etree.Element(_NC + "rpc-error", nsmap={None: NETCONF_BASE_NS})  # type: ignore[dict-item]
    etree.SubElement(element, _NC + "error-type").text = wire_type(error)
    etree.SubElement(element, _NC + "error-tag").text = error.tag
    etree.SubElement(element, _NC + "error-severity").text = error.severity
    if error.app_tag:
        etree.SubElement(element, _NC + "error-app-tag").text = error.app_tag
    if error.path:
        path_nsmap: dict[str | None, str] = {
            prefix: ns for prefix, ns in error.path_ns.items() if prefix
        }
        path = etree.SubElement(element, _NC + "error-path", nsmap=path_nsmap)  # type: ignore[arg-type]
        path.text = error.path
    if error.message:
        message = etree.SubElement(element, _NC + "error-message")
        message.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        message.text = error.message
    if error.info:
        info = etree.SubElement(element, _NC + "error-info")
        for name, value in error.info.items():
            etree.SubElement(info, _NC + name).text = value
    return element


# Constructors for the standard errors (RFC 6241 Appendix A).


def in_use(message: str, *, type: ErrorType = "protocol") -> RpcError:
    """The resource is already in use."""
    return RpcError("in-use", message, type=type)


def invalid_value(
    message: str,
    *,
    type: ErrorType = "application",
    path: str | None = None,
    path_ns: Mapping[str, str] | None = None,
    app_tag: str | None = None,
) -> RpcError:
    """Unacceptable value for one or more parameters or data nodes."""
    return RpcError(
        "invalid-value", message, type=type, path=path, path_ns=path_ns, app_tag=app_tag
    )


def too_big(message: str, *, type: ErrorType = "rpc") -> RpcError:
    """The request or response is too large."""
    return RpcError("too-big", message, type=type)


def missing_attribute(attribute: str, element: str, *, type: ErrorType = "rpc") -> RpcError:
    """An expected attribute is missing."""
    return RpcError(
        "missing-attribute",
        f"attribute {attribute!r} is missing on <{element}>",
        type=type,
        info={"bad-attribute": attribute, "bad-element": element},
    )


def bad_attribute(
    attribute: str, element: str, message: str, *, type: ErrorType = "rpc"
) -> RpcError:
    """An attribute value is not correct."""
    return RpcError(
        "bad-attribute",
        message,
        type=type,
        info={"bad-attribute": attribute, "bad-element": element},
    )


def unknown_attribute(attribute: str, element: str, *, type: ErrorType = "rpc") -> RpcError:
    """An unexpected attribute is present."""
    return RpcError(
        "unknown-attribute",
        f"unknown attribute {attribute!r} on <{element}>",
        type=type,
        info={"bad-attribute": attribute, "bad-element": element},
    )


def missing_element(
    element: str,
    message: str | None = None,
    *,
    type: ErrorType = "protocol",
    path: str | None = None,
    path_ns: Mapping[str, str] | None = None,
) -> RpcError:
    """An expected element is missing."""
    return RpcError(
        "missing-element",
        message or f"element <{element}> is missing",
        type=type,
        path=path,
        path_ns=path_ns,
        info={"bad-element": element},
    )


def bad_element(
    element: str,
    message: str,
    *,
    type: ErrorType = "protocol",
    path: str | None = None,
    path_ns: Mapping[str, str] | None = None,
) -> RpcError:
    """An element value is not correct (e.g. a wrong datatype or an out-of-range value)."""
    return RpcError(
        "bad-element",
        message,
        type=type,
        path=path,
        path_ns=path_ns,
        info={"bad-element": element},
    )


def unknown_element(
    element: str,
    message: str | None = None,
    *,
    type: ErrorType = "protocol",
    path: str | None = None,
    path_ns: Mapping[str, str] | None = None,
) -> RpcError:
    """An unexpected element is present."""
    return RpcError(
        "unknown-element",
        message or f"unknown element <{element}>",
        type=type,
        path=path,
        path_ns=path_ns,
        info={"bad-element": element},
    )


def unknown_namespace(element: str, namespace: str, *, type: ErrorType = "protocol") -> RpcError:
    """An unexpected namespace is present."""
    return RpcError(
        "unknown-namespace",
        f"unknown namespace {namespace!r} of element <{element}>",
        type=type,
        info={"bad-element": element, "bad-namespace": namespace},
    )


def access_denied(message: str, *, type: ErrorType = "application") -> RpcError:
    """Access to the requested protocol operation or data model is denied."""
    return RpcError("access-denied", message, type=type)


def lock_denied(holder_session_id: int, message: str | None = None) -> RpcError:
    """Access to the requested lock is denied because it is held by another entity."""
    return RpcError(
        "lock-denied",
        message or f"the lock is held by session {holder_session_id}",
        type="protocol",
        info={"session-id": str(holder_session_id)},
    )


def resource_denied(message: str, *, type: ErrorType = "application") -> RpcError:
    """The request could not be completed because of insufficient resources."""
    return RpcError("resource-denied", message, type=type)


def data_exists(path: str, path_ns: Mapping[str, str], message: str | None = None) -> RpcError:
    """create on data that already exists."""
    return RpcError(
        "data-exists",
        message or "the data already exists",
        type="application",
        path=path,
        path_ns=path_ns,
    )


def data_missing(path: str, path_ns: Mapping[str, str], message: str | None = None) -> RpcError:
    """delete on data that does not exist."""
    return RpcError(
        "data-missing",
        message or "the data does not exist",
        type="application",
        path=path,
        path_ns=path_ns,
    )


def operation_not_supported(
    message: str,
    *,
    type: ErrorType = "protocol",
    path: str | None = None,
    path_ns: Mapping[str, str] | None = None,
) -> RpcError:
    """The requested operation is not supported by this implementation."""
    return RpcError("operation-not-supported", message, type=type, path=path, path_ns=path_ns)


def operation_failed(
    message: str, *, type: ErrorType = "application", app_tag: str | None = None
) -> RpcError:
    """The request could not be completed for a reason no other error-tag covers."""
    return RpcError("operation-failed", message, type=type, app_tag=app_tag)


def malformed_message(message: str) -> RpcError:
    """A message could not be parsed or is not a valid NETCONF message."""
    return RpcError("malformed-message", message, type="rpc")
