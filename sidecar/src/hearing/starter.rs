//! The starting design a hearing suggests: a VCN with a private application subnet (and a public
//! one when the system has an internet-facing entry point), the gateways and route tables those
//! subnets need, and the service types the answers asked for, placed and connected so the
//! shipped rules find no error. It is a start for the model and the user to refine, not a
//! finished design.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::model::{Architecture, Component, Connection};

/// Types that serve traffic from the entry subnet.
const ENTRY: &[&str] = &["loadbalancer", "apigateway"];
/// Types that run the application in the private subnet.
const APP: &[&str] = &["compute", "oke", "functions"];
/// Regional services the application reaches.
const REGIONAL: &[&str] = &["objectstorage", "nosql", "streaming"];

struct Builder<'a> {
    arch: Architecture,
    config: &'a BTreeMap<String, BTreeMap<String, Value>>,
}

impl Builder<'_> {
    fn add(&mut self, id: &str, service_type: &str, name: &str, extra: Value) -> String {
        let mut config: BTreeMap<String, Value> =
            self.config.get(service_type).cloned().unwrap_or_default();
        if let Value::Object(o) = extra {
            config.extend(o);
        }
        self.arch.components.push(Component {
            id: id.to_string(),
            service_type: service_type.to_string(),
            display_name: name.to_string(),
            config,
        });
        id.to_string()
    }

    fn link(&mut self, source: &str, target: &str, kind: &str, description: &str) {
        self.arch.connections.push(Connection {
            source_id: source.to_string(),
            target_id: target.to_string(),
            connection_type: kind.to_string(),
            description: description.to_string(),
        });
    }
}

/// The suggested architecture for the implied service `types` (in the order the answers named
/// them), `settings` (`instances`, `public_entry`) and per-type config defaults.
pub fn suggest(
    types: &[String],
    settings: &BTreeMap<String, Value>,
    config: &BTreeMap<String, BTreeMap<String, Value>>,
) -> Architecture {
    let has = |t: &str| types.iter().any(|x| x == t);
    let instances = settings
        .get("instances")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 8);
    let public_entry = settings
        .get("public_entry")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut b = Builder {
        arch: Architecture::default(),
        config,
    };
    let needs_network = types
        .iter()
        .any(|t| ENTRY.contains(&t.as_str()) || APP.contains(&t.as_str()) || t == "adb");
    if !needs_network {
        for t in types.iter().filter(|t| REGIONAL.contains(&t.as_str())) {
            add_regional(&mut b, t);
        }
        return b.arch;
    }

    let vcn = b.add("vcn", "vcn", "main-vcn", json!({}));
    let private = b.add(
        "app-subnet",
        "subnet",
        "app",
        json!({"cidr": "10.0.2.0/24", "public": false}),
    );
    b.link(&private, &vcn, "placement", "");
    let nat = b.add("nat", "nat_gateway", "nat", json!({}));
    b.link(&nat, &vcn, "placement", "");
    let rt_private = b.add("rt-app", "route_table", "rt-app", json!({}));
    b.link(&rt_private, &vcn, "placement", "");
    b.link(&rt_private, &nat, "route", "outbound internet");
    b.link(&private, &rt_private, "route", "");
    if has("adb") || REGIONAL.iter().any(|t| has(t)) {
        let sgw = b.add("sgw", "service_gateway", "sgw", json!({}));
        b.link(&sgw, &vcn, "placement", "");
        b.link(&rt_private, &sgw, "route", "Oracle services");
    }
    let sl_app = b.add(
        "app-rules",
        "security_list",
        "app-rules",
        json!({"ingress_tcp_ports": [22, 80, 443, 8080], "ingress_source": "10.0.0.0/16"}),
    );
    b.link(&sl_app, &vcn, "placement", "");
    b.link(&private, &sl_app, "security", "");

    // The entry subnet: public with an internet gateway when the system faces the internet.
    let entry_types: Vec<&str> = ENTRY.iter().copied().filter(|t| has(t)).collect();
    let entry_subnet = if public_entry && !entry_types.is_empty() {
        let public = b.add(
            "public-subnet",
            "subnet",
            "public",
            json!({"cidr": "10.0.1.0/24", "public": true}),
        );
        b.link(&public, &vcn, "placement", "");
        let igw = b.add("igw", "internet_gateway", "igw", json!({}));
        b.link(&igw, &vcn, "placement", "");
        let rt = b.add("rt-public", "route_table", "rt-public", json!({}));
        b.link(&rt, &vcn, "placement", "");
        b.link(&rt, &igw, "route", "internet");
        b.link(&public, &rt, "route", "");
        let sl = b.add(
            "web-rules",
            "security_list",
            "web-rules",
            json!({"ingress_tcp_ports": [80, 443], "ingress_source": "0.0.0.0/0"}),
        );
        b.link(&sl, &vcn, "placement", "");
        b.link(&public, &sl, "security", "");
        public
    } else {
        private.clone()
    };

    // The application tier.
    let mut app: Vec<String> = Vec::new();
    if has("compute") {
        for i in 1..=instances {
            let (id, name) = if instances == 1 {
                ("app".to_string(), "app-server".to_string())
            } else {
                (format!("app-{i}"), format!("app-server-{i}"))
            };
            let c = b.add(&id, "compute", &name, json!({}));
            b.link(&c, &private, "placement", "");
            app.push(c);
        }
    }
    if has("oke") {
        let c = b.add("cluster", "oke", "cluster", json!({}));
        b.link(&c, &private, "placement", "");
        app.push(c);
    }
    if has("functions") {
        let c = b.add("functions", "functions", "functions", json!({}));
        b.link(&c, &private, "placement", "");
        app.push(c);
    }
    if has("loadbalancer") {
        let lb = b.add("lb", "loadbalancer", "front-lb", json!({}));
        b.link(&lb, &entry_subnet, "placement", "");
        for c in app.clone() {
            if c.starts_with("app") {
                b.link(&lb, &c, "network", "HTTP");
            }
        }
    }
    if has("apigateway") {
        let api = b.add("api", "apigateway", "api", json!({}));
        b.link(&api, &entry_subnet, "placement", "");
        for c in app.iter().filter(|c| c.as_str() == "functions") {
            b.link(&api, c, "network", "HTTPS");
        }
    }
    // Data: the database in the private subnet, regional services reached from the app tier.
    if has("adb") {
        let db = b.add("db", "adb", "database", json!({}));
        b.link(&db, &private, "placement", "private endpoint");
        for c in &app {
            b.link(c, &db, "data", "SQL");
        }
    }
    for t in types.iter().filter(|t| REGIONAL.contains(&t.as_str())) {
        let id = add_regional(&mut b, t);
        for c in &app {
            b.link(c, &id, "data", "");
        }
    }
    b.arch
}

fn add_regional(b: &mut Builder<'_>, t: &str) -> String {
    let (id, name) = match t {
        "objectstorage" => ("bucket", "bucket"),
        "nosql" => ("table", "table"),
        _ => ("events", "events"),
    };
    b.add(id, t, name, json!({}))
}
