"""`queueit run | migrate | token NAME`.

- `run`: serve on HOST:PORT (127.0.0.1:8000). With no DATABASE_URL it starts the embedded
  PostgreSQL in DATA_DIR and applies the migrations first.
- `migrate`: apply `supabase/migrations` to DATABASE_URL (or the embedded database).
- `token NAME [--anonymous]`: print a development access token for user NAME (development auth
  only; `--anonymous` as Supabase's anonymous sign-ins are).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys

from queueit.config import get_settings


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from queueit.app import create_app
    from queueit.http.serving import uvicorn_options
    from queueit.logging_setup import configure

    settings = get_settings()
    configure(settings.log_level)
    # Thousands of long-lived sockets make full collections slow (up to ~1 s measured at 5,000
    # sockets); collect the young generation less often. Runtime.start freezes start-up objects.
    gc.set_threshold(50_000, 50, 1000)
    host = args.host or settings.host
    port = args.port or settings.port
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        timeout_graceful_shutdown=5,
        **uvicorn_options(settings),
    )
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from queueit.runtime import migrate_database

    applied = asyncio.run(migrate_database(get_settings()))
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def _token(args: argparse.Namespace) -> int:
    from queueit.auth.dev import DevAuthDisabled, mint_dev_token

    try:
        print(mint_dev_token(args.name, get_settings(), anonymous=args.anonymous))
    except DevAuthDisabled as exc:
        print(f"queueit token: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"queueit token: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="queueit", description="QueueIT backend")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the API (embedded PostgreSQL without DATABASE_URL)")
    run.add_argument("--host", default=None)
    run.add_argument("--port", type=int, default=None)
    run.set_defaults(func=_run)
    mig = sub.add_parser("migrate", help="apply supabase/migrations to the database")
    mig.set_defaults(func=_migrate)
    tok = sub.add_parser("token", help="print a development access token for user NAME")
    tok.add_argument("name")
    tok.add_argument("--anonymous", action="store_true", help="an anonymous sign-in (a guest)")
    tok.set_defaults(func=_token)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
