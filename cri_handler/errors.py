"""CRI errors as values, and the one table that turns them into gRPC status codes.

Handlers raise CRIError subclasses for what the caller got wrong or asked
for in the wrong state; the domain errors of the layers below (image store,
OCI runtime, networking) are mapped by `status_for`.  Anything else is a
bug of ours: the server logs its traceback and the client gets INTERNAL
with a one-line message, never the traceback.
"""
from __future__ import annotations

import grpc

from sentry.errors import SandboxError


class CRIError(Exception):
    code = grpc.StatusCode.UNKNOWN


class InvalidArgument(CRIError):
    """A malformed request: a missing id, a bad field (the message names it)."""
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(CRIError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(CRIError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(CRIError):
    """The object is in the wrong state for the call (start an exited container)."""
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unimplemented(CRIError):
    code = grpc.StatusCode.UNIMPLEMENTED


class DeadlineExceeded(CRIError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class RuntimeFailure(CRIError):
    """The OCI runtime (pysandbox-oci) or a host operation failed; the
    message carries what it said."""
    code = grpc.StatusCode.UNKNOWN


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str] | None:
    """(code, message) for an expected error; None for a bug (log it)."""
    if isinstance(exc, CRIError):
        return exc.code, str(exc)
    # Imported late: the network modules pull in pyroute2.
    from cri_handler.netns import NetworkError
    table = (
        (NetworkError, grpc.StatusCode.UNKNOWN),
        (SandboxError, grpc.StatusCode.UNKNOWN),
        (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
        (OSError, grpc.StatusCode.UNKNOWN),
    )
    for kind, code in table:
        if isinstance(exc, kind):
            return code, str(exc) or type(exc).__name__
    return None
