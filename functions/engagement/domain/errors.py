"""Errors the domain raises; the HTTP layer maps each to one status code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field, named the way a client wrote it (``events[3].occurred_at``)."""

    field: str
    message: str


class InvalidInput(Exception):
    """The request is well-formed JSON but breaks a rule; nothing was stored."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class StoreError(Exception):
    """The store could not complete a write or read. ``retryable`` says whether a retry may work."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
