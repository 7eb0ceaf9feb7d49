//! HCL for `apigateway`: an `oci_apigateway_gateway` in its subnet.

use super::{Ctx, ExportError, Rendered};
use crate::hcl::Expr;
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let subnet = ctx.require(c, "subnet")?;
    let endpoint = r.var(
        format!("{label}_endpoint_type"),
        "string",
        format!(
            "PUBLIC or PRIVATE endpoint of API gateway {}",
            c.display_name
        ),
        Expr::str(ctx.cfg_str(c, "endpoint_type")?),
    );
    r.resources.push(
        ctx.resource("oci_apigateway_gateway", &label)
            .attr("display_name", Expr::str(&c.display_name))
            .attr("endpoint_type", endpoint)
            .attr("subnet_id", ctx.attr(subnet, "id")),
    );
    r.output(
        format!("{label}_hostname"),
        format!("Hostname of API gateway {}", c.display_name),
        format!("oci_apigateway_gateway.{label}.hostname"),
    );
    Ok(())
}
