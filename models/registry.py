"""The MLflow model registry as we use it: versions named per task, and the champion alias."""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the model or the alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def set_alias_if_absent(client: MlflowClient, name: str, alias: str, version: str) -> bool:
    """Point `alias` at `version` unless it already points somewhere; True when it was set."""
    if alias_version(client, name, alias) is not None:
        return False
    client.set_registered_model_alias(name, alias, version)
    return True


def uri_version(client: MlflowClient, uri: str) -> str | None:
    """The registered version a `models:/name/version` or `models:/name@alias` URI names, else None."""
    if not uri.startswith("models:/"):
        return None
    name, _, rest = uri.removeprefix("models:/").partition("/")
    if "@" in name:
        name, alias = name.split("@", 1)
        return alias_version(client, name, alias)
    return rest or None
