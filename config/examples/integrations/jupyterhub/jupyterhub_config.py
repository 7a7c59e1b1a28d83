# JupyterHub 3 (Debian `jupyterhub`, `node-configurable-http-proxy`) behind Gatehouse, with the
# Gatehouse authenticator beside this file. Tested as shipped by test/tools/jupyterhub.test.ts:
# it substitutes the host, the three ports and /srv/jupyterhub, exactly as you would.
#
# Start it (as root, so LocalProcessSpawner can start each user's server as that system user;
# create the accounts, named as the authenticator derives them: alice@example.com -> alice):
#
#   $ /usr/bin/jupyterhub -f /srv/jupyterhub/jupyterhub_config.py
#
# Without system accounts (a demo; CI) add
# --JupyterHub.spawner_class=jupyterhub.spawner.SimpleLocalProcessSpawner: every user's server
# then runs as the hub's own user, with its home under /tmp.
#
# configurable-http-proxy from Debian needs Debian's node; with another node (e.g. NodeSource),
# run the hub with NODE_PATH=/usr/share/nodejs so the proxy finds its modules.
#
# The Gatehouse route is in ../../gatehouse/routes/jupyterhub.yaml (preserve_host: true is required).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gatehouse_authenticator import GatehouseAuthenticator  # noqa: E402

c = get_config()  # noqa: F821 (provided by JupyterHub)

# Listen on loopback only: Gatehouse is the one way in. The route's upstream is this bind_url.
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = 8081
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:8001"
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "/srv/jupyterhub/jupyterhub-proxy.pid"

c.JupyterHub.authenticator_class = GatehouseAuthenticator
# Where the hub fetches Gatehouse's public keys, and what the assertion must say: issuer =
# Gatehouse's server.public_url, audience = this hub's upstream as written in the route.
c.GatehouseAuthenticator.jwks_url = "https://hub.corp.example/.gatehouse/jwks"
c.GatehouseAuthenticator.issuer = "https://hub.corp.example"
c.GatehouseAuthenticator.audience = "http://127.0.0.1:8000"
c.GatehouseAuthenticator.admin_groups = ["ml-admins"]
c.GatehouseAuthenticator.gatehouse_logout_url = "/.gatehouse/logout"
# JupyterHub 3 lets in every user the authenticator accepts: Gatehouse's route policy decides who.

# The single-user servers: Notebook 6's UI (Debian 12), opened on the file tree.
c.Spawner.cmd = ["jupyterhub-singleuser"]
c.Spawner.default_url = "/tree"
c.Spawner.notebook_dir = "~"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 90
