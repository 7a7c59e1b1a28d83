"""Label Studio SDK through Gatehouse (routes/label-studio-sdk.yaml).

The SDK keeps its own API key ("Authorization: Token <key>"); Gatehouse's credential goes beside it
in Proxy-Authorization, which Gatehouse reads and removes before Label Studio sees the request.

    export LABEL_STUDIO_URL=https://labels.corp.example
    export LABEL_STUDIO_API_KEY=<your Label Studio key>
    export GATEHOUSE_TOKEN=gatehouse_pat_...      # route "label-studio"
    python label_studio_client.py
"""

import os

import httpx
from label_studio_sdk.client import LabelStudio


def main() -> None:
    gate = {"Proxy-Authorization": f"Bearer {os.environ['GATEHOUSE_TOKEN']}"}
    ls = LabelStudio(
        base_url=os.environ["LABEL_STUDIO_URL"],
        api_key=os.environ["LABEL_STUDIO_API_KEY"],
        httpx_client=httpx.Client(headers=gate, timeout=60),
    )
    for project in ls.projects.list():
        print(project.id, project.title)


if __name__ == "__main__":
    main()
