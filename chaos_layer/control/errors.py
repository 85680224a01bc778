"""The operator API's errors: one line each that a user can act on, none echoing a parameter's
value. Messages name the caller's settings as `{fields}`: `str()` shows this API's argument
names, the CLI its flags (`ControlError.message`).

ControlError
 +-- UsageError      a setting or value the caller gave makes no sense (a bad duration, ...)
 +-- InvalidConfig   the config would be invalid; `.problems` lists every problem
 +-- NotFound        nothing is stored at the config's location
 +-- AwsError        credentials, region, permissions, endpoint or another AWS failure
 |    +-- Changed    someone else wrote the location since it was read; nothing was written
 +-- Overwritten     a write landed but replaced another that raced it (SSM); says how to restore it
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from chaos_layer.control.stores.base import (
    Conflict,
    Denied,
    Missing,
    RacedWrite,
    Unsupported,
)
from chaos_layer.exceptions import Problem
from chaos_layer.source.base import DENIED_CODES, SourceError

# A field of a message, e.g. `{duration}`: a setting the caller gave, named as the caller knows it.
_FIELD = re.compile(r"\{(\w+)\}")
# The settings a message may name, and how str() names them: as this API's own arguments
# (the CLI names its flags instead).
ARGUMENTS: Mapping[str, str] = {
    name: name
    for name in (
        "parameter",
        "kill_switch",
        "region",
        "profile",
        "endpoint_url",
        "duration",
        "until",
        "no_expiry",
        "rate",
        "parameter_type",
        "change_type",
        "force",
        "strategy",
    )
} | {"document": "a new document"}


class ControlError(Exception):
    """A failure the user can fix; `str()` is one line saying what to do."""

    def __init__(self, message: str) -> None:
        self.template = message
        super().__init__(self.message(ARGUMENTS))

    def message(self, names: Mapping[str, str]) -> str:
        """The message with each `{field}` of ARGUMENTS named as `names` says; any other
        text in braces (an AWS message, say) is left as it is."""

        def name(match: re.Match[str]) -> str:
            field = match.group(1)
            return names.get(field, ARGUMENTS[field]) if field in ARGUMENTS else match.group(0)

        return _FIELD.sub(name, self.template)


class UsageError(ControlError):
    """A setting or value makes no sense."""


class InvalidConfig(ControlError):
    """The config would break the library's rules, so it is not written."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


class NotFound(ControlError):
    """Nothing is stored at the config's location."""


class AwsError(ControlError):
    """AWS could not be reached or refused the request."""


class Changed(AwsError):
    """Someone else wrote the location since it was read or last written, so nothing was
    written; `change` says who, when and which keys, where the source tells."""

    def __init__(self, message: str, change: str) -> None:
        super().__init__(message)
        self.change = change


class Overwritten(ControlError):
    """The write landed, but replaced a write that raced it; the message says how to restore that.
    `version` is the write that landed, `lost` the one it replaced (None when not known), and
    `change` who wrote that and when."""

    def __init__(self, message: str, *, version: int | None = None, lost: int | None = None, change: str = "") -> None:
        super().__init__(message)
        self.version = version
        self.lost = lost
        self.change = change


_CREDENTIAL_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken"}
)


@contextmanager
def aws_errors(
    action: str, explain: Callable[[Exception], str | None] | None = None, service: str = "AWS"
) -> Iterator[None]:
    """botocore's exceptions, and the stores' and sources' refusals, as one-line ControlErrors.
    `explain` puts a refusal in our words (the action and the resource), before AWS's;
    `service` is what an unreachable endpoint is called."""
    from botocore import exceptions as boto

    try:
        yield
    except Unsupported as error:
        raise UsageError(str(error)) from None
    except Missing as error:
        raise NotFound(str(error)) from None
    except Denied as error:
        raise AwsError(f"access denied: could not {action}: {error}") from None
    except Conflict as error:
        if error.change is not None:
            raise Changed(f"could not {action}: {error}", error.change) from None
        raise AwsError(f"could not {action}: {error}") from None
    except RacedWrite as error:
        raise Overwritten(str(error), version=error.version, lost=error.lost, change=error.change) from None
    except SourceError as error:
        if error.denied:  # our own words first (action and resource), then AWS's, for the operator
            said = f" (AWS: {' '.join(error.detail.split())[:300]})" if error.detail else ""
            raise AwsError(
                f"access denied: could not {action}: {str(error).removeprefix('access denied: ')}{said}"
            ) from None
        prefix = "" if error.code == "AccessDenied" else f"{error.code}: "
        raise AwsError(f"could not {action}: {prefix}{error}") from None
    except boto.NoRegionError:
        raise AwsError("no AWS region: pass {region} or set AWS_REGION") from None
    except boto.NoCredentialsError:
        raise AwsError(
            "no AWS credentials found: pass {profile}, set AWS_PROFILE or AWS_ACCESS_KEY_ID, or log in (aws sso login)"
        ) from None
    except boto.ProfileNotFound as error:
        raise AwsError(f"{error} (check {{profile}} or AWS_PROFILE)") from None
    except (boto.EndpointConnectionError, boto.ConnectTimeoutError, boto.ReadTimeoutError) as error:
        raise AwsError(f"could not reach {service} to {action}: {error}") from None
    except boto.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", "") or error)
        if code.isdigit():  # not an AWS error: something else answered, e.g. a proxy
            code, message = f"HTTP {code}", "the endpoint's answer was not from AWS (check {endpoint_url} and proxies)"
        message = " ".join(message.split())[:300]
        if code in DENIED_CODES:
            ours = explain(error) if explain is not None else None
            reason = f"{ours} (AWS: {message})" if ours else message
            raise AwsError(f"access denied: could not {action}: {reason}") from None
        if code in _CREDENTIAL_CODES:
            raise AwsError(f"AWS refused the credentials ({code}): {message}") from None
        raise AwsError(f"could not {action}: {code}: {message}") from None
    except boto.BotoCoreError as error:
        raise AwsError(f"could not {action}: {error}") from None
