"""Tracking URIs without their passwords: what the project records or prints of a store.

A team store's URI may carry a password (``postgresql://user:PASSWORD@host/db``,
``http://user:PASSWORD@host:5000``). The URI itself travels only in the environment
(``MLFLOW_TRACKING_URI``, which every process of a study inherits); anything the project
writes down or shows (run params, artifacts, the study record, command lines, messages) holds
the redacted form, with the password replaced by :data:`MASK`.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

MASK = "***"
URI_VARIABLE = "MLFLOW_TRACKING_URI"
# scheme://user:password@ (the password is everything up to the last '@' before the host)
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:)(?P<password>[^/]*)@")
# password=... in a query string (libpq and some drivers take it there)
_QUERY = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#]*)", re.IGNORECASE)


def redacted_uri(uri: str) -> str:
    """``uri`` with any password (in its user info or its query) replaced by :data:`MASK`."""
    uri = _USERINFO.sub(lambda m: f"{m['head']}{MASK}@", uri)
    return _QUERY.sub(lambda m: f"{m['head']}{MASK}", uri)


def hide_password(text: str, uri: str) -> str:
    """``text`` (a message that may quote ``uri`` or its password) without the password."""
    for pattern in (_USERINFO, _QUERY):
        for match in pattern.finditer(uri):
            for secret in {match["password"], unquote(match["password"])}:
                if secret and secret != MASK:
                    text = text.replace(secret, MASK)
    return text


def configured_uri_to_environment(config: dict) -> None:
    """Move a study config's ``mlflow.tracking_uri`` into the environment, redacted in ``config``.

    ``MLFLOW_TRACKING_URI`` keeps precedence when it is set. Afterwards the config, which is
    recorded as the study's params and artifact and passed on command lines, holds the URI
    without its password, and every process the workflow starts finds the URI itself in its
    environment.
    """
    mlflow = config.get("mlflow") or {}
    configured = mlflow.get("tracking_uri")
    if configured:
        os.environ.setdefault(URI_VARIABLE, configured)
        mlflow["tracking_uri"] = redacted_uri(configured)


def store_uri(recorded: str) -> str:
    """The URI to open for a study whose record holds ``recorded`` (perhaps redacted).

    A redacted URI is completed from ``MLFLOW_TRACKING_URI``, which must be the same store.

    Raises
    ------
    RuntimeError
        When the record's URI is redacted and the environment does not hold that store's URI.
    """
    if MASK not in recorded:
        return recorded
    environment = os.environ.get(URI_VARIABLE, "")
    if environment and redacted_uri(environment) == recorded:
        return environment
    raise RuntimeError(
        f"the study's tracking store {recorded} needs its password, which is never recorded: "
        f"set {URI_VARIABLE} to that store's full URI"
    )
