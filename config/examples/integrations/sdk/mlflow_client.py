"""MLflow through Gatehouse with a personal access token (routes/mlflow-sdk.yaml).

    export MLFLOW_TRACKING_URI=https://mlflow.corp.example
    export MLFLOW_TRACKING_TOKEN=gatehouse_pat_...   # from /.gatehouse/tokens, route "mlflow"
    python mlflow_client.py

MLflow's client sends MLFLOW_TRACKING_TOKEN as "Authorization: Bearer <token>": nothing else to do.
"""

import os

import mlflow


def main() -> None:
    if not os.environ.get("MLFLOW_TRACKING_TOKEN", "").startswith("gatehouse_pat_"):
        raise SystemExit("set MLFLOW_TRACKING_TOKEN to a Gatehouse personal access token")
    mlflow.set_experiment("gatehouse-smoke")
    with mlflow.start_run():
        mlflow.log_metric("loss", 0.42)


if __name__ == "__main__":
    main()
