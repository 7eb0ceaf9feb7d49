"""Times design tools through the official Python MCP SDK over stdio, inside Python (around each
`call_tool`), against galley-sidecar with the directory store, galley-sidecar with the bucket store
(when the spec has `bucket`), and the FastMCP baseline on the directory sidecar's session file.

Usage: bench_client.py SPEC.json — SPEC has sidecar, bucket (optional) and baseline ({command,
args, env}), arch (components and connections), iterations, warmup. Prints one JSON line: per
server and tool the p50, p90, p99, max and mean in milliseconds, and whether the validations
agree.
"""

import asyncio
import json
import statistics
import sys
import time

from mcp import Client, StdioServerParameters


def stats(samples):
    s = sorted(samples)

    def pct(p):
        return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]

    return {
        "n": len(s),
        "p50_ms": round(pct(50) * 1000, 3),
        "p90_ms": round(pct(90) * 1000, 3),
        "p99_ms": round(pct(99) * 1000, 3),
        "max_ms": round(s[-1] * 1000, 3),
        "mean_ms": round(statistics.fmean(s) * 1000, 3),
    }


async def timed(client, name, args_of, iterations, warmup):
    for i in range(warmup):
        r = await client.call_tool(name, args_of(i))
        assert not r.is_error, f"{name}: {r.content}"
    samples = []
    for i in range(iterations):
        args = args_of(i)
        t0 = time.perf_counter()
        r = await client.call_tool(name, args)
        samples.append(time.perf_counter() - t0)
        assert not r.is_error, f"{name}: {r.content}"
    return stats(samples), r.structured_content


def params(server):
    return StdioServerParameters(command=server["command"], args=server["args"], env=server["env"])


def findings(report):
    return sorted((f["rule_id"], tuple(f["component_ids"])) for f in report["errors"] + report["warnings"])


async def main():
    spec = json.load(open(sys.argv[1]))
    n, w = spec["iterations"], spec["warmup"]
    out = {"iterations": n}
    compute = next(c["id"] for c in spec["arch"]["components"] if c["service_type"] == "compute")

    async def design_tools(server):
        async with Client(params(server), mode=spec.get("mode", "legacy")) as c:
            r = await c.call_tool("create_session", {})
            sid = r.structured_content["id"]
            r = await c.call_tool("save_architecture", {"session_id": sid, **spec["arch"]})
            assert not r.is_error, r.content
            side = {}
            side["get_session"], _ = await timed(c, "get_session", lambda i: {"session_id": sid}, n, w)
            side["validate_architecture"], report = await timed(c, "validate_architecture", lambda i: {"session_id": sid}, n, w)
            side["list_available_services"], _ = await timed(c, "list_available_services", lambda i: {}, n, w)
            side["configure_component"], _ = await timed(
                c, "configure_component",
                lambda i: {"session_id": sid, "component_id": compute, "config": {"ocpus": i % 4 + 1}}, n, w)
            side["export_iac"], exported = await timed(c, "export_iac", lambda i: {"session_id": sid}, max(n // 5, 20), w)
            side["export_diagram"], diagram = await timed(c, "export_diagram", lambda i: {"session_id": sid}, n, w)
            side["export_summary"], _ = await timed(c, "export_summary", lambda i: {"session_id": sid}, n, w)
            out["diagram_svg_bytes"] = len(diagram["svg"])
            return c.protocol_version, sid, side, report, exported

    out["protocol_version"], sid, out["sidecar"], ours, exported = await design_tools(spec["sidecar"])
    out["exported_resources"] = len(exported["resources"])
    if "bucket" in spec:
        _, _, out["bucket"], in_bucket, _ = await design_tools(spec["bucket"])
        out["bucket_equivalent"] = findings(in_bucket) == findings(ours)

    async with Client(params(spec["baseline"]), mode="legacy") as c:
        base = {}
        base["get_session"], _ = await timed(c, "get_session", lambda i: {"session_id": sid}, n, w)
        base["validate_architecture"], theirs = await timed(c, "validate_architecture", lambda i: {"session_id": sid}, n, w)
        out["baseline"] = base

    out["components"] = len(spec["arch"]["components"])
    out["findings"] = len(findings(ours))
    out["equivalent"] = ours["valid"] == theirs["valid"] and findings(ours) == findings(theirs)
    print(json.dumps(out))


asyncio.run(main())
