"""The library's own reads without a boto3 client: one request per source, signed by botocore's
SigV4 signer, the same request a client sends for the same call; the function's own clients
untouched; a client wherever the outcome is not certain; and every read ended at its deadline,
its connection closed, however slowly the answer trickles in.

A recording endpoint on loopback keeps every request whole (method, path, headers, body), so
a client's request and the library's can be compared header by header for a fixed time and
fixed credentials.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random
from typing import Any

import boto3
import botocore.auth
import botocore.session
import pytest
from botocore.exceptions import ClientError

from chaos_layer import inject_fault
from chaos_layer.source.base import READ_DEADLINE
from chaos_layer.source.s3 import S3Provider
from chaos_layer.source.ssm import SSMProvider, default_client
from tests.conftest import FakeClock, MotoServer, S3Bucket
from tests.functional.conftest import DrippingEndpoint

PARAM = "/chaos-layer/orders"
KILL_SWITCH = "/chaos-layer/kill-switch"
STOPPED = json.dumps({"enabled": False, "faults": [{"type": "latency", "delay_ms": 10}]})
SIGNED_AT = datetime.datetime(2026, 12, 6, 12, 0, 0)
OK = {"statusCode": 200, "body": "ok"}


class Recorded:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body


class RecordingEndpoint:
    """Keeps every request whole and answers each with `answer(request)` (status, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answer: Callable[[Recorded], tuple[int, dict[str, str], bytes]] = lambda request: (200, {}, b"{}")
        recording = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                recording.requests.append(request)
                status, headers, data = recording.answer(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def recording() -> Iterator[RecordingEndpoint]:
    endpoint = RecordingEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture
def signed_at(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's signer (the client's and the library's) signs at SIGNED_AT."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: SIGNED_AT)


@pytest.fixture
def clients_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The service of every botocore client created from now on, whoever creates it."""
    built: list[str] = []
    create_client = botocore.session.Session.create_client

    def counted(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        built.append(service_name)
        return create_client(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counted)
    return built


def signed_part(request: Recorded) -> dict[str, str]:
    """What SigV4 signs and what it produces: the headers the Authorization names, and it."""
    authorization = request.headers["authorization"]
    names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    return {name: request.headers[name] for name in names} | {"authorization": authorization}


class TestTheRequestIsTheClients:
    def test_get_parameters_for_the_config_and_the_kill_switch(
        self,
        recording: RecordingEndpoint,
        signed_at: None,
        clients_built: list[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Names as given (a label selector and an ARN among them), WithDecryption for
        SecureStrings, one batched call, signed as the client signs it."""
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", recording.endpoint_url)
        locations = [f"{PARAM}:prod", "arn:aws:ssm:us-east-1:123456789012:parameter/chaos-layer/kill-switch"]
        recording.answer = lambda request: (200, {}, b'{"Parameters": [], "InvalidParameters": []}')

        assert SSMProvider().get(locations) == {}
        assert clients_built == []  # no client: the request was signed by hand
        boto3.session.Session().client("ssm").get_parameters(Names=locations, WithDecryption=True)

        ours, clients = recording.requests
        assert (ours.method, ours.path) == (clients.method, clients.path) == ("POST", "/")
        assert ours.body == clients.body
        assert json.loads(ours.body) == {"Names": locations, "WithDecryption": True}
        assert signed_part(ours) == signed_part(clients)
        assert ours.headers["x-amz-target"] == "AmazonSSM.GetParameters"
        assert "x-amz-security-token" in signed_part(ours)

    @pytest.mark.parametrize("etag", [None, '"5d41402abc4b2a76b9719d911017c592"'], ids=["first", "conditional"])
    def test_get_object(
        self,
        recording: RecordingEndpoint,
        signed_at: None,
        clients_built: list[str],
        monkeypatch: pytest.MonkeyPatch,
        etag: str | None,
    ) -> None:
        """A key that needs escaping, If-None-Match on the ETag last seen, the checksum mode
        the client asks for: the same request, the same signature."""
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", recording.endpoint_url)
        key = "configs/orders service+v2.json"
        recording.answer = lambda request: (200, {"ETag": etag or '"abc"'}, STOPPED.encode())
        provider = S3Provider()
        if etag is not None:
            recording.answer = lambda request: (200, {"ETag": etag}, STOPPED.encode())
            provider.get([f"s3://chaos-layer-configs/{key}"])
            recording.answer = lambda request: (304, {"ETag": etag}, b"")
            recording.requests.clear()

        found = provider.get([f"s3://chaos-layer-configs/{key}"])
        assert found[f"s3://chaos-layer-configs/{key}"].value == STOPPED
        assert clients_built == []
        arguments = {"Bucket": "chaos-layer-configs", "Key": key} | ({"IfNoneMatch": etag} if etag else {})
        with contextlib.suppress(ClientError):  # the 304 is an error to the client; only its request matters
            boto3.session.Session().client("s3").get_object(**arguments)

        ours, clients = recording.requests
        assert (ours.method, ours.path) == (clients.method, clients.path)
        assert ours.path == "/chaos-layer-configs/configs/orders%20service%2Bv2.json"
        assert signed_part(ours) == signed_part(clients)
        assert ours.headers.get("if-none-match") == etag

    def test_a_refusal_reaches_the_reader_with_aws_code_as_a_clients_does(
        self, recording: RecordingEndpoint, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The reader backs off on throttling and words refusals by the error's code: the
        signed read raises what the client raises (botocore's ClientError, code, message)."""
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", recording.endpoint_url)
        body = json.dumps({"__type": "com.amazonaws.ssm#ThrottlingException", "message": "Rate exceeded"}).encode()
        recording.answer = lambda request: (400, {"Content-Type": "application/x-amz-json-1.1"}, body)

        with pytest.raises(ClientError) as ours:
            SSMProvider().get([PARAM])
        with pytest.raises(ClientError) as clients:  # the client the library would build: no retries
            default_client().get_parameters(Names=[PARAM], WithDecryption=True)

        assert ours.value.response["Error"] == clients.value.response["Error"]
        assert ours.value.operation_name == clients.value.operation_name == "GetParameters"
        assert str(ours.value).startswith("An error occurred (ThrottlingException) when calling the GetParameters")

    def test_with_the_container_endpoints_credentials_as_snapstart_provides_them(
        self, recording: RecordingEndpoint, clients_built: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No credentials in the environment: they come from the container credentials endpoint
        (with its authorization token), fetched once and kept for the reads that follow."""
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{recording.endpoint_url}/credentials")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "snapstart-token")
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", recording.endpoint_url)
        expiry = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).isoformat()
        issued = {"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "secret", "Token": "session", "Expiration": expiry}

        def answer(request: Recorded) -> tuple[int, dict[str, str], bytes]:
            if request.path == "/credentials":
                return 200, {}, json.dumps(issued).encode()
            return 200, {}, b'{"Parameters": [], "InvalidParameters": []}'

        recording.answer = answer
        provider = SSMProvider()
        provider.get([PARAM])
        provider.get([PARAM])

        fetched, *reads = recording.requests
        assert (fetched.path, fetched.headers["authorization"]) == ("/credentials", "snapstart-token")
        assert len(reads) == 2  # fetched once, kept
        for read in reads:
            assert "Credential=ASIACONTAINER/" in read.headers["authorization"]
            assert read.headers["x-amz-security-token"] == "session"
        assert clients_built == []


class TestTheFunctionsOwnClients:
    def test_behave_the_same_before_and_after_the_librarys_first_read(
        self, moto_server: MotoServer, s3: S3Bucket, clients_built: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_server.endpoint_url)
        moto_server.put(PARAM, STOPPED)
        moto_server.put("/app/secret", "s3cr3t", type="SecureString")
        s3.put("app/data.json", '{"app": true}')

        def own_calls() -> tuple[Any, ...]:
            ssm = boto3.client("ssm")
            objects = boto3.client("s3")
            parameter = ssm.get_parameter(Name="/app/secret", WithDecryption=True)["Parameter"]
            body = objects.get_object(Bucket=s3.name, Key="app/data.json")["Body"].read()
            return (
                parameter["Value"],
                body,
                ssm.meta.region_name,
                objects.meta.endpoint_url,
                len(ssm.meta.events._emitter._lookup_cache),  # type: ignore[attr-defined]
                boto3.DEFAULT_SESSION,
                boto3.session.Session().get_credentials().get_frozen_credentials(),  # type: ignore[union-attr]
            )

        def handler(event: Any, context: Any) -> tuple[Any, ...]:
            return own_calls()

        function = inject_fault(parameter=PARAM, random=Random(1))(handler)
        before = own_calls()
        built_before = len(clients_built)
        after = function({}, None)

        assert function.chaos_experiment.cache.reading.problem is None  # type: ignore[attr-defined]
        assert after == before
        assert clients_built[built_before:] == ["ssm", "s3"]  # the function's own two, none of the library's


class TestAClientWhereTheEndpointIsNotCertain:
    @pytest.mark.parametrize(
        "setting",
        [
            ("AWS_USE_FIPS_ENDPOINT", "true"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "true"),
            ("AWS_DEFAULT_REGION", "us-iso-east-1"),
            ("HTTPS_PROXY", "http://127.0.0.1:9"),
        ],
        ids=["fips", "dual-stack", "unknown-partition", "proxy"],
    )
    def test_the_read_goes_through_a_client(self, setting: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        from chaos_layer.source import signed

        monkeypatch.setenv(*setting)
        assert signed.endpoint("ssm") is None
        assert SSMProvider()._signed_read([PARAM]) is None  # no request: a client will send it

    def test_a_bucket_in_another_region_is_read_through_a_client_which_follows_s3(
        self, recording: RecordingEndpoint, clients_built: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", recording.endpoint_url)
        redirect = b"<Error><Code>PermanentRedirect</Code><Message>Use the bucket's endpoint</Message></Error>"
        answers = iter(
            [(301, {"x-amz-bucket-region": "eu-west-1"}, redirect), (200, {"ETag": '"e1"'}, STOPPED.encode())]
        )
        recording.answer = lambda request: next(answers)

        found = S3Provider().get(["s3://chaos-layer-configs/orders.json"])

        assert found["s3://chaos-layer-configs/orders.json"].value == STOPPED
        assert clients_built == ["s3"]
        ours, clients = recording.requests
        assert ours.headers["user-agent"].startswith("chaos-layer ")
        assert clients.headers["user-agent"].startswith("Boto3")

    def test_a_given_endpoint_is_used_as_given(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from chaos_layer.source import signed

        monkeypatch.setenv("AWS_ENDPOINT_URL", "https://ssm.example.internal:8443/prefix/")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-south-3")
        assert signed.endpoint("ssm") == signed.Endpoint("https://ssm.example.internal:8443/prefix", "eu-south-3", True)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:4566")
        assert signed.endpoint("ssm") == signed.Endpoint("http://127.0.0.1:4566", "eu-south-3", True)
        monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
        assert signed.endpoint("ssm") == signed.Endpoint("https://ssm.eu-south-3.amazonaws.com", "eu-south-3", False)


class TestATricklingAnswerIsCutAtTheDeadline:
    @pytest.mark.parametrize("source", ["s3", "appconfig", "ssm"])
    def test_the_connection_is_closed_at_the_deadline_and_the_next_period_reads_again(
        self,
        source: str,
        trickling_body: DrippingEndpoint,
        clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A body that comes one byte every 0.3 s never trips a one-second receive timeout: the
        read is abandoned at its deadline and its connection closed then, not when the body
        would have ended (two minutes later). Until it is, the environment can start no new
        read."""
        dripping_endpoint = trickling_body
        locations = {
            "s3": "s3://chaos-layer-configs/orders.json",
            "appconfig": "appconfig://orders/prod/chaos",
            "ssm": PARAM,
        }
        port = dripping_endpoint.endpoint_url.rsplit(":", 1)[1]
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", dripping_endpoint.endpoint_url)
        monkeypatch.setenv("AWS_APPCONFIG_EXTENSION_HTTP_PORT", port)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", dripping_endpoint.endpoint_url)
        function = inject_fault(
            parameter=locations[source], kill_switch=locations[source], max_age=1, idle_max_age=1, clock=clock
        )(lambda event, context: OK)

        started = time.monotonic()
        assert function({}, None) == OK
        assert dripping_endpoint.closed.wait(READ_DEADLINE + 5), "the connection was still open"
        assert dripping_endpoint.closed_at[0] - dripping_endpoint.accepted_at[0] < READ_DEADLINE + 1

        for _ in range(2):  # the next periods: the abandoned read's failure is taken, then a new read starts
            clock.advance(2)
            assert function({}, None) == OK
        assert dripping_endpoint.connections >= 2  # the abandoned read held the environment no longer
        assert time.monotonic() - started < 2 * READ_DEADLINE + 4


def localhost_certificate(directory: Any) -> tuple[str, str]:
    """A self-signed certificate for localhost (its own CA): the certificate's and key's files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "localhost.pem", directory / "localhost-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


class TestTls:
    def test_the_endpoint_is_verified_against_the_sdks_trust_store_or_aws_ca_bundle(
        self, recording: RecordingEndpoint, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A certificate the trust store does not know is refused (the read fails as a client's
        would, SSLError); with AWS_CA_BUNDLE naming its CA, the same endpoint is read."""
        import ssl

        from botocore.exceptions import SSLError

        from chaos_layer.source import signed

        cert_file, key_file = localhost_certificate(tmp_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        recording._server.socket = context.wrap_socket(recording._server.socket, server_side=True)
        port = recording.endpoint_url.rsplit(":", 1)[1]
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", f"https://localhost:{port}")
        monkeypatch.setattr(signed, "_context", [])
        body = {"Parameters": [{"Name": PARAM, "Value": "on", "Type": "SecureString", "Version": 2}]}
        recording.answer = lambda request: (200, {}, json.dumps(body).encode())

        with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            SSMProvider().get([PARAM])
        assert recording.requests == []

        monkeypatch.setattr(signed, "_context", [])  # a new environment, with the bundle set
        monkeypatch.setenv("AWS_CA_BUNDLE", cert_file)
        found = SSMProvider().get([PARAM])
        assert (found[PARAM].value, found[PARAM].type, found[PARAM].version) == ("on", "SecureString", 2)
        assert json.loads(recording.requests[0].body)["WithDecryption"] is True
