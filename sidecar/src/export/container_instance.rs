//! HCL for `container_instance`: an `oci_container_instances_container_instance` running one
//! container in its subnet, in the first availability domain. Its `image` setting `app` is the
//! session's last built image (by digest); anything else is an image reference used as is.

use super::{Ctx, ExportError, Rendered, SharedData};
use crate::app::APP_IMAGE;
use crate::hcl::{Block, Expr};
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let subnet = ctx.require(c, "subnet")?;
    let public = ctx.cfg_bool(subnet, "public")?;
    r.data.insert(SharedData::AvailabilityDomains);
    let configured = ctx.cfg_str(c, "image")?;
    let image_ref = if configured == APP_IMAGE {
        ctx.options
            .app_image
            .ok_or_else(|| ExportError::NoAppImage {
                id: c.id.clone(),
                service_type: c.service_type.clone(),
            })?
            .to_string()
    } else {
        configured
    };
    let shape = r.var(
        format!("{label}_shape"),
        "string",
        format!("Shape of container instance {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "shape")?),
    );
    let ocpus = r.var(
        format!("{label}_ocpus"),
        "number",
        format!("OCPUs of container instance {}", c.display_name),
        ctx.cfg_num(c, "ocpus")?,
    );
    let memory = r.var(
        format!("{label}_memory_in_gbs"),
        "number",
        format!("Memory of container instance {}", c.display_name),
        ctx.cfg_num(c, "memory_in_gbs")?,
    );
    let image = r.var(
        format!("{label}_image_url"),
        "string",
        format!("Image container instance {} runs", c.display_name),
        Expr::str(image_ref),
    );
    r.resources.push(
        ctx.resource("oci_container_instances_container_instance", &label)
            .attr(
                "availability_domain",
                Expr::raw(
                    "data.oci_identity_availability_domains.ads.availability_domains[0].name",
                ),
            )
            .attr("display_name", Expr::str(&c.display_name))
            .attr("shape", shape)
            .attr("container_restart_policy", Expr::str("ALWAYS"))
            .block(
                Block::new("shape_config", &[])
                    .attr("ocpus", ocpus)
                    .attr("memory_in_gbs", memory),
            )
            .block(
                Block::new("containers", &[])
                    .attr("display_name", Expr::str(&c.display_name))
                    .attr("image_url", image),
            )
            .block(
                Block::new("vnics", &[])
                    .attr("subnet_id", ctx.attr(subnet, "id"))
                    .attr("is_public_ip_assigned", public),
            ),
    );
    r.output(
        format!("{label}_id"),
        format!("OCID of container instance {}", c.display_name),
        format!("oci_container_instances_container_instance.{label}.id"),
    );
    Ok(())
}
