"""The organisations service's ``tila`` commands: mint a local access token, rotate the signing keyring."""

from __future__ import annotations

import argparse
import datetime as dt
import uuid
from pathlib import Path

from services.organisations.adapters.keys import Keyring, rotate_key_file
from services.organisations.domain.tokens import Grant, access_claims
from services.organisations.settings import ACCESS_TOKEN_TTL_SECONDS
from shared.auth.tokens import sign_token
from shared.cli import CliError, Command, base_url, data_dir, say

__all__ = ["commands"]


def commands() -> list[Command]:
    return [
        Command("token", "mint a local access token (embedded default only)", _token_options, token),
        Command("rotate-keys", "rotate the token signing keyring", _rotate_options, rotate_keys),
    ]


def _token_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", help="tenant id (tid); default the nil UUID")
    parser.add_argument("--role", action="append", default=[], help="a role; repeat for more")
    parser.add_argument("--scope", action="append", default=[], help="a scope; repeat for more")
    parser.add_argument("--subject")
    parser.add_argument("--minutes", type=int, default=10)


def token(args: argparse.Namespace) -> int:
    """Mint an access token with the local stack's keyring (the embedded default only)."""
    keys = data_dir(args) / "signing-keys.json"
    if not keys.exists():
        raise CliError(f"no signing keys at {keys} — start the local stack once with `make run`")
    keyring = Keyring.load(keys)
    grant = Grant(
        tenant_id=uuid.UUID(args.tenant) if args.tenant else uuid.UUID(int=0),
        subject=args.subject or f"local-{uuid.uuid4()}",
        roles=tuple(args.role),
        scopes=tuple(args.scope),
    )
    claims = access_claims(
        grant,
        issuer=f"{base_url(args.host, args.port)}/organisations",
        audience="tila",
        now=dt.datetime.now(dt.UTC),
        lifetime=dt.timedelta(minutes=args.minutes),
    )
    print(sign_token(keyring.signing_key(), claims))
    return 0


def _rotate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keyring", help="the keyring file (default: the local stack's)")
    parser.add_argument(
        "--activate-in", type=int, default=300, help="seconds the new key is published before it signs"
    )


def rotate_keys(args: argparse.Namespace) -> int:
    """Add a signing key and retire the current one (still published until its tokens expire)."""
    path = Path(args.keyring) if args.keyring else data_dir(args) / "signing-keys.json"
    delay = dt.timedelta(seconds=args.activate_in)
    kid = rotate_key_file(path, dt.timedelta(seconds=ACCESS_TOKEN_TTL_SECONDS), delay)
    say(f"new signing key {kid} in {path}: published now, signing in {args.activate_in} s")
    return 0
