"""AppConfig: a hosted configuration version, then a deployment conditional on the latest one read."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaos_layer.control.stores.base import (
    DEFAULT_STRATEGY,
    DENIED,
    Clients,
    Conflict,
    Deployment,
    Missing,
    Store,
    Unsupported,
    Write,
    Written,
)
from chaos_layer.source import Stored, kind
from chaos_layer.source import appconfig as appconfig_source
from chaos_layer.source.base import (
    APPCONFIG,
    Provider,
    chunks_of,
    client_region,
    error_code,
    partition,
    read_body,
)

# The resources (ARN after the account) an AppConfig call of ours acts on, for a refusal's message.
_APPCONFIG_RESOURCES: Mapping[str, tuple[str, ...]] = {
    "ListApplications": ("application/*",),
    "ListEnvironments": ("application/{app}",),
    "ListConfigurationProfiles": ("application/{app}",),
    "ListDeploymentStrategies": ("deploymentstrategy/*",),
    "ListDeployments": ("application/{app}/environment/{env}",),
    "GetDeployment": ("application/{app}/environment/{env}/deployment/*",),
    "StopDeployment": ("application/{app}/environment/{env}/deployment/*",),
    "CreateHostedConfigurationVersion": ("application/{app}/configurationprofile/{profile}",),
    "StartDeployment": (
        "application/{app}/environment/{env}",
        "application/{app}/configurationprofile/{profile}",
        "deploymentstrategy/*",
    ),
    "StartConfigurationSession": ("application/{app}/environment/{env}/configuration/{profile}",),
    "GetLatestConfiguration": ("application/{app}/environment/{env}/configuration/{profile}",),
}


@dataclass(frozen=True)
class Profile:
    """The IDs behind an `appconfig://` location's names."""

    location: str
    application_id: str
    environment_id: str
    environment: str
    profile_id: str
    profile: str
    location_uri: str | None


class AppConfigStore(Store):
    source = APPCONFIG
    strategies = True

    @staticmethod
    def written(written: Written) -> str:
        deployed = f", {written.deployment.summary()}" if written.deployment else ""
        return f"AppConfig hosted version {written.version}{deployed}"

    @staticmethod
    def stored(type: str | None, version: int | None, token: str | None) -> str:
        return "AppConfig, as deployed"  # the data plane, which status reads, gives no version

    def __init__(self, clients: Clients) -> None:
        super().__init__(clients)
        self._profiles: dict[str, Profile] = {}

    def provider(self) -> Provider:
        return DataPlaneProvider(self)

    def check(self, location: str) -> None:
        try:
            appconfig_source.split(location)
        except ValueError as error:
            raise Unsupported(str(error)) from None

    def resolve(self, location: str) -> Profile:
        """The IDs of the location's application, environment and profile (names or IDs)."""
        if location in self._profiles:
            return self._profiles[location]
        self.check(location)
        application, environment, profile = appconfig_source.split(location)
        client = self.clients(APPCONFIG)
        app = _find("application", application, _items(client, "list_applications"))
        where = f" in application {application}"
        env = _find("environment", environment, _items(client, "list_environments", ApplicationId=app["Id"]), where)
        prof = _find(
            "configuration profile",
            profile,
            _items(client, "list_configuration_profiles", ApplicationId=app["Id"]),
            where,
        )
        found = Profile(location, app["Id"], env["Id"], env["Name"], prof["Id"], prof["Name"], prof.get("LocationUri"))
        self._profiles[location] = found
        return found

    def latest(self, profile: Profile) -> Deployment | None:
        """The environment's latest deployment, of whichever profile."""
        client = self.clients(APPCONFIG)
        for item in _items(
            client, "list_deployments", ApplicationId=profile.application_id, EnvironmentId=profile.environment_id
        ):
            return Deployment.from_response(item)
        return None

    def deployment(self, location: str) -> Deployment | None:
        try:
            profile = self.resolve(location)
        except Missing:
            return None
        client = self.clients(APPCONFIG)
        ids = {"ApplicationId": profile.application_id, "EnvironmentId": profile.environment_id}
        for item in _items(client, "list_deployments", **ids):
            if item.get("ConfigurationName") == profile.profile:
                return Deployment.from_response(
                    client.get_deployment(**ids, DeploymentNumber=int(item["DeploymentNumber"]))
                )
        return None

    def _write(self, location: str, value: str, write: Write) -> Written:
        from botocore.exceptions import ClientError

        profile = self.resolve(location)
        if profile.location_uri not in (None, "hosted"):
            raise Unsupported(
                f"{location} is not hosted in AppConfig (its content lives at {profile.location_uri});"
                " chaos-layer writes hosted configurations only"
            )
        client = self.clients(APPCONFIG)
        strategy_id = self._strategy(write.strategy or DEFAULT_STRATEGY)
        expected = write.expected
        latest = self.latest(profile)
        moved = latest is None or str(latest.number) != (expected.token if expected else None)
        if write.conditional and expected is not None and expected.token is not None and moved:
            raise Conflict(
                f"a deployment was started in environment {profile.environment} since {location} was read;"
                " nothing was written: run the command again"
            )
        preempted = None
        if latest is not None and latest.in_progress:
            preempted = self._make_way(profile, latest, write.preempt)
        ids = {"ApplicationId": profile.application_id, "ConfigurationProfileId": profile.profile_id}
        description = "chaos-layer"
        version = client.create_hosted_configuration_version(
            **ids, Content=value.encode(), ContentType=write.content_type, Description=description
        )["VersionNumber"]
        arguments: dict[str, Any] = {
            **ids,
            "EnvironmentId": profile.environment_id,
            "DeploymentStrategyId": strategy_id,
            "ConfigurationVersion": str(version),
            "Description": description,
        }
        if latest is not None:
            arguments["LatestDeploymentNumber"] = latest.number
        try:
            started = client.start_deployment(**arguments)
        except ClientError as error:
            if error_code(error) != "ConflictException":
                raise
            raise Conflict(
                f"another deployment started in environment {profile.environment} meanwhile; version {version}"
                f" of {location} was created but not deployed: run the command again"
            ) from None
        return Written(
            location,
            "AppConfig",
            int(version),
            source=APPCONFIG,
            deployment=Deployment.from_response(started),
            preempted=preempted,
        )

    def denial(self, error: Exception, location: str) -> str | None:
        operation = str(getattr(error, "operation_name", ""))
        resources = _APPCONFIG_RESOURCES.get(operation)
        if resources is None or error_code(error) not in DENIED:
            return None
        profile = self._profiles.get(location)  # IDs once resolved; before, any
        ids = {"app": "*", "env": "*", "profile": "*"}
        if profile is not None:
            ids = {"app": profile.application_id, "env": profile.environment_id, "profile": profile.profile_id}
        region = client_region(self.clients(APPCONFIG))
        arn = f"arn:{partition(region)}:appconfig:{region or '*'}:*:"
        named = " and ".join(arn + resource.format(**ids) for resource in resources)
        return f"the caller needs appconfig:{operation} on {named}"

    def _make_way(self, profile: Profile, latest: Deployment, preempt: Collection[str]) -> Deployment:
        """Stop an in-progress deployment of one of chaos-layer's own profiles (AllowRevert:
        AppConfig rolls it back); any other deployment in the way is a Conflict."""
        client = self.clients(APPCONFIG)
        ids = {"ApplicationId": profile.application_id, "EnvironmentId": profile.environment_id}
        current = client.get_deployment(**ids, DeploymentNumber=latest.number)
        ours = set()
        for location in preempt:
            if kind(location) == APPCONFIG:
                try:
                    other = self.resolve(location)
                except Missing:
                    continue
                if (other.application_id, other.environment_id) == (profile.application_id, profile.environment_id):
                    ours.add(other.profile_id)
        name = current.get("ConfigurationName") or current.get("ConfigurationProfileId")
        if current.get("ConfigurationProfileId") not in ours:
            raise Conflict(
                f"deployment #{latest.number} of {name} is in progress in environment {profile.environment}"
                f" ({latest.state}) and AppConfig runs one at a time; wait for it to finish, or stop it"
                " (aws appconfig stop-deployment), then run the command again"
            )
        client.stop_deployment(**ids, DeploymentNumber=latest.number, AllowRevert=True)
        return Deployment.from_response(current)

    def _strategy(self, strategy: str) -> str:
        """A deployment strategy's ID from its name or ID; AWS's predefined ones (AppConfig.*)
        are their own IDs."""
        if strategy.startswith("AppConfig."):
            return strategy
        items = _items(self.clients(APPCONFIG), "list_deployment_strategies")
        try:
            return str(_find("deployment strategy", strategy, items)["Id"])
        except Missing:
            raise Unsupported(f"{{strategy}} {strategy}: no such deployment strategy") from None


class DataPlaneProvider(Provider):
    """What is deployed to an environment, through AppConfig's data plane (the calls the
    agent makes), with the environment's latest deployment number as the token that a
    conditional write compares."""

    def __init__(self, store: AppConfigStore) -> None:
        self._store = store

    def get(self, locations: Sequence[str]) -> dict[str, Stored]:
        from botocore.exceptions import ClientError

        found = {}
        for location in locations:
            try:
                profile = self._store.resolve(location)
            except Missing:
                continue
            latest = self._store.latest(profile)
            data = self._store.clients("appconfigdata")
            try:
                token = data.start_configuration_session(
                    ApplicationIdentifier=profile.application_id,
                    EnvironmentIdentifier=profile.environment_id,
                    ConfigurationProfileIdentifier=profile.profile_id,
                )["InitialConfigurationToken"]
                response = data.get_latest_configuration(ConfigurationToken=token)
            except ClientError as error:
                if error_code(error) in ("ResourceNotFoundException", "BadRequestException"):
                    continue
                raise
            body = response.get("Configuration")
            text = "" if body is None else read_body(chunks_of(body.read), float("inf"))
            if not text:  # nothing deployed yet
                continue
            found[location] = Stored(location, text, "AppConfig", token=None if latest is None else str(latest.number))
        return found


def _items(client: Any, operation: str, **arguments: Any) -> Iterator[dict[str, Any]]:
    """Every item of a List call, across pages."""
    for page in client.get_paginator(operation).paginate(**arguments):
        yield from page.get("Items", [])


def _find(what: str, name: str, items: Iterator[dict[str, Any]], where: str = "") -> dict[str, Any]:
    """The item with this ID, else the one with this name."""
    listed = list(items)
    for item in listed:
        if item.get("Id") == name:
            return item
    named = [item for item in listed if item.get("Name") == name]
    if len(named) > 1:
        raise Unsupported(f"several AppConfig {what}s{where} are named {name}: name it by its ID")
    if not named:
        raise Missing(f"no AppConfig {what} named {name}{where} (create it first, see template.yaml)")
    return named[0]
