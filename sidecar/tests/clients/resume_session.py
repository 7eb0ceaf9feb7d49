"""Picks up a session on a sidecar that started on an empty data directory, with the official
Python MCP SDK: the session as stored, then a plan and an apply of it.

Usage: resume_session.py MODE URL SESSION_ID [--quick-main]

get_session must show the session. With --quick-main, main.tf is first replaced by a stack
without the slow provisioner (the interrupted apply's). The plan is retried while the session is
refused as busy (the lease of a sidecar that died has not ended yet; every refusal is kept),
then applied with its token. Prints one JSON line with what it saw.
"""

import asyncio
import json
import sys
import time

from mcp import Client

QUICK_MAIN = """\
resource "terraform_data" "quick" {
  input = "resumed"
}
"""


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def call(client, name, args):
    r = await client.call_tool(name, args)
    text = " ".join(getattr(c, "text", "") for c in r.content)
    return r.is_error, r.structured_content, text


async def drive(client, sid, quick_main):
    seen = {}
    err, s, text = await call(client, "get_session", {"session_id": sid})
    check(not err, f"get_session: {text}")
    seen["session"] = s
    if quick_main:
        err, _, text = await call(
            client, "update_terraform_file", {"session_id": sid, "file_path": "main.tf", "new_content": QUICK_MAIN}
        )
        check(not err, f"update main.tf: {text}")
    busy = []
    deadline = time.monotonic() + 90
    while True:
        err, plan, text = await call(client, "run_terraform_plan", {"session_id": sid})
        if err and "is busy" in text and time.monotonic() < deadline:
            busy.append(text)
            await asyncio.sleep(0.5)
            continue
        break
    check(not err and plan["plan_token"], f"plan: {text}")
    seen["busy"] = busy
    seen["plan"] = plan
    err, applied, text = await call(client, "run_terraform_apply", {"session_id": sid, "plan_token": plan["plan_token"]})
    check(not err and applied["success"], f"apply: {text}")
    seen["apply"] = applied
    err, s, text = await call(client, "get_session", {"session_id": sid})
    check(not err, text)
    seen["after"] = s
    seen["ok"] = True
    return seen


async def main():
    mode, url, sid = sys.argv[1], sys.argv[2], sys.argv[3]
    async with Client(url, mode=mode) as client:
        seen = await drive(client, sid, "--quick-main" in sys.argv)
    print(json.dumps(seen))


asyncio.run(main())
