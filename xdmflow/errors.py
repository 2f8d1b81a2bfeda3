"""The one exception hierarchy of xdmflow.

Every layer raises these; only ``xdmflow.api.errors`` turns them into HTTP error bodies
(FLOW-xxxx-yyy for the Flow Service, XDM-xxxx-yyy for the Schema Registry, problem+json
elsewhere). Services never raise HTTP exceptions.

Each error has:

* ``status`` - the HTTP status it maps to;
* ``code`` - the platform's numeric error code when one applies (``"1101"``, ``"1012"``...),
  ``None`` to let the API layer pick the service's default for the status;
* ``message`` - what a user reads: what is wrong and what to do next. It never contains
  a secret;
* ``details`` - optional structured data (offending fields, paths...).

Errors are picklable (``__reduce__``) so they cross process and Dask boundaries.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    # root
    "XdmflowError",
    # request / resource errors
    "BadRequestError",
    "ValidationFailedError",
    "NotFoundError",
    "ConflictError",
    "PreconditionFailedError",
    "PreconditionRequiredError",
    "NotAcceptableError",
    "UnsupportedMediaTypeError",
    "PayloadTooLargeError",
    "TimeLimitError",
    # auth
    "AuthError",
    # configuration
    "ConfigError",
    # sources
    "SourceError",
    "SourceAuthError",
    "SourceRetriableError",
    "SourceFatalError",
    "PolicyRefusedError",
    # pipeline
    "RunFailedError",
    # values and states our own code refuses
    "InvalidValueError",
    "InvalidTypeError",
    "InternalError",
]


class XdmflowError(Exception):
    """Root of every error xdmflow raises on purpose."""

    status: int = 500
    default_title: str = "Internal Server Error"
    failure_type: str = "system"  # config | transient | system (reported on runs)

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        title: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = dict(details or {})
        self.title = title or self.default_title
        if status is not None:
            self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (type(self), self.message, self.code, self.details, self.title, self.status),
        )

    def __str__(self) -> str:
        return self.message


def _rebuild(
    cls: type[XdmflowError],
    message: str,
    code: str | None,
    details: dict[str, Any],
    title: str,
    status: int,
) -> XdmflowError:
    err = cls.__new__(cls)
    XdmflowError.__init__(err, message, code=code, details=details, title=title, status=status)
    return err


class BadRequestError(XdmflowError):
    """The request is malformed or names something that does not fit (400)."""

    status = 400
    default_title = "Bad Request"
    failure_type = "config"


class ValidationFailedError(BadRequestError):
    """A body or a resource failed validation; ``details['errors']`` lists each problem."""

    default_title = "Validation Failed"


class NotFoundError(XdmflowError):
    """The resource does not exist in the caller's org and sandbox (404)."""

    status = 404
    default_title = "Resource not found"
    failure_type = "config"

    def __init__(self, message: str, *, resource_type: str = "", resource_id: str = "", **kw: Any) -> None:
        details = kw.pop("details", None) or {}
        if resource_type:
            details.setdefault("type", resource_type)
        if resource_id:
            details.setdefault("id", resource_id)
        super().__init__(message, details=details, **kw)


class ConflictError(XdmflowError):
    """The change conflicts with the resource's current state (409 unless a code says 400)."""

    status = 409
    default_title = "Conflict"
    failure_type = "config"


class PreconditionFailedError(XdmflowError):
    """An ``If-Match`` etag or version is stale (412)."""

    status = 412
    default_title = "Precondition Failed"
    failure_type = "config"


class PreconditionRequiredError(BadRequestError):
    """``If-Match`` is required and missing (the platform answers 400)."""

    default_title = "If-Match header missing"


class NotAcceptableError(XdmflowError):
    status = 406
    default_title = "Not Acceptable"
    failure_type = "config"


class UnsupportedMediaTypeError(XdmflowError):
    status = 415
    default_title = "Unsupported Media Type"
    failure_type = "config"


class PayloadTooLargeError(XdmflowError):
    status = 413
    default_title = "Payload Too Large"
    failure_type = "config"


class TimeLimitError(XdmflowError):
    """A request's work took longer than its operator-set time limit (504)."""

    status = 504
    default_title = "Gateway Timeout"
    failure_type = "transient"


class AuthError(XdmflowError):
    """A gateway-level authentication/authorization failure.

    ``code`` is the gateway's error code (``403010``, ``401013``...); the body shape is
    ``{"error_code", "message"}`` regardless of the service.
    """

    status = 401
    default_title = "Unauthorized"
    failure_type = "config"


class InvalidValueError(BadRequestError, ValueError):
    """A value our code cannot accept (an expression, a date pattern, a type name, an id...).

    Also a ``ValueError``: the code that handles bad values per row or per field keeps doing so,
    and the API answers 400 with the message when one escapes to a request.
    """


class InvalidTypeError(BadRequestError, TypeError):
    """A value of the wrong type for an operation (an expression applied to the wrong type)."""


class InternalError(XdmflowError, RuntimeError):
    """A state that must not happen (a closed writer written to, a commit that cannot be confirmed)."""

    status = 500
    default_title = "Internal Server Error"


class ConfigError(XdmflowError):
    """xdmflow itself is misconfigured (settings, missing optional dependency)."""

    status = 500
    default_title = "Configuration Error"
    failure_type = "config"


class SourceError(XdmflowError):
    """A source system answered with an error or could not be reached."""

    status = 400
    default_title = "Source Error"
    failure_type = "system"
    retriable: bool = False


class SourceAuthError(SourceError):
    """The source rejected the credentials (never retried; the user must fix them)."""

    failure_type = "config"


class SourceRetriableError(SourceError):
    """A transient failure (down, timeout, 429, 5xx): the run may be retried later."""

    status = 503
    failure_type = "transient"
    retriable = True


class SourceFatalError(SourceError):
    """A non-transient failure the user must act on (bad table, bad query...)."""

    failure_type = "config"


class PolicyRefusedError(SourceFatalError):
    """The operator's policy forbids what a connection reaches: a local folder outside
    ``XDMFLOW_LOCAL_ROOTS`` or a non-public host not in ``XDMFLOW_ALLOWED_HOSTS`` (400).

    The message names the setting to change; ``details['setting']`` holds it.
    """

    default_title = "Refused by the operator's policy"


class RunFailedError(XdmflowError):
    """A run could not complete; nothing was committed."""

    status = 500
    default_title = "Run failed"
