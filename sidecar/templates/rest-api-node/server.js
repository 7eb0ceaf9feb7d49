// A small JSON REST API: GET /health, GET /items, POST /items, GET /items/:id.
// Items live in memory (replace the store with a database for real data). Listens on $PORT
// (default 8000) and stops cleanly on SIGTERM, as a container runtime asks it to.
"use strict";
const http = require("node:http");

const items = new Map();
const MAX_BODY = 64 * 1024;

function reply(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") return reply(res, 200, { status: "ok" });
  if (req.method === "GET" && req.url === "/items") return reply(res, 200, { items: [...items.values()] });
  if (req.method === "GET" && req.url.startsWith("/items/")) {
    const item = items.get(req.url.slice("/items/".length));
    return item ? reply(res, 200, item) : reply(res, 404, { error: "no such item" });
  }
  if (req.method === "POST" && req.url === "/items") {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
      if (body.length > MAX_BODY) req.destroy();
    });
    req.on("end", () => {
      let name;
      try {
        name = String(JSON.parse(body || "{}").name ?? "");
      } catch {
        name = "";
      }
      if (!name) return reply(res, 400, { error: 'send JSON like {"name": "..."}' });
      const item = { id: String(items.size + 1), name };
      items.set(item.id, item);
      return reply(res, 201, item);
    });
    return;
  }
  return reply(res, 404, { error: "not found" });
});

server.listen(Number(process.env.PORT || 8000), "0.0.0.0");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
