"""`omnivec serve`: an HTTP service over model files, and `omnivec serve keys` for its API keys."""

from __future__ import annotations

from typing import List, Optional

import typer
from typer.core import TyperGroup

from . import PLAIN, app
from ._common import console, emit_json


class _ServeGroup(TyperGroup):
    """`omnivec serve MODEL...` runs the service; `omnivec serve keys ...` manages keys."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


serve_app = typer.Typer(cls=_ServeGroup, no_args_is_help=True, **PLAIN,
                        help="Serve model files over HTTP (omnivec serve MODEL... [options]) and manage "
                             "the service's API keys (omnivec serve keys add|list|remove).")
keys_app = typer.Typer(no_args_is_help=True, **PLAIN, help="Add, list and remove API keys of a keys file.")
serve_app.add_typer(keys_app, name="keys")
app.add_typer(serve_app, name="serve")


@serve_app.command("run")
def run(
    models: List[str] = typer.Argument(..., metavar="MODEL...",
                                       help="Model files to serve, each under its file's name (glove.ov: "
                                            "'glove'), or NAME=PATH."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", help="Worker processes (they share the memory-mapped files)."),
    keys: Optional[str] = typer.Option(None, "--keys", help="Keys file (omnivec serve keys add)."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve without API keys (loopback hosts only)."),
    max_body: int = typer.Option(2 * 1024 * 1024, "--max-body", help="Largest request body in bytes (413 beyond)."),
    max_batch: int = typer.Option(2048, "--max-batch", help="Most keys, queries or texts in one request."),
    max_k: int = typer.Option(1000, "--max-k", help="Most results per query."),
    batch_size: int = typer.Option(256, "--batch-size", help="Bigger batches are split into batches of this size."),
    max_tokens: int = typer.Option(512, "--max-tokens", help="Token limit of one text for /v1/embeddings."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds from a request's arrival to its answer."),
    concurrency: int = typer.Option(4, "--concurrency", help="Work threads per worker."),
    queue: int = typer.Option(64, "--queue", help="Requests that may wait for a thread (429 beyond)."),
    rate: float = typer.Option(100.0, "--rate", help="Requests a second per key unless the key says (0: none)."),
    compact_every: int = typer.Option(10_000, "--compact-every", help="Journal records of index updates "
                                      "before they are written into the index file."),
    reload_interval: float = typer.Option(1.0, "--reload-interval", help="Seconds between checks for model "
                                          "files replaced by a rename (0: never)."),
    cors_origin: List[str] = typer.Option([], "--cors-origin", help="Allow browser calls from this origin "
                                          "(repeatable; none: CORS off)."),
    ssl_certfile: Optional[str] = typer.Option(None, "--ssl-certfile", help="TLS certificate (PEM)."),
    ssl_keyfile: Optional[str] = typer.Option(None, "--ssl-keyfile", help="TLS private key (PEM)."),
    log_level: str = typer.Option("info", "--log-level", help="debug|info|warning|error (info: access log)."),
) -> None:
    """Serve model files over HTTP until Ctrl-C: vectors, neighbours, search, embeddings, updates."""
    from ..serve import ServeConfig, model_name, serve

    config = ServeConfig(models=[model_name(m) for m in models], keys_file=keys, no_auth=no_auth, host=host,
                         max_body=max_body, max_batch=max_batch, max_k=max_k, batch_size=batch_size,
                         max_tokens=max_tokens, timeout=timeout, concurrency=concurrency, queue=queue, rate=rate,
                         cors_origins=list(cors_origin), compact_every=compact_every,
                         reload_interval=reload_interval)
    serve(config, port=port, workers=workers, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
          log_level=log_level)


@keys_app.command("add")
def keys_add(
    name: str = typer.Argument(..., help="Name of the key (shown in logs and metrics)."),
    keys: str = typer.Option("keys.json", "--keys", help="Keys file (created if absent, mode 0600)."),
    scope: str = typer.Option("read", "--scope", help="read|write|admin (write: upserts and deletes; "
                              "admin: metrics and compaction)."),
    models: List[str] = typer.Option([], "--models", help="Model names the key may use (repeatable; none: all)."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Requests a second (0: no limit; default: the "
                                         "server's)."),
    burst: Optional[int] = typer.Option(None, "--burst", help="Requests allowed at once above the rate."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Add an API key to a keys file and print it (only its hash is stored: keep the key)."""
    from ..serve import add_key

    token = add_key(keys, name, scope=scope, models=models or None, rate=rate, burst=burst)
    if json_out:
        emit_json({"name": name, "scope": scope, "models": models or None, "key": token, "keys": keys})
    else:
        console().print(f"key {name!r} ({scope}) added to {keys}; it is shown only now:")
        typer.echo(token)


@keys_app.command("list")
def keys_list(keys: str = typer.Option("keys.json", "--keys", help="Keys file."),
              json_out: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List the keys of a keys file (names, scopes, models, rates; never the keys)."""
    from ..serve import list_keys

    found = list_keys(keys)
    if json_out:
        emit_json({"keys": found})
        return
    for k in found:
        models = ", ".join(k["models"]) if k["models"] else "all models"
        rate = "server default" if k["rate"] is None else ("no limit" if not k["rate"] else f"{k['rate']:g}/s")
        console().print(f"{k['name']}: {k['scope']}, {models}, rate {rate}")


@keys_app.command("remove")
def keys_remove(name: str = typer.Argument(..., help="Name of the key to remove."),
                keys: str = typer.Option("keys.json", "--keys", help="Keys file.")) -> None:
    """Remove a key from a keys file (a running server reloads the file within --reload-interval)."""
    from ..serve import remove_key

    remove_key(keys, name)
    console().print(f"key {name!r} removed from {keys}")
