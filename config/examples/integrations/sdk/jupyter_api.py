"""JupyterHub's REST API through Gatehouse (routes/jupyter-api-tokens.yaml).

On that route Authorization belongs to Jupyter (bearer_header: proxy_authorization): the hub's own
API token goes in Authorization, Gatehouse's in Proxy-Authorization.

    export JUPYTERHUB_URL=https://hub.corp.example
    export JUPYTERHUB_API_TOKEN=<a hub API token>
    export GATEHOUSE_TOKEN=gatehouse_pat_...      # route "jupyterhub-api"
    python jupyter_api.py
"""

import os

import requests


def main() -> None:
    s = requests.Session()
    s.headers["Authorization"] = f"token {os.environ['JUPYTERHUB_API_TOKEN']}"
    s.headers["Proxy-Authorization"] = f"Bearer {os.environ['GATEHOUSE_TOKEN']}"
    r = s.get(f"{os.environ['JUPYTERHUB_URL']}/hub/api/user", timeout=30)
    r.raise_for_status()
    print(r.json()["name"])


if __name__ == "__main__":
    main()
