"""Drives the whole Galley journey with the official Python MCP SDK: the hearing (with refused
answers that say what to do), the design started from the hearing, the diagram and the summary,
the session's resources and a prompt, export, plan, apply with the plan token and destroy with
the destroy preview's token, then the last run as a resource. When the sidecar it starts can
build (GALLEY_BUILD_REGISTRY in its environment, stdio), the application too: a template, the
image built and pushed, a container instance running it by digest in the exported stack.

Usage: journey_session.py MODE (stdio COMMAND... | http URL) --marker PATH --artifacts DIR

As in deploy_session.py, the local engine has no OCI provider, so the exported files that need
it are replaced by a `terraform_data` configuration whose destroy provisioner writes PATH. The
diagram's SVG and Mermaid text are written to DIR for the caller's checks. Prints one JSON line
with what it saw; exits non-zero when a check fails.
"""

import asyncio
import json
import logging
import os
import sys

from mcp import Client, StdioServerParameters

from deploy_session import MAIN_TF, OUTPUTS_TF, call, check, put

ANSWERS = {
    "purpose": "An online shop for a small retailer",
    "workload_type": "web_app",
    "expected_load": "medium",
    "availability": "high",
    "data_store": "relational",
    "exposure": "internet",
    "region": "ap-tokyo-1",
}


class Termination(logging.Handler):
    """Collects the SDK's warnings about a failed session termination."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen = []

    def emit(self, record):
        text = record.getMessage()
        if "termination" in text.lower():
            self.seen.append(text)


async def hearing(client, sid, seen):
    err, q, text = await call(client, "get_hearing_questions", {"session_id": sid})
    check(not err and len(q["phases"]) >= 4, text)
    ids = [x["id"] for p in q["phases"] for x in p["questions"]]
    check(set(ANSWERS) <= set(ids), ids)
    check(len(q["progress"]["missing_required"]) == 7, q["progress"])

    # Refused answers name the question and list what it accepts.
    err, _, text = await call(client, "save_answer", {"session_id": sid, "question_id": "availability", "answer": "five nines"})
    check(err and "availability" in text and "standard" in text and "high" in text, f"bad choice: {text}")
    err, _, text = await call(client, "save_answer", {"session_id": sid, "question_id": "favourite_colour", "answer": "blue"})
    check(err and "favourite_colour" in text and "workload_type" in text, f"unknown question: {text}")
    err, _, text = await call(client, "save_answers_batch", {"session_id": sid, "answers": {"purpose": "shop", "region": "atlantis-1", "monthly_budget_usd": "lots"}})
    check(err and "atlantis-1" in text and "ap-tokyo-1" in text and "monthly_budget_usd" in text and "nothing was saved" in text, f"bad batch: {text}")
    err, _, text = await call(client, "complete_hearing", {"session_id": sid})
    check(err and "workload_type" in text and "save_answer" in text, f"incomplete hearing: {text}")
    seen["refusals"] = 4

    err, saved, text = await call(client, "save_answer", {"session_id": sid, "question_id": "purpose", "answer": ANSWERS["purpose"]})
    check(not err and len(saved["progress"]["missing_required"]) == 6, text)
    rest = {k: v for k, v in ANSWERS.items() if k != "purpose"}
    err, saved, text = await call(client, "save_answers_batch", {"session_id": sid, "answers": {**rest, "monthly_budget_usd": 500}})
    check(not err and saved["progress"]["missing_required"] == [], text)
    err, result, text = await call(client, "complete_hearing", {"session_id": sid})
    check(not err, text)
    check(result["settings"]["region"] == "ap-tokyo-1" and result["settings"]["high_availability"] is True, result["settings"])
    err, again, text = await call(client, "get_hearing_result", {"session_id": sid})
    check(not err and again == result, text)
    return result


async def design(client, sid, result, seen):
    err, s, text = await call(client, "save_architecture", {"session_id": sid, "use_suggested_architecture": True})
    check(not err, text)
    components = s["architecture"]["components"]
    check(components == result["suggested_architecture"]["components"], "the design is the hearing's suggestion")
    types = sorted({c["service_type"] for c in components})
    check({"compute", "loadbalancer", "adb", "internet_gateway", "vcn", "subnet"} <= set(types), types)
    check(sum(c["service_type"] == "compute" for c in components) == 2, "high availability: two instances")
    err, added, text = await call(client, "add_component", {
        "session_id": sid, "service_type": "compute", "display_name": "batch-worker",
        "connect_to": ["app-subnet"], "apply_hearing_defaults": True,
    })
    check(not err and added["component"]["config"] == result["config_defaults"]["compute"], text)
    err, report, text = await call(client, "validate_architecture", {"session_id": sid})
    check(not err and report["valid"], text)
    seen["components"] = len(components) + 1
    return len(components) + 1


async def look(client, sid, artifacts, count, seen):
    err, d, text = await call(client, "export_diagram", {"session_id": sid})
    check(not err and d["components"] == count and d["svg"].startswith("<svg"), text[:300])
    check(d["mermaid"].startswith("flowchart TB"), d["mermaid"][:100])
    with open(os.path.join(artifacts, "diagram.svg"), "w") as f:
        f.write(d["svg"])
    with open(os.path.join(artifacts, "diagram.mmd"), "w") as f:
        f.write(d["mermaid"])
    err, s, text = await call(client, "export_summary", {"session_id": sid})
    md = s["markdown"] if s else ""
    check(not err and "## Placement" in md and "batch-worker" in md and "region: ap-tokyo-1" in md, md[:500])
    check("unknown" in md and "Price List" in s["price_source"] and s["known_monthly_usd"] > 0, s["price_source"])
    check("db" in s["unknown_cost"], s["unknown_cost"])
    seen["known_monthly_usd"] = s["known_monthly_usd"]

    # Resources: listed, templated, read.
    listed = await client.list_resources()
    uris = [str(r.uri) for r in listed.resources]
    check(f"galley://sessions/{sid}/design" in uris and "galley://hearing/questions" in uris, uris[:10])
    templates = await client.list_resource_templates()
    check(any(t.uri_template == "galley://sessions/{session_id}/diagram.svg" for t in templates.resource_templates), templates)
    svg = await client.read_resource(f"galley://sessions/{sid}/diagram.svg")
    check(svg.contents[0].text == d["svg"] and svg.contents[0].mime_type == "image/svg+xml", "the SVG resource is the diagram")
    design = json.loads((await client.read_resource(f"galley://sessions/{sid}/design")).contents[0].text)
    check(len(design["architecture"]["components"]) == count, design)
    summary = (await client.read_resource(f"galley://sessions/{sid}/summary.md")).contents[0].text
    check(summary.startswith(f"# Design of session {sid}"), summary[:100])

    # Prompts.
    prompts = await client.list_prompts()
    names = [p.name for p in prompts.prompts]
    check(names == ["build_infrastructure", "build_full_stack", "clean_up"], names)
    p = await client.get_prompt("clean_up", {"session_id": sid})
    check(sid in p.messages[0].content.text and "run_terraform_destroy" in p.messages[0].content.text, p)
    seen["prompts"] = names


async def application(client, sid, seen):
    err, listed, text = await call(client, "list_app_templates", {})
    names = [t["name"] for t in listed["templates"]] if listed else []
    check(not err and "rest-api-python" in names and "rest-api-node" in names, text)
    err, _, text = await call(client, "scaffold_app_from_template", {"session_id": sid, "template": "rest-api-rust"})
    check(err and "rest-api-python" in text and "rest-api-node" in text, f"unknown template: {text}")
    err, files, text = await call(client, "scaffold_app_from_template", {"session_id": sid, "template": "rest-api-node"})
    check(not err and "Dockerfile" in files["app_files"] and "server.js" in files["app_files"], text)

    progress = []

    async def on_progress(value, total, message):
        progress.append(message)

    err, built, text = await call(client, "build_app_image", {"session_id": sid, "image_name": "shop/api"}, on_progress)
    check(not err and built["success"] and built["exit_code"] == 0, f"build: {text}")
    check(built["image_reference"] == f'{built["image_uri"]}@{built["image_digest"]}', built)
    check(progress, "build progress")
    app = json.loads((await client.read_resource(f"galley://sessions/{sid}/app")).contents[0].text)
    check(app["last_build"]["image_reference"] == built["image_reference"], app)

    err, added, text = await call(client, "add_component", {
        "session_id": sid, "service_type": "container_instance", "display_name": "shop-api",
        "config": {"image": "app"}, "connect_to": ["app-subnet"],
    })
    check(not err, text)
    err, _, text = await call(client, "export_iac", {"session_id": sid})
    check(not err, f"export with the built image: {text}")
    variables = (await client.read_resource(f"galley://sessions/{sid}/stack/variables.tf")).contents[0].text
    check(f'"{built["image_reference"]}"' in variables, variables)
    seen["components"] += 1
    seen["image_reference"] = built["image_reference"]
    seen["build_progress"] = len(progress)


async def deploy(client, sid, marker, seen):
    err, exported, text = await call(client, "export_iac", {"session_id": sid})
    check(not err and exported["files"], text)
    stack = json.loads((await client.read_resource(f"galley://sessions/{sid}/stack")).contents[0].text)
    check(any(f["path"] == "components.tf" for f in stack["files"]), stack)
    await put(client, sid, "main.tf", MAIN_TF)
    await put(client, sid, "components.tf", "# OCI resources left out: the local engine has no OCI provider.\n")
    await put(client, sid, "outputs.tf", OUTPUTS_TF)
    variables = {"marker": marker}
    if os.environ.get("DEPLOY_COMPARTMENT"):
        variables["compartment_ocid"] = os.environ["DEPLOY_COMPARTMENT"]

    err, plan, text = await call(client, "run_terraform_plan", {"session_id": sid, "variables": variables})
    check(not err and plan["success"] and plan["plan_token"], f"plan: {text}")
    check(plan["plan_summary"] == {"add": 2, "change": 0, "destroy": 0}, plan)
    err, _, text = await call(client, "run_terraform_apply", {"session_id": sid})
    check(err and "plan_token is required" in text, f"apply without a token: {text}")
    err, applied, text = await call(client, "run_terraform_apply", {"session_id": sid, "plan_token": plan["plan_token"]})
    check(not err and applied["success"] and applied["outputs"].get("greeting") == "hello", f"apply: {text}")
    seen["stack_id"] = applied["stack_id"]
    last = json.loads((await client.read_resource(f"galley://sessions/{sid}/last-run")).contents[0].text)
    check(last["operation"] == "apply" and last["success"] and last["job_id"] == applied["job_id"], last)

    err, preview, text = await call(client, "run_terraform_plan", {"session_id": sid, "destroy": True})
    check(not err and preview["plan_token"], f"destroy preview: {text}")
    err, destroyed, text = await call(client, "run_terraform_destroy", {"session_id": sid, "plan_token": preview["plan_token"]})
    check(not err and destroyed["success"], f"destroy: {text}")
    check(os.path.exists(marker), "the DESTROY job ran the destroy provisioner")
    last = json.loads((await client.read_resource(f"galley://sessions/{sid}/last-run", cache_mode="bypass")).contents[0].text)
    check(last["operation"] == "destroy" and last["success"], last)
    err, s, text = await call(client, "get_session", {"session_id": sid})
    check(not err and s["status"] == "destroyed", text)


async def drive(client, marker, artifacts, build):
    seen = {"protocol_version": client.protocol_version}
    err, s, text = await call(client, "create_session", {})
    check(not err, text)
    sid = s["id"]
    seen["session_id"] = sid
    result = await hearing(client, sid, seen)
    count = await design(client, sid, result, seen)
    if build:
        await application(client, sid, seen)
        count += 1
    await look(client, sid, artifacts, count, seen)
    await deploy(client, sid, marker, seen)
    seen["ok"] = True
    return seen


async def main():
    mode, kind = sys.argv[1], sys.argv[2]
    marker = sys.argv[sys.argv.index("--marker") + 1]
    artifacts = sys.argv[sys.argv.index("--artifacts") + 1]
    rest = sys.argv[3:min(sys.argv.index("--marker"), sys.argv.index("--artifacts"))]
    termination = Termination()
    logging.getLogger("mcp").addHandler(termination)
    if kind == "stdio":
        env = {k: v for k, v in os.environ.items() if k.startswith(("GALLEY_", "OCI_", "PATH", "HOME"))}
        server = StdioServerParameters(command=rest[0], args=rest[1:], env=env)
    else:
        server = rest[0]
    async with Client(server, mode=mode) as client:
        seen = await drive(client, marker, artifacts, kind == "stdio" and "GALLEY_BUILD_REGISTRY" in os.environ)
    # Leaving the client ends the session (an HTTP DELETE on the legacy revision).
    seen["termination_warnings"] = termination.seen
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main())
