"""Errors a person can cause. Messages are English msgids, translated by the web layer."""


def N_(message):
    """Mark a msgid for extraction without translating it here (core has no locale)."""
    return message


class DomainError(Exception):
    status = 400

    def __init__(self, code, message, http_status=None, **params):
        super().__init__(message % params if params else message)
        self.code = code
        self.message = message
        self.params = params
        if http_status is not None:
            self.status = http_status

    def as_dict(self):
        return {"code": self.code, "message": self.message, "params": self.params}


class Invalid(DomainError):
    status = 400


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Refused(DomainError):
    """The request is well formed but the rules say no (limits, blocks, holds)."""

    status = 409
