//! HCL for `compute`: an `oci_core_instance` with a flexible shape in its subnet, in the first
//! availability domain of the tenancy.

use super::{Ctx, ExportError, Rendered, SharedData};
use crate::hcl::{Block, Expr};
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let subnet = ctx.require(c, "subnet")?;
    let public = ctx.cfg_bool(subnet, "public")?;
    r.data.insert(SharedData::AvailabilityDomains);
    let shape = r.var(
        format!("{label}_shape"),
        "string",
        format!("Shape of instance {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "shape")?),
    );
    let ocpus = r.var(
        format!("{label}_ocpus"),
        "number",
        format!("OCPUs of instance {}", c.display_name),
        ctx.cfg_num(c, "ocpus")?,
    );
    let memory = r.var(
        format!("{label}_memory_in_gbs"),
        "number",
        format!("Memory of instance {}", c.display_name),
        ctx.cfg_num(c, "memory_in_gbs")?,
    );
    let image = r.var(
        format!("{label}_image_id"),
        "string",
        format!("OCID of the boot image of instance {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "image_id")?),
    );
    r.resources.push(
        ctx.resource("oci_core_instance", &label)
            .attr(
                "availability_domain",
                Expr::raw(
                    "data.oci_identity_availability_domains.ads.availability_domains[0].name",
                ),
            )
            .attr("display_name", Expr::str(&c.display_name))
            .attr("shape", shape)
            .block(
                Block::new("shape_config", &[])
                    .attr("ocpus", ocpus)
                    .attr("memory_in_gbs", memory),
            )
            .block(
                Block::new("create_vnic_details", &[])
                    .attr("subnet_id", ctx.attr(subnet, "id"))
                    .attr("assign_public_ip", Expr::str(public.to_string())),
            )
            .block(
                Block::new("source_details", &[])
                    .attr("source_type", Expr::str("image"))
                    .attr("source_id", image),
            ),
    );
    r.output(
        format!("{label}_id"),
        format!("OCID of instance {}", c.display_name),
        format!("oci_core_instance.{label}.id"),
    );
    r.output(
        format!("{label}_private_ip"),
        format!("Private IP of instance {}", c.display_name),
        format!("oci_core_instance.{label}.private_ip"),
    );
    Ok(())
}
