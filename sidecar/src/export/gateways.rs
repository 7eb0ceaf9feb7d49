//! HCL for `internet_gateway`, `nat_gateway` and `service_gateway`: one gateway in its VCN. The
//! service gateway reaches all Oracle services of the region through the `oci_core_services` data
//! source.

use super::{Ctx, ExportError, Rendered, SharedData};
use crate::hcl::{Block, Expr};
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let vcn = ctx.require(c, "vcn")?;
    let kind = super::primary_resource(&c.service_type).unwrap_or("oci_core_internet_gateway");
    let mut b = ctx
        .resource(kind, &label)
        .attr("vcn_id", ctx.attr(vcn, "id"))
        .attr("display_name", Expr::str(&c.display_name));
    match c.service_type.as_str() {
        "internet_gateway" => b = b.attr("enabled", true),
        "service_gateway" => {
            r.data.insert(SharedData::CoreServices);
            b = b.block(Block::new("services", &[]).attr(
                "service_id",
                Expr::raw("data.oci_core_services.all.services[0].id"),
            ));
        }
        _ => {}
    }
    r.resources.push(b);
    r.output(
        format!("{label}_id"),
        format!("OCID of gateway {}", c.display_name),
        format!("{kind}.{label}.id"),
    );
    Ok(())
}
