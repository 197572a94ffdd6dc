"""``python -m network freeradius``: write the FreeRADIUS configuration and run it (docs/network.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from network.freeradius import FREERADIUS, Client, installed, write_config


async def _clients() -> list[Client]:
    from tables.network import Nas

    rows = await Nas.select(Nas.name, Nas.address, Nas.secret).where(Nas.active.eq(True))
    return [Client(row["name"], row["address"], row["secret"]) for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m network")
    sub = parser.add_subparsers(dest="command", required=True)
    radius = sub.add_parser("freeradius", help="configure FreeRADIUS from the NAS table and run it")
    radius.add_argument("--app-url", default="http://127.0.0.1:8000",
                        help="where FreeRADIUS reaches the app (from an address in CENTRA_RADIUS_CLIENTS)")
    radius.add_argument("--dir", default="var/freeradius", help="the configuration directory to write")
    radius.add_argument("--listen", default="0.0.0.0", help="address to listen on")
    radius.add_argument("--auth-port", type=int, default=1812)
    radius.add_argument("--acct-port", type=int, default=1813)
    radius.add_argument("--config-only", action="store_true", help="write the configuration, do not run")
    args = parser.parse_args(argv)

    from network.endpoint import api_key

    clients = asyncio.run(_clients())
    directory = write_config(Path(args.dir).resolve(), app_url=args.app_url, api_key=api_key(),
                             clients=clients, listen=args.listen, auth_port=args.auth_port,
                             acct_port=args.acct_port, log_to="stdout")
    print(f"FreeRADIUS configuration in {directory}: {len(clients)} NAS from the admin's table, "
          f"auth {args.listen}:{args.auth_port}, accounting {args.listen}:{args.acct_port}, "
          f"asking {args.app_url}")
    if not clients:
        print("No NAS yet: add one in the admin (Сеть → NAS) and run this again.")
    if args.config_only:
        return 0
    if not installed():
        print("FreeRADIUS is not installed: `make radius` installs Debian's freeradius, "
              "freeradius-utils and freeradius-rest.", file=sys.stderr)
        return 1
    os.execv(FREERADIUS, [FREERADIUS, "-f", "-d", str(directory)])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
