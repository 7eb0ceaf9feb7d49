//! HCL for `functions`: an `oci_functions_application` in its subnet.

use super::{Ctx, ExportError, Rendered};
use crate::hcl::Expr;
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let subnet = ctx.require(c, "subnet")?;
    let shape = r.var(
        format!("{label}_shape"),
        "string",
        format!(
            "Processor shape of functions application {}",
            c.display_name
        ),
        Expr::str(ctx.cfg_str(c, "shape")?),
    );
    r.resources.push(
        ctx.resource("oci_functions_application", &label)
            .attr("display_name", Expr::str(&c.display_name))
            .attr("subnet_ids", Expr::List(vec![ctx.attr(subnet, "id")]))
            .attr("shape", shape),
    );
    r.output(
        format!("{label}_id"),
        format!("OCID of functions application {}", c.display_name),
        format!("oci_functions_application.{label}.id"),
    );
    Ok(())
}
