"""The wandb client against a self-hosted W&B server behind Gatehouse (routes/wandb-sdk.yaml).

W&B keeps its own API key; Gatehouse's credential is an extra header the client adds to every
request, set before wandb is imported (WANDB__EXTRA_HTTP_HEADERS in older clients).

    export WANDB_BASE_URL=https://wandb.corp.example
    export WANDB_API_KEY=<your W&B key>
    export GATEHOUSE_TOKEN=gatehouse_pat_...      # route "wandb"
    python wandb_client.py
"""

import json
import os

os.environ.setdefault(
    "WANDB_X_EXTRA_HTTP_HEADERS",
    json.dumps({"Proxy-Authorization": f"Bearer {os.environ['GATEHOUSE_TOKEN']}"}),
)

import wandb  # noqa: E402  (after the header is set)


def main() -> None:
    run = wandb.init(project="gatehouse-smoke")
    run.log({"loss": 0.42})
    run.finish()


if __name__ == "__main__":
    main()
