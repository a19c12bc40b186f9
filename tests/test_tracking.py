"""The MLflow edge's helpers that need no tracking store."""

from prism.tracking import runs_url


def test_the_runs_link_opens_the_runs_table_of_the_study_experiment():
    server = runs_url("https://mlflow.example.org/", "7")
    assert server == "https://mlflow.example.org/#/experiments/7?workflowType=machine_learning"
    local = runs_url("sqlite:////home/me/prism/mlflow.db", "1")
    assert local == "http://127.0.0.1:5000/#/experiments/1?workflowType=machine_learning"
