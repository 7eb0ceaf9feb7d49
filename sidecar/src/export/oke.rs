//! HCL for `oke`: an `oci_containerengine_cluster` in its subnet's VCN and one node pool whose
//! nodes are placed in the same subnet.

use super::{Ctx, ExportError, Rendered, SharedData};
use crate::hcl::{Block, Expr};
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let (subnet, vcn) = ctx.vcn_via_subnet(c)?;
    let public = ctx.cfg_bool(subnet, "public")?;
    r.data.insert(SharedData::AvailabilityDomains);
    let version = r.var(
        format!("{label}_kubernetes_version"),
        "string",
        format!("Kubernetes version of cluster {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "kubernetes_version")?),
    );
    let shape = r.var(
        format!("{label}_node_shape"),
        "string",
        format!("Worker shape of cluster {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "node_shape")?),
    );
    let count = r.var(
        format!("{label}_node_count"),
        "number",
        format!("Worker count of cluster {}", c.display_name),
        ctx.cfg_num(c, "node_count")?,
    );
    let image = r.var(
        format!("{label}_node_image_id"),
        "string",
        format!("OCID of the worker image of cluster {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "node_image_id")?),
    );
    let subnet_id = ctx.attr(subnet, "id");
    r.resources.push(
        ctx.resource("oci_containerengine_cluster", &label)
            .attr("name", Expr::str(&c.display_name))
            .attr("vcn_id", ctx.attr(vcn, "id"))
            .attr("kubernetes_version", version.clone())
            .block(
                Block::new("endpoint_config", &[])
                    .attr("subnet_id", subnet_id.clone())
                    .attr("is_public_ip_enabled", public),
            )
            .block(
                Block::new("options", &[])
                    .attr("service_lb_subnet_ids", Expr::List(vec![subnet_id.clone()])),
            ),
    );
    let pool = format!("{label}_pool");
    r.resources.push(
        ctx.resource("oci_containerengine_node_pool", &pool)
            .attr("cluster_id", Expr::raw(format!("oci_containerengine_cluster.{label}.id")))
            .attr("name", Expr::str(format!("{}-pool", c.display_name)))
            .attr("kubernetes_version", version)
            .attr("node_shape", shape)
            .block(Block::new("node_shape_config", &[]).attr("ocpus", 1).attr("memory_in_gbs", 16))
            .block(
                Block::new("node_source_details", &[])
                    .attr("source_type", Expr::str("IMAGE"))
                    .attr("image_id", image),
            )
            .block(
                Block::new("node_config_details", &[]).attr("size", count).block(
                    Block::new("placement_configs", &[])
                        .attr("availability_domain", Expr::raw("data.oci_identity_availability_domains.ads.availability_domains[0].name"))
                        .attr("subnet_id", subnet_id),
                ),
            ),
    );
    r.output(
        format!("{label}_id"),
        format!("OCID of cluster {}", c.display_name),
        format!("oci_containerengine_cluster.{label}.id"),
    );
    Ok(())
}
