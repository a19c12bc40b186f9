"""Tracking URIs are recorded and printed without their passwords."""

import os

import pytest

from prism.credentials import (
    configured_uri_to_environment,
    hide_password,
    redacted_uri,
    store_uri,
)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("postgresql://mlflow:s3cret@db.lab/mlflow", "postgresql://mlflow:***@db.lab/mlflow"),
        ("postgresql+psycopg2://u:p%40ss@h:5432/db", "postgresql+psycopg2://u:***@h:5432/db"),
        ("http://admin:pw@10.0.0.2:5000", "http://admin:***@10.0.0.2:5000"),
        (
            "postgresql://h/db?user=u&password=pw&sslmode=require",
            "postgresql://h/db?user=u&password=***&sslmode=require",
        ),
        ("http://10.0.0.2:5000", "http://10.0.0.2:5000"),
        ("http://user@host:5000/x", "http://user@host:5000/x"),
        ("sqlite:////tmp/o'brien/mlflow.db", "sqlite:////tmp/o'brien/mlflow.db"),
    ],
)
def test_redacted_uri_masks_only_the_password(uri, expected):
    assert redacted_uri(uri) == expected


def test_hide_password_removes_it_from_a_message_in_both_spellings():
    uri = "postgresql://u:p%40ss@h/db"
    message = "could not connect to postgresql://u:p%40ss@h/db (password 'p@ss' rejected)"
    hidden = hide_password(message, uri)
    assert "p%40ss" not in hidden and "p@ss" not in hidden
    assert hide_password("nothing secret", "http://host:5000") == "nothing secret"


def test_a_configured_uri_moves_to_the_environment(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = {"mlflow": {"experiment": "e", "tracking_uri": "http://a:pw@host:5000"}}
    configured_uri_to_environment(config)
    assert config["mlflow"]["tracking_uri"] == "http://a:***@host:5000"

    assert os.environ["MLFLOW_TRACKING_URI"] == "http://a:pw@host:5000"


def test_the_environment_keeps_precedence_over_the_config(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://other:5000")
    config = {"mlflow": {"tracking_uri": "http://a:pw@host:5000"}}
    configured_uri_to_environment(config)

    assert os.environ["MLFLOW_TRACKING_URI"] == "http://other:5000"
    assert config["mlflow"]["tracking_uri"] == "http://a:***@host:5000"


def test_store_uri_completes_a_redacted_record_from_the_environment(monkeypatch):
    assert store_uri("sqlite:///x/mlflow.db") == "sqlite:///x/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://a:pw@host:5000")
    assert store_uri("http://a:***@host:5000") == "http://a:pw@host:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://a:pw@elsewhere:5000")
    with pytest.raises(RuntimeError, match="set MLFLOW_TRACKING_URI to that store's full URI"):
        store_uri("http://a:***@host:5000")
