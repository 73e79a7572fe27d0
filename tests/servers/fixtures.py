"""Session fixtures starting the real local test servers once for every test file that imports them:

    from servers.fixtures import cosmos_server, nim_server  # noqa: F401  (pytest finds them by name)

`cosmos_server`: the Gradio app with the Cosmos-Transfer2.5 endpoints (tests/servers/cosmos_app.py);
`nim_server`: the OpenAI-compatible NIM stand-in (tests/servers/openai_server.py). Tests reset them before use.
"""
from __future__ import annotations

import os

import pytest

from servers.cosmos_app import CosmosTestServer
from servers.openai_server import OpenAITestServer


@pytest.fixture(scope="session")
def cosmos_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("cosmos_server_shared")
    saved = {k: os.environ.get(k) for k in ("GRADIO_TEMP_DIR", "GRADIO_ANALYTICS_ENABLED")}
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio_tmp")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    srv = CosmosTestServer(root)
    srv.start()
    yield srv
    srv.close()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def nim_server():
    srv = OpenAITestServer().start()
    yield srv
    srv.close()
