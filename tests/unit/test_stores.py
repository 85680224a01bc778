"""What moto cannot produce, with botocore's Stubber on a real SSM client: a
DescribeParameters whose first page is empty but carries a NextToken, a parameter whose type
cannot be told, and KMS refusing to decrypt a SecureString. Each refusal names the action and
the resource in our words, never AWS's message or a value, in the library's warning and in
the operator API's error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chaos_layer import control
from chaos_layer.control.stores.base import Clients, Conflict, Denied
from chaos_layer.control.stores.ssm import SSMStore
from chaos_layer.source import ConfigReader
from chaos_layer.source.ssm import SSMProvider, parameter_arn, parameter_name

PARAM = "/chaos-layer/orders"
KILL_SWITCH = "/chaos-layer/kill-switch"
SECRET = "s3cr3t-value"
# How SSM answers a GetParameters WithDecryption that KMS refused (AWS's words, with the principal).
KMS_DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/fn/fn is not authorized to perform: kms:Decrypt on resource:"
    " arn:aws:kms:us-east-1:123456789012:key/1234abcd because no identity-based policy allows the kms:Decrypt"
    " action (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)"
)
SSM_DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/fn/fn is not authorized to perform: ssm:GetParameters on"
    f" resource: arn:aws:ssm:us-east-1:123456789012:parameter{PARAM}"
)


@pytest.fixture
def ssm() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ssm", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def describe(stubber: Stubber, pages: list[list[dict[str, Any]]]) -> None:
    filters = [{"Key": "Name", "Option": "Equals", "Values": [PARAM]}]
    for number, page in enumerate(pages):
        request: dict[str, Any] = {"ParameterFilters": filters}
        if number:
            request["NextToken"] = f"page-{number}"
        response: dict[str, Any] = {"Parameters": page}
        if number + 1 < len(pages):
            response["NextToken"] = f"page-{number + 1}"
        stubber.add_response("describe_parameters", response, request)


# DescribeParameters across pages, and no type guessed


def test_an_empty_first_page_still_finds_the_secure_string(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    item = {"Name": PARAM, "Type": "SecureString", "KeyId": "alias/chaos", "Version": 3}
    describe(stubber, [[], [item]])
    expected = {"Name": PARAM, "Value": "{}", "Overwrite": True, "Type": "SecureString", "KeyId": "alias/chaos"}
    stubber.add_response("put_parameter", {"Version": 4}, expected)

    written = SSMStore(Clients(ssm=client)).put(PARAM, "{}", content_type="application/json")

    assert (written.type, written.version) == ("SecureString", 4)


def test_a_secure_string_that_describe_does_not_list_is_not_written(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    describe(stubber, [[]])
    parameter = {"Name": PARAM, "Type": "SecureString", "Value": SECRET, "Version": 2}
    stubber.add_response("get_parameters", {"Parameters": [parameter]})

    with pytest.raises(Denied, match="only it tells this SecureString's KMS key; nothing was written") as raised:
        SSMStore(Clients(ssm=client)).put(PARAM, "{}", content_type="application/json")
    assert SECRET not in str(raised.value)


def test_a_parameter_whose_type_cannot_be_told_is_not_written(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    describe(stubber, [[{"Name": PARAM, "Version": 2}]])
    with pytest.raises(Denied, match=f"could not tell the type of the existing parameter {PARAM}"):
        SSMStore(Clients(ssm=client)).put(PARAM, "{}", content_type="application/json")


def test_a_parameter_that_does_not_exist_is_created_as_a_string(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    describe(stubber, [[], []])
    stubber.add_response("get_parameters", {"Parameters": [], "InvalidParameters": [PARAM]})
    expected = {"Name": PARAM, "Value": "{}", "Overwrite": False, "Type": "String"}
    stubber.add_response("put_parameter", {"Version": 1}, expected)
    assert SSMStore(Clients(ssm=client)).put(PARAM, "{}", content_type="application/json").type == "String"


def test_a_parameter_created_since_it_was_read_is_not_overwritten(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    describe(stubber, [[], []])
    stubber.add_response("get_parameters", {"Parameters": [], "InvalidParameters": [PARAM]})
    stubber.add_client_error(
        "put_parameter",
        "ParameterAlreadyExists",
        "The parameter already exists.",
        expected_params={"Name": PARAM, "Value": "{}", "Overwrite": False, "Type": "String"},
    )
    with pytest.raises(Conflict, match=f"{PARAM} was created since it was read; nothing was written"):
        SSMStore(Clients(ssm=client)).put(PARAM, "{}", content_type="application/json")


def test_a_version_ssm_did_not_give_reports_no_race(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    describe(stubber, [[{"Name": PARAM, "Type": "String"}]])
    stubber.add_response("put_parameter", {"Version": 7})
    assert SSMStore(Clients(ssm=client)).put(PARAM, "{}", content_type="application/json").version == 7


# permission errors, in the library's warning


def read_with(client: Any, parameter: str = PARAM) -> str:
    reading = ConfigReader(parameter, KILL_SWITCH, lambda: client).read()
    assert reading.config is None
    assert reading.problem is not None
    return reading.problem


def test_the_warning_names_get_parameters_on_each_parameter_arn(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    stubber.add_client_error("get_parameters", "AccessDeniedException", SSM_DENIED)
    problem = read_with(client)
    assert problem == (
        f"could not read {PARAM} and {KILL_SWITCH}: AccessDeniedException: the caller needs ssm:GetParameters on"
        " arn:aws:ssm:us-east-1:*:parameter/chaos-layer/orders and"
        " arn:aws:ssm:us-east-1:*:parameter/chaos-layer/kill-switch"
    )


def test_a_config_named_by_arn_is_named_by_that_arn(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    arn = "arn:aws:ssm:eu-west-1:210987654321:parameter/shared/chaos"
    stubber.add_client_error("get_parameters", "AccessDeniedException", SSM_DENIED)
    assert f"ssm:GetParameters on {arn} and " in read_with(client, f"{arn}:live")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDeniedException", KMS_DENIED),
        (
            "AccessDeniedException",
            "The ciphertext refers to a customer master key that does not exist, does not exist in this region,"
            " or you are not allowed to access.",
        ),
        ("InvalidKeyId", "The query key ID isn't valid."),
    ],
)
def test_a_kms_refusal_names_kms_decrypt(ssm: tuple[Any, Stubber], code: str, message: str) -> None:
    client, stubber = ssm
    stubber.add_client_error("get_parameters", code, message)
    problem = read_with(client)
    assert "KMS refused: the caller needs kms:Decrypt on the KMS key of SecureString /chaos-layer/orders" in problem
    assert "ssm:GetParameters" not in problem
    assert "123456789012" not in problem  # AWS's own words stay out
    assert "assumed-role" not in problem


def test_a_disabled_key_is_named_as_such(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    stubber.add_client_error("get_parameters", "KMSDisabledException", "key is disabled")
    assert f"the KMS key of SecureString {PARAM} and {KILL_SWITCH} cannot be used (KMSDisabledException)" in read_with(
        client
    )


# permission errors, in the operator API's error


def controller(client: Any) -> control.Controller:
    return control.Controller(client, PARAM, KILL_SWITCH)


def test_the_operator_error_names_the_permission_and_keeps_aws_words(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    stubber.add_client_error("get_parameters", "AccessDeniedException", KMS_DENIED)
    with pytest.raises(control.AwsError) as raised:
        controller(client).status()
    message = str(raised.value)
    assert message.startswith(f"access denied: could not read {PARAM} and {KILL_SWITCH}: KMS refused: the caller")
    assert "kms:Decrypt on the KMS key of SecureString" in message
    assert "(AWS: User: arn:aws:sts::123456789012:assumed-role/fn/fn is not authorized" in message


def test_put_parameter_denied_names_ssm_put_parameter(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    describe(stubber, [[{"Name": PARAM, "Type": "String", "Version": 1}]])
    stubber.add_client_error("put_parameter", "AccessDeniedException", "User: x is not authorized")
    with pytest.raises(control.AwsError) as raised:
        controller(client).write_config({"enabled": False, "faults": []})
    assert str(raised.value) == (
        f"access denied: could not write {PARAM}: the caller needs ssm:PutParameter on"
        " arn:aws:ssm:us-east-1:*:parameter/chaos-layer/orders (AWS: User: x is not authorized)"
    )


def test_put_parameter_refused_by_kms_names_kms_encrypt(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    item = {"Name": PARAM, "Type": "SecureString", "KeyId": "alias/chaos", "Version": 1}
    describe(stubber, [[item]])
    stubber.add_client_error("put_parameter", "AccessDeniedException", KMS_DENIED)
    with pytest.raises(control.AwsError, match="the caller needs kms:Encrypt on the KMS key of SecureString"):
        controller(client).write_config({"enabled": False, "faults": []})


@pytest.mark.parametrize(
    ("location", "name", "arn"),
    [
        ("/a/b", "/a/b", "arn:aws:ssm:us-east-1:*:parameter/a/b"),
        ("plain:3", "plain", "arn:aws:ssm:us-east-1:*:parameter/plain"),
        ("arn:aws:ssm:us-east-1:1:parameter/a/b:live", "/a/b", "arn:aws:ssm:us-east-1:1:parameter/a/b"),
        ("arn:aws:ssm:us-east-1:1:parameter/plain", "plain", "arn:aws:ssm:us-east-1:1:parameter/plain"),
    ],
)
def test_names_and_arns(location: str, name: str, arn: str) -> None:
    assert parameter_name(location) == name
    assert parameter_arn(location, "us-east-1") == arn


def test_provider_passes_other_errors_as_they_are(ssm: tuple[Any, Stubber]) -> None:
    client, stubber = ssm
    stubber.add_client_error("get_parameters", "InternalServerError", "boom")
    with pytest.raises(client.exceptions.InternalServerError):
        SSMProvider(lambda: client).get([PARAM])
