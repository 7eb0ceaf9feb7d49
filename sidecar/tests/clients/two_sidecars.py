"""Two sidecars on one state bucket, driven with the official Python MCP SDK (one client each).

Usage: two_sidecars.py MODE URL_A URL_B --fixture ARCH.json --engine ENGINE_URL

- A race made certain: the engine delays the next write of the session's record; an edit through
  A reaches that write, an edit through B starts after it and saves first. A's edit must be
  refused with a message that says to re-read, and B's kept.
- A burst of concurrent edits through both: every edit that succeeded is in the session as both
  sidecars read it; every refused one says to re-read and is not.
- Heavy operations: while A plans, a plan through B is refused, naming the lease holder; once A's
  plan is done, B plans the same stack (the runner's state is in the bucket too).

Prints one JSON line with what it saw.
"""

import asyncio
import json
import sys
import urllib.request

from mcp import Client

MAIN_TF = """\
resource "terraform_data" "greeting" {
  input = "hello"
}
"""


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def call(client, name, args, progress=None):
    r = await client.call_tool(name, args, progress_callback=progress)
    text = " ".join(getattr(c, "text", "") for c in r.content)
    return r.is_error, r.structured_content, text


def arm_fault(engine, fault):
    req = urllib.request.Request(
        f"{engine}/_galley/faults", data=json.dumps(fault).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        check(r.status == 201, f"arming {fault}: {r.status}")


async def configure(client, sid, key, value):
    return await call(client, "configure_component", {"session_id": sid, "component_id": "web1", "config": {key: value}})


async def drive(a, b, fixture, engine):
    seen = {}
    err, s, text = await call(a, "create_session", {})
    check(not err, text)
    sid = s["id"]
    seen["session_id"] = sid
    for name, args in [
        ("save_architecture", {"session_id": sid, **fixture}),
        ("export_iac", {"session_id": sid}),
        ("update_terraform_file", {"session_id": sid, "file_path": "main.tf", "new_content": MAIN_TF}),
        ("update_terraform_file", {"session_id": sid, "file_path": "components.tf", "new_content": "# none\n"}),
        ("update_terraform_file", {"session_id": sid, "file_path": "outputs.tf", "new_content": "# none\n"}),
    ]:
        err, _, text = await call(a, name, args)
        check(not err, f"{name}: {text}")
    web = next(c for c in fixture["components"] if c["id"] == "web1")
    check(web is not None, "the fixture has a component `web1`")

    # The race, made certain by a delayed write of the record.
    arm_fault(
        engine,
        {"route": f"PUT /n/*/b/*/o/sessions%2F{sid}.json", "kind": "delay", "delay_ms": 1500, "count": 1},
    )
    slow = asyncio.create_task(configure(a, sid, "race_a", "a"))
    await asyncio.sleep(0.4)
    fast = await configure(b, sid, "race_b", "b")
    slow = await slow
    check(not fast[0], f"B saved first: {fast[2]}")
    check(slow[0] and "get_session" in slow[2] and "changed elsewhere" in slow[2], f"A was refused: {slow[2]}")
    seen["race_refusal"] = slow[2]

    # A burst through both sidecars.
    calls = []
    for i in range(6):
        for name, client in (("a", a), ("b", b)):
            key = f"burst_{name}_{i}"
            calls.append((key, configure(client, sid, key, i)))
    results = await asyncio.gather(*(c for _, c in calls))
    done, refused = [], []
    for (key, _), (err, _, text) in zip(calls, results):
        if err:
            check("get_session" in text, f"a refusal says to re-read: {text}")
            refused.append(key)
        else:
            done.append(key)
    views = []
    for client in (a, b):
        err, s, text = await call(client, "get_session", {"session_id": sid})
        check(not err, text)
        views.append(next(c for c in s["architecture"]["components"] if c["id"] == "web1")["config"])
    check(views[0] == views[1], f"both sidecars read the same session: {views}")
    config = views[0]
    check(config.get("race_b") == "b" and "race_a" not in config, config)
    check(all(k in config for k in done), f"every saved edit is kept: {done} in {config}")
    check(not any(k in config for k in refused), f"no refused edit is there: {refused} in {config}")
    seen["burst_done"] = len(done)
    seen["burst_refused"] = len(refused)

    # Heavy operations: one at a time across the two.
    running = asyncio.Event()

    async def on_progress(value, total, message):
        if message and "PLAN job" in message:
            running.set()

    plan_a = asyncio.create_task(call(a, "run_terraform_plan", {"session_id": sid}, on_progress))
    await asyncio.wait_for(running.wait(), 120)
    err, _, text = await call(b, "run_terraform_plan", {"session_id": sid})
    check(err and "is busy" in text, f"B is refused while A plans: {text}")
    seen["busy_refusal"] = text
    err, plan_a, text = await plan_a
    check(not err and plan_a["plan_token"], f"A's plan: {text}")
    err, plan_b, text = await call(b, "run_terraform_plan", {"session_id": sid})
    check(not err and plan_b["plan_token"], f"B's plan once A's is done: {text}")
    check(plan_b["stack_id"] == plan_a["stack_id"], f"one stack: {plan_a['stack_id']} {plan_b['stack_id']}")
    err, applied, text = await call(a, "run_terraform_apply", {"session_id": sid, "plan_token": plan_b["plan_token"]})
    check(not err and applied["success"], f"A applies the plan B made: {text}")
    seen["stack_id"] = plan_a["stack_id"]
    seen["ok"] = True
    return seen


async def main():
    mode, url_a, url_b = sys.argv[1], sys.argv[2], sys.argv[3]
    fixture = json.load(open(sys.argv[sys.argv.index("--fixture") + 1]))
    engine = sys.argv[sys.argv.index("--engine") + 1]
    async with Client(url_a, mode=mode) as a, Client(url_b, mode=mode) as b:
        seen = await drive(a, b, fixture, engine)
    print(json.dumps(seen))


asyncio.run(main())
