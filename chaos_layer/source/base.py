"""What every source of a config or kill switch provides (Powertools' parameters/base.py is
the model): a `Provider` fetches the values stored at some locations, and says nothing
about what they mean. Meaning (the kill-switch rule, parsing) is the reader's alone."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Error codes by which AWS services say "slow down"; the reader backs off on them.
THROTTLING_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "Throttling"})

ClientFactory = Callable[[], Any]


@dataclass(frozen=True)
class Stored:
    """A value as its source keeps it, with what the source says about it."""

    name: str  # the source's own name for it (SSM: the parameter name, without a selector)
    value: str
    type: str | None = None  # SSM: String or SecureString
    version: int | None = None


class Provider(ABC):
    """One kind of source: SSM parameters today; S3 objects and AppConfig profiles slot in
    as one subclass each."""

    @abstractmethod
    def get(self, locations: Sequence[str]) -> dict[str, Stored]:
        """The values stored at these locations, read in as few calls as the source allows,
        keyed by location as given; a location with nothing stored is left out. Raises
        whatever the source raises: the caller decides what a failure means."""


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (or None)."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code if isinstance(code, str) else None
