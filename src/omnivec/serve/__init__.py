"""The HTTP service over model files: `omnivec serve`, its keys and the client.

    token = add_key("keys.json", "app", scope="read")              # the key, shown once
    config = ServeConfig(models=[("glove", "glove.ov")], keys_file="keys.json")
    serve(config, port=8000, workers=2)                             # until Ctrl-C
    emb = omnivec.Client("http://127.0.0.1:8000", token)          # a remote table

FastAPI, uvicorn and prometheus-client load only here (`pip install 'omnivec[serve]'`);
the client needs only httpx.
"""

from __future__ import annotations

_LAZY = {
    "ServeConfig": "omnivec.serve.app:ServeConfig",
    "create_app": "omnivec.serve.app:create_app",
    "serve": "omnivec.serve.run:serve",
    "running": "omnivec.serve.run:running",
    "Client": "omnivec.serve.client:Client",
    "add_key": "omnivec.serve.keys:add_key",
    "remove_key": "omnivec.serve.keys:remove_key",
    "list_keys": "omnivec.serve.keys:list_keys",
    "model_name": "omnivec.serve.models:model_name",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'omnivec.serve' has no attribute {name!r}")
    from .._registry import resolve
    return resolve(target)
