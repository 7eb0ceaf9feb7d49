//! HCL for `route_table`: an `oci_core_route_table` with one rule per connected gateway (internet
//! and NAT gateways take the default route, the service gateway the Oracle services CIDR).

use super::{Ctx, ExportError, Rendered, SharedData};
use crate::hcl::{Block, Expr};
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let vcn = ctx.require(c, "vcn")?;
    let mut b = ctx
        .resource("oci_core_route_table", &label)
        .attr("vcn_id", ctx.attr(vcn, "id"))
        .attr("display_name", Expr::str(&c.display_name));
    for gw in ctx.arch.neighbours(&c.id) {
        let rule = match gw.service_type.as_str() {
            "internet_gateway" | "nat_gateway" => Block::new("route_rules", &[])
                .attr("network_entity_id", ctx.attr(gw, "id"))
                .attr("destination", Expr::str("0.0.0.0/0"))
                .attr("destination_type", Expr::str("CIDR_BLOCK")),
            "service_gateway" => {
                r.data.insert(SharedData::CoreServices);
                Block::new("route_rules", &[])
                    .attr("network_entity_id", ctx.attr(gw, "id"))
                    .attr(
                        "destination",
                        Expr::raw("data.oci_core_services.all.services[0].cidr_block"),
                    )
                    .attr("destination_type", Expr::str("SERVICE_CIDR_BLOCK"))
            }
            _ => continue,
        };
        b = b.block(rule);
    }
    r.resources.push(b);
    r.output(
        format!("{label}_id"),
        format!("OCID of route table {}", c.display_name),
        format!("oci_core_route_table.{label}.id"),
    );
    Ok(())
}
