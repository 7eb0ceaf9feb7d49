//! HCL for `security_list`: an `oci_core_security_list` allowing all egress and TCP ingress on the
//! configured ports from the configured source.

use super::{Ctx, ExportError, Rendered};
use crate::hcl::{Block, Expr};
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let vcn = ctx.require(c, "vcn")?;
    let ports = ctx.cfg_ports(c, "ingress_tcp_ports")?;
    let source = r.var(
        format!("{label}_ingress_source"),
        "string",
        format!("CIDR allowed in by security list {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "ingress_source")?),
    );
    let mut b = ctx
        .resource("oci_core_security_list", &label)
        .attr("vcn_id", ctx.attr(vcn, "id"))
        .attr("display_name", Expr::str(&c.display_name))
        .block(
            Block::new("egress_security_rules", &[])
                .attr("destination", Expr::str("0.0.0.0/0"))
                .attr("protocol", Expr::str("all")),
        );
    for port in ports {
        b = b.block(
            Block::new("ingress_security_rules", &[])
                .attr("source", source.clone())
                .attr("protocol", Expr::str("6"))
                .block(
                    Block::new("tcp_options", &[])
                        .attr("min", i64::from(port))
                        .attr("max", i64::from(port)),
                ),
        );
    }
    r.resources.push(b);
    r.output(
        format!("{label}_id"),
        format!("OCID of security list {}", c.display_name),
        format!("oci_core_security_list.{label}.id"),
    );
    Ok(())
}
