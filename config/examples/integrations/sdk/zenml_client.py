"""ZenML's REST API through Gatehouse (routes/zenml-sdk.yaml).

ZenML reads its own bearer token (a login session or a service-account API key exchanged at
/api/v1/login) from Authorization; on this route Gatehouse reads only Proxy-Authorization.

    export ZENML_URL=https://zenml.corp.example
    export ZENML_API_KEY=<a ZenML service-account API key>
    export GATEHOUSE_TOKEN=gatehouse_pat_...      # route "zenml"
    python zenml_client.py
"""

import os

import requests


def main() -> None:
    base = os.environ["ZENML_URL"]
    s = requests.Session()
    s.headers["Proxy-Authorization"] = f"Bearer {os.environ['GATEHOUSE_TOKEN']}"
    login = s.post(f"{base}/api/v1/login", data={"password": os.environ["ZENML_API_KEY"]}, timeout=30)
    login.raise_for_status()
    s.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    r = s.get(f"{base}/api/v1/pipelines", timeout=30)
    r.raise_for_status()
    for p in r.json()["items"]:
        print(p["name"])


if __name__ == "__main__":
    main()
