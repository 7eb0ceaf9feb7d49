//! HCL for `vcn`: an `oci_core_vcn` with its CIDR as a variable.

use super::{Ctx, ExportError, Rendered};
use crate::hcl::Expr;
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let cidr = r.var(
        format!("{label}_cidr"),
        "string",
        format!("IPv4 CIDR of VCN {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "cidr")?),
    );
    r.resources.push(
        ctx.resource("oci_core_vcn", &label)
            .attr("display_name", Expr::str(&c.display_name))
            .attr("cidr_blocks", Expr::List(vec![cidr]))
            .attr("dns_label", Expr::str(ctx.dns_label(c))),
    );
    r.output(
        format!("{label}_id"),
        format!("OCID of VCN {}", c.display_name),
        format!("oci_core_vcn.{label}.id"),
    );
    Ok(())
}
