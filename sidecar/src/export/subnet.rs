//! HCL for `subnet`: an `oci_core_subnet` in its VCN, using the route table and security lists
//! it is connected to.

use super::{Ctx, ExportError, Rendered};
use crate::hcl::Expr;
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let vcn = ctx.require(c, "vcn")?;
    let public = ctx.cfg_bool(c, "public")?;
    let cidr = r.var(
        format!("{label}_cidr"),
        "string",
        format!("IPv4 CIDR of subnet {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "cidr")?),
    );
    let mut b = ctx
        .resource("oci_core_subnet", &label)
        .attr("vcn_id", ctx.attr(vcn, "id"))
        .attr("display_name", Expr::str(&c.display_name))
        .attr("cidr_block", cidr)
        .attr("dns_label", Expr::str(ctx.dns_label(c)))
        .attr("prohibit_public_ip_on_vnic", !public);
    if let Some(rt) = ctx.connected(c, "route_table").first() {
        b = b.attr("route_table_id", ctx.attr(rt, "id"));
    }
    let lists = ctx.connected(c, "security_list");
    if !lists.is_empty() {
        b = b.attr(
            "security_list_ids",
            Expr::List(lists.iter().map(|s| ctx.attr(s, "id")).collect()),
        );
    }
    r.resources.push(b);
    r.output(
        format!("{label}_id"),
        format!("OCID of subnet {}", c.display_name),
        format!("oci_core_subnet.{label}.id"),
    );
    Ok(())
}
